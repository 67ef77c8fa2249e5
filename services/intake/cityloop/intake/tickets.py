"""Creating tickets and keeping their state and trail; plain functions over a connection."""

import hashlib
from datetime import UTC, datetime

import orjson

from cityloop.common import outbox
from cityloop.common.contract import types
from cityloop.common.contract.models import (
    LifecycleEvent,
    MaskedContact,
    TicketLocation,
    TicketSnapshot,
    TicketStatus,
)
from cityloop.common.db.pool import Conn, PgPool
from cityloop.common.envelope import CloudEvent, new_event
from cityloop.common.topics import TICKET_LIFECYCLE
from cityloop.intake import queries
from cityloop.intake.masking import mask_name, mask_phone
from cityloop.intake.models import TicketCreate

SOURCE = "/cityloop/intake"
TERMINAL = {TicketStatus.CLOSED, TicketStatus.HANDED_OVER}


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request body."""


def request_hash(body: TicketCreate) -> str:
    canonical = orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


class _LostRace(Exception):
    """Another request with the same Idempotency-Key committed first."""


async def create_ticket(pool: PgPool, body: TicketCreate, *, idempotency_key: str | None) -> tuple[str, bool]:
    """Store the ticket, its citizen and its ``created`` event atomically; (ticket id, newly created)."""
    digest = request_hash(body)
    async with pool.acquire() as conn:
        if idempotency_key and (known := await _replay(conn, idempotency_key, digest)):
            return known, False
        try:
            async with conn.transaction():
                ticket_id = await queries.next_ticket_id(conn)
                # The key row is inserted first: a concurrent twin blocks here until we commit.
                if idempotency_key and not await queries.claim_idempotency_key(
                    conn, idempotency_key, digest, ticket_id
                ):
                    raise _LostRace
                await _insert(conn, ticket_id, body)
            return ticket_id, True
        except _LostRace:
            assert idempotency_key is not None
            known = await _replay(conn, idempotency_key, digest)
            if known is None:
                raise RuntimeError("idempotency key row vanished after a conflict") from None
            return known, False


async def _replay(conn: Conn, key: str, digest: str) -> str | None:
    row = await queries.find_idempotency_key(conn, key)
    if row is None:
        return None
    if row["request_hash"] != digest:
        raise IdempotencyConflict(key)
    return str(row["ticket_id"])


async def _insert(conn: Conn, ticket_id: str, body: TicketCreate) -> None:
    now = datetime.now(UTC)
    location = body.location.model_dump(mode="json")
    await queries.insert_ticket(
        conn,
        {
            "id": ticket_id,
            "channel": body.channel.value,
            "category": body.category,
            "description": body.description,
            "location": location,
            "urgency": body.urgency.value,
            "status": TicketStatus.RECEIVED.value,
            "operator": body.operator,
        },
    )
    await queries.insert_citizen(conn, ticket_id, body.citizen.model_dump())
    snapshot = TicketSnapshot(
        channel=body.channel.value,
        category=body.category,
        description=body.description,
        location=TicketLocation(**location),
        urgency=body.urgency,
        citizen=MaskedContact(name=mask_name(body.citizen.name), phone=mask_phone(body.citizen.phone)),
        created_at=now,
    )
    event = new_event(
        types.TICKET_CREATED,
        source=SOURCE,
        subject=ticket_id,
        data=LifecycleEvent(
            ticket_id=ticket_id,
            status=TicketStatus.RECEIVED,
            actor=body.operator or body.channel.value,
            summary=f"received via {body.channel.value}",
            detail=snapshot.model_dump(mode="json"),
        ),
    )
    await record_lifecycle(conn, event)
    await outbox.enqueue(conn, TICKET_LIFECYCLE.name, event)


async def record_lifecycle(conn: Conn, event: CloudEvent) -> None:
    """Project one ``ticket.lifecycle`` event: append it to the trail and move the ticket's status."""
    data = LifecycleEvent.model_validate(event.data)
    if not await queries.ticket_exists(conn, data.ticket_id):
        return  # a ticket another deployment created; not ours to track
    appended = await queries.append_timeline(
        conn,
        ticket_id=data.ticket_id,
        event_id=event.id,
        type_=event.type,
        time=event.time,
        actor=data.actor,
        summary=data.summary,
        status=data.status.value if data.status else None,
        detail=data.detail,
    )
    if appended and data.status is not None and event.type != types.TICKET_CREATED:
        dept = data.detail.get("dept_code")
        await queries.update_status(
            conn, data.ticket_id, data.status.value, str(dept) if dept else None, data.status in TERMINAL
        )
