"""Creating a ticket: row, citizen and events in one transaction (outbox), once per Idempotency-Key.

The trail that keeps its state afterwards is in trail/flows.py."""

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from cityloop.common import outbox
from cityloop.common.contract import types
from cityloop.common.contract.emitter import Emitter
from cityloop.common.contract.lifecycle import Closed, TicketCreated
from cityloop.common.contract.models import MaskedContact, TicketLocation, TicketStatus
from cityloop.common.db.pool import Conn, PgPool
from cityloop.common.errors import Conflict
from cityloop.common.personal.vault_keys import Keyring
from cityloop.common.topics import TICKET_LIFECYCLE
from cityloop.intake.metrics import TICKETS_CREATED
from cityloop.intake.models import TicketCreate
from cityloop.intake.tickets import store
from cityloop.intake.trail import store as trail
from cityloop.intake.vault.flows import seal_ticket
from cityloop.intake.vault.personal import Personal, keep_text

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


class _LostRace(Exception):
    """Another request with the same Idempotency-Key committed first."""


def request_hash(body: TicketCreate, extra: dict[str, Any] | None = None) -> str:
    canonical = orjson.dumps([body.model_dump(mode="json"), extra or {}], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


async def create_ticket(
    pool: PgPool,
    body: TicketCreate,
    *,
    keyring: Keyring,
    created_by: str,
    idempotency_key: str | None = None,
    attributes: dict[str, Any] | None = None,
    also: AlsoInTransaction | None = None,
) -> tuple[str, bool]:
    """Store the ticket, its citizen and its events atomically (outbox); returns (ticket id, newly created).

    With an Idempotency-Key, a repeat with the same body returns the first ticket, a different body raises
    IdempotencyConflict, and concurrent twins serialise on the key's primary key: one commits, the others
    see its row. Keys are scoped to the caller, so two clients cannot collide.
    """
    digest = request_hash(body, attributes)
    async with pool.acquire() as conn:
        if idempotency_key and (known := await _replay(conn, created_by, idempotency_key, digest)):
            return known, False
        try:
            async with conn.transaction():
                ticket_id = await store.next_ticket_id(conn)
                # The key row goes first (its foreign key is deferred to commit), so a twin blocks on it
                # before doing any work, and the loser's transaction holds nothing but a sequence number.
                if idempotency_key and not await store.claim_idempotency_key(
                    conn, created_by, idempotency_key, digest, ticket_id
                ):
                    raise _LostRace
                await _insert(
                    conn, ticket_id, body, keyring=keyring, created_by=created_by, attributes=attributes or {}
                )
                if also is not None:
                    await also(conn, ticket_id)
            TICKETS_CREATED.labels(body.channel.value).inc()
            return ticket_id, True
        except _LostRace:
            assert idempotency_key is not None
            known = await _replay(conn, created_by, idempotency_key, digest)
            if known is None:
                raise RuntimeError("idempotency key row vanished after a conflict") from None
            return known, False


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


async def _insert(
    conn: Conn, ticket_id: str, body: TicketCreate, *, keyring: Keyring, created_by: str, attributes: dict[str, Any]
) -> None:
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
    await store.insert_ticket(
        conn,
        {
            "id": ticket_id,
            "channel": body.channel.value,
            "category": body.category,
            "description": description,
            "location": location,
            "urgency": body.urgency.value,
            "status": (TicketStatus.CLOSED if answered else TicketStatus.RECEIVED).value,
            "operator": body.operator,
            "attachments": [str(url) for url in body.attachments],
            "attributes": attributes,
            "created_by": created_by,
            "direct_answer": answer,
            "created_at": now,
            "closed_at": now if answered else None,
            "status_notes": "直接答复 (answered on the spot)" if answered else None,
        },
    )
    await store.insert_citizen(conn, ticket_id, citizen.model_dump())
    contact = await seal_ticket(conn, keyring, ticket_id, personal)
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
    status = TicketStatus.CLOSED if answered else TicketStatus.RECEIVED
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
    for event in events:
        await trail.append_timeline(
            conn,
            ticket_id=ticket_id,
            event_id=event.id,
            type_=event.type,
            time=event.time,
            actor=str(event.data["actor"]),
            summary=str(event.data["summary"]),
            status=event.data.get("status"),
            detail=event.data["detail"],
        )
        await outbox.enqueue(conn, TICKET_LIFECYCLE.name, event)
