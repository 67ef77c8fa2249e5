"""Creating a ticket: row, citizen, vault, trail and events in one statement (outbox), once per Idempotency-Key.

The trail that keeps its state afterwards is in trail/flows.py."""

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from cityloop.common import outbox
from cityloop.common.contract import types
from cityloop.common.contract.emitter import Emitter
from cityloop.common.contract.lifecycle import Closed, TicketCreated
from cityloop.common.contract.models import MaskedContact, TicketLocation, TicketStatus
from cityloop.common.db.composed import Composed
from cityloop.common.db.pool import Conn, PgPool
from cityloop.common.errors import Conflict
from cityloop.common.personal.vault_keys import Keyring
from cityloop.common.topics import TICKET_LIFECYCLE
from cityloop.intake.access import store as access_store
from cityloop.intake.metrics import TICKETS_CREATED
from cityloop.intake.models import TicketCreate
from cityloop.intake.tickets import store
from cityloop.intake.tickets.numbers import numbers_for
from cityloop.intake.trail import store as trail
from cityloop.intake.trail.chain import Draft
from cityloop.intake.vault.flows import seal_ticket_into
from cityloop.intake.vault.personal import Personal, keep_text

Record = asyncpg.Record
EMIT = Emitter(source="/cityloop/intake", actor="intake")

#: Runs inside the creating transaction once the ticket row exists (e.g. Open311 stores its token).
AlsoInTransaction = Callable[[Conn, str], Awaitable[None]]


class IdempotencyConflict(Conflict):
    """The Idempotency-Key was used before with a different request body."""

    def __init__(self) -> None:
        super().__init__(
            "this Idempotency-Key was used with a different request body",
            "Idempotency-Key",
            error="idempotency_conflict",
            problem="reused with a different body",
        )


def request_hash(body: TicketCreate, extra: dict[str, Any] | None = None) -> str:
    canonical = orjson.dumps([body.model_dump(mode="json"), extra or {}], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True)
class Release:
    """Who gets the new ticket's personal data in full in the creating answer (the rules allow it: the
    view decides); the release is recorded in the access log by the creating statement itself."""

    subject: str
    role: str
    dept_code: str | None
    purpose: str


@dataclass(frozen=True)
class Created:
    ticket_id: str
    #: False for a replay of an earlier request with the same Idempotency-Key.
    new: bool
    #: A new ticket as store.get_ticket reads it (None for a replay).
    row: Record | None = None
    #: Its personal data, when a ``Release`` was asked for and there is something to release.
    personal: Personal | None = None


async def create_ticket(
    pool: PgPool,
    body: TicketCreate,
    *,
    keyring: Keyring,
    created_by: str,
    idempotency_key: str | None = None,
    attributes: dict[str, Any] | None = None,
    also: AlsoInTransaction | None = None,
    release: Release | None = None,
) -> Created:
    """Store the ticket, its citizen, its vault row, its first trail entries and its events atomically
    (outbox), in ONE statement (db/composed.py) unless ``also`` needs a transaction around it.

    With an Idempotency-Key, a repeat with the same body returns the first ticket, a different body raises
    IdempotencyConflict, and concurrent twins serialise on the key's primary key: one commits, the others
    see its row. Keys are scoped to the caller, so two clients cannot collide.
    """
    digest = request_hash(body, attributes)
    ticket_id = await numbers_for(pool).next_id(pool)
    q = Composed()
    gate = "true"
    if idempotency_key:
        store.claim_idempotency_key_into(
            q, "claim", principal=created_by, key=idempotency_key, request_hash=digest, ticket_id=ticket_id
        )
        # Nothing else is written unless the key was claimed: a twin's statement waits on the key's primary
        # key until the first one commits, then claims nothing and replays it.
        gate = "EXISTS (SELECT 1 FROM claim)"
    personal = _compose(
        q, ticket_id, body, keyring=keyring, created_by=created_by, attributes=attributes or {}, gate=gate
    )
    revealed = personal.revealed() if release is not None else []
    if release is not None and revealed:
        access_store.record_access_into(
            q,
            "released",
            subject=release.subject,
            role=release.role,
            dept_code=release.dept_code,
            ticket_id=ticket_id,
            fields=revealed,
            purpose=release.purpose,
            gate=gate,
        )
    final = f"SELECT t.*, {store.CREATED_CITIZEN_COLUMNS}, {outbox.NOTIFY_COLUMN} FROM ticket t, citizen c, vault v"
    async with pool.acquire() as conn:
        if also is None:
            rows = await q.fetch(conn, final)
        else:
            async with conn.transaction():
                rows = await q.fetch(conn, final)
                if rows:
                    await also(conn, ticket_id)
        if not rows:  # another request with the same Idempotency-Key committed first
            assert idempotency_key is not None
            known = await _replay(conn, created_by, idempotency_key, digest)
            if known is None:
                raise RuntimeError("idempotency key row vanished after a conflict") from None
            return Created(known, False)
    TICKETS_CREATED.labels(body.channel.value).inc()
    return Created(ticket_id, True, rows[0], personal if revealed else None)


