"""Turning stored rows into response models, masking personal data unless the caller may see it."""

from datetime import UTC, datetime
from typing import Any

from cityloop.common.contract.models import TicketStatus, Urgency
from cityloop.intake.masking import mask_address, mask_email, mask_id_number, mask_name, mask_phone
from cityloop.intake.models import Channel, CitizenOut, Location, Mode, TicketOut

#: The personal fields a full read reveals (what the access log records).
PERSONAL_FIELDS = ("name", "phone", "id_number", "address", "email")


def citizen_out(row: Any, *, full: bool) -> CitizenOut:
    values = {field: row[f"citizen_{field}"] for field in PERSONAL_FIELDS}
    if not full:
        values = {
            "name": mask_name(values["name"]),
            "phone": mask_phone(values["phone"]),
            "id_number": mask_id_number(values["id_number"]),
            "address": mask_address(values["address"]),
            "email": mask_email(values["email"]),
        }
    return CitizenOut(
        **values,
        is_company=bool(row["citizen_is_company"]),
        company=row["citizen_company"],
        masked=not full,
    )


def revealed_fields(row: Any) -> list[str]:
    """The personal fields a full read of ``row`` actually shows (empty ones reveal nothing)."""
    return [field for field in PERSONAL_FIELDS if row[f"citizen_{field}"]]


#: Statuses in which a passed resolve-by deadline no longer makes a ticket overdue.
_DONE = frozenset({"resolved", "closed", "handed_over"})


def is_overdue(*, flagged: bool, resolve_by: datetime | None, status: str, now: datetime) -> bool:
    """Flagged by sla (breached), or past its resolve-by deadline and still not resolved."""
    return flagged or (resolve_by is not None and resolve_by < now and status not in _DONE)


def ticket_out(row: Any, *, full: bool) -> TicketOut:
    return TicketOut(
        id=row["id"],
        channel=Channel(row["channel"]),
        status=TicketStatus(row["status"]),
        category=row["category"],
        description=row["description"],
        location=Location.model_construct(**row["location"]),
        urgency=Urgency(row["urgency"]),
        attachments=list(row["attachments"]),
        attributes=dict(row["attributes"]),
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
        direct_answer=row["direct_answer"],
        operator=row["operator"],
        created_by=row["created_by"],
        citizen=citizen_out(row, full=full),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        closed_at=row["closed_at"],
    )
