"""Turning stored rows into response models, masking personal data unless the caller may see it."""

from datetime import UTC, datetime
from typing import Any

from cityloop.common.contract.models import TicketStatus, Urgency
from cityloop.intake.models import Channel, CitizenOut, Location, Mode, TicketOut
from cityloop.intake.vault.personal import CITIZEN_FIELDS, Personal


def citizen_out(row: Any, personal: Personal | None) -> CitizenOut:
    """The masked citizen (from the vault row's masked forms), or the full one when ``personal`` is released."""
    masked = row["citizen_masked"] or {}
    values = personal.citizen() if personal is not None else {f: masked.get(f) for f in CITIZEN_FIELDS}
    return CitizenOut(
        **values,
        is_company=bool(row["citizen_is_company"]),
        company=row["citizen_company"],
        masked=personal is None,
        contact_ref=row["contact_ref"],
    )


#: Statuses in which a passed resolve-by deadline no longer makes a ticket overdue.
_DONE = frozenset({"resolved", "closed", "handed_over"})


def is_overdue(*, flagged: bool, resolve_by: datetime | None, status: str, now: datetime) -> bool:
    """Flagged by sla (breached), or past its resolve-by deadline and still not resolved."""
    return flagged or (resolve_by is not None and resolve_by < now and status not in _DONE)


def ticket_out(row: Any, personal: Personal | None = None) -> TicketOut:
    """The ticket as stored (redacted free text, masked citizen), or in full when ``personal`` is released."""
    texts = personal.texts if personal is not None else {}
    attributes = {code: texts.get(f"attribute.{code}", value) for code, value in dict(row["attributes"]).items()}
    return TicketOut(
        id=row["id"],
        channel=Channel(row["channel"]),
        status=TicketStatus(row["status"]),
        category=row["category"],
        description=texts.get("description", row["description"]),
        location=Location.model_construct(**row["location"]),
        urgency=Urgency(row["urgency"]),
        attachments=list(row["attachments"]),
        attributes=attributes,
        dept_code=row["dept_code"],
        agency=row["agency"],
        district=row["district"],
        street=row["street"],
        mode=Mode(row["mode"]),
        emergency_id=row["emergency_id"],
        resolve_by=row["resolve_by"],
        accept_by=row["accept_by"],
        on_site_by=row["on_site_by"],
        overdue=is_overdue(
            flagged=bool(row["overdue"]), resolve_by=row["resolve_by"], status=row["status"], now=datetime.now(UTC)
        ),
        status_notes=row["status_notes"],
        direct_answer=texts.get("direct_answer", row["direct_answer"]),
        operator=row["operator"],
        created_by=row["created_by"],
        citizen=citizen_out(row, personal),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        closed_at=row["closed_at"],
        released_texts=personal.event_texts() if personal is not None else None,
    )