async def _replay(conn: Conn, principal: str, key: str, digest: str) -> str | None:
    row = await store.find_idempotency_key(conn, principal, key)
    if row is None:
        return None
    if row["request_hash"] != digest:
        raise IdempotencyConflict()
    return str(row["ticket_id"])


def _redacted_attributes(personal: Personal, attributes: dict[str, Any]) -> dict[str, Any]:
    """Open311 text attributes are free text too: redacted, the full text kept in the vault."""
    return {
        code: keep_text(personal, f"attribute.{code}", value) if isinstance(value, str) else value
        for code, value in attributes.items()
    }


def _compose(
    q: Composed,
    ticket_id: str,
    body: TicketCreate,
    *,
    keyring: Keyring,
    created_by: str,
    attributes: dict[str, Any],
    gate: str,
) -> Personal:
    """Add the new ticket's writes to ``q`` as the CTEs ticket, citizen, vault, trail and events; returns
    its personal data (full values: only for the vault and an allowed release)."""
    now = datetime.now(UTC)
    location = body.location.model_dump(mode="json")
    answered = body.direct_answer is not None
    actor = body.operator or created_by
    # Personal data goes to the vault; the ticket, its events and its trail get masked and redacted forms.
    citizen = body.citizen
    personal = Personal(
        name=citizen.name,
        phone=citizen.phone,
        id_number=citizen.id_number,
        address=citizen.address,
        email=citizen.email,
    )
    description = keep_text(personal, "description", body.description) or ""
    answer = keep_text(personal, "direct_answer", body.direct_answer.answer) if body.direct_answer else None
    attributes = _redacted_attributes(personal, attributes)
    status = TicketStatus.CLOSED if answered else TicketStatus.RECEIVED
    store.insert_ticket_into(
        q,
        "ticket",
        {
            "id": ticket_id,
            "channel": body.channel.value,
            "category": body.category,
            "description": description,
            "location": location,
            "urgency": body.urgency.value,
            "status": status.value,
            "operator": body.operator,
            "attachments": [str(url) for url in body.attachments],
            "attributes": attributes,
            "created_by": created_by,
            "direct_answer": answer,
            "created_at": now,
            "closed_at": now if answered else None,
            "status_notes": "直接答复 (answered on the spot)" if answered else None,
        },
        gate=gate,
    )
    store.insert_citizen_into(q, "citizen", ticket_id, citizen.model_dump(), gate=gate)
    contact = seal_ticket_into(q, "vault", keyring, ticket_id, personal, gate=gate)
    masked = personal.masked()
    created = TicketCreated(
        channel=body.channel.value,
        category=body.category,
        description=description,
        location=TicketLocation(**location),
        urgency=body.urgency,
        citizen=MaskedContact(name=masked["name"], phone=masked["phone"], contact_ref=contact),
        created_at=now,
        attributes=attributes or None,
        attachments=[str(url) for url in body.attachments] or None,
        # Consumers (router) must not dispatch it: the created event already says the ticket is closed.
        direct_answer=True if answered else None,
    )
    events = [
        EMIT.lifecycle(
            types.TICKET_CREATED, ticket_id, status, f"received via {body.channel.value}", created, actor=actor
        )
    ]
    if answer is not None:
        events.append(
            EMIT.lifecycle(
                types.TICKET_CLOSED,
                ticket_id,
                TicketStatus.CLOSED,
                "直接答复: answered on the spot",
                Closed(direct_answer=answer),
                actor=actor,
            )
        )
    trail.append_new_chain_into(
        q,
        "trail",
        [
            Draft(
                ticket_id,
                event.id,
                event.type,
                event.time,
                str(event.data["actor"]),
                str(event.data["summary"]),
                event.data.get("status"),
                event.data["detail"],
            )
            for event in events
        ],
        gate=gate,
    )
    outbox.enqueue_into(q, "events", [(TICKET_LIFECYCLE.name, event) for event in events], gate=gate)
    return personal
