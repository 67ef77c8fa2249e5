"""Keeping the trail: each ``ticket.lifecycle`` event is appended to the ticket's timeline once, and
projected (projection.py) into intake's view of the ticket."""

from cityloop.common.contract import types
from cityloop.common.contract.models import TicketStatus
from cityloop.common.contract.parsing import parse_lifecycle
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.personal.vault_keys import Keyring
from cityloop.intake.tickets.creation import EMIT
from cityloop.intake.trail import store
from cityloop.intake.trail.chain import Draft
from cityloop.intake.trail.projection import project
from cityloop.intake.vault.flows import keep_sealed_texts


def wants(event: CloudEvent) -> bool:
    """Intake's own events are in the trail already: creation.py writes them in the creating statement
    (the only place intake emits on ``ticket.lifecycle``), so they cost no inbox row and no lock here."""
    return event.source != EMIT.source


async def record_lifecycle(conn: Conn, event: CloudEvent, keyring: Keyring) -> None:
    """Project one ``ticket.lifecycle`` event: append it to the trail and update intake's view of the ticket.
    The full text sealed on it (``data.sealed``) goes to the vault, never to the trail."""
    data = parse_lifecycle(event)
    locked = await store.lock_ticket(conn, data.ticket_id)
    if locked is None:
        return  # a ticket another deployment created; not ours to track
    current, head = locked
    draft = Draft(
        data.ticket_id,
        event.id,
        event.type,
        event.time,
        data.actor,
        data.summary,
        data.status.value if data.status else None,
        # The trail keeps the detail as it was sent, fields this version does not know included.
        event.data["detail"],
    )
    change = None if event.type == types.TICKET_CREATED else project(event.type, data, TicketStatus(current))
    # The entry and the ticket's row in one statement; the assignments after it, when the event moves any.
    appended = await store.append_timeline(conn, draft, head=head, change=change)
    if appended and data.sealed:
        await keep_sealed_texts(conn, keyring, data.ticket_id, event.id, data.sealed)
    if appended and change is not None:
        await store.apply_assignments(conn, data.ticket_id, change)
