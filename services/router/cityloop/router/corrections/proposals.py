"""Catalogue correction proposals from the loop's own data: when leads of one department type keep
rejecting a category (退单) towards another type, or dispatchers keep moving it there, the catalogue is
probably wrong about who owns it. Such repeats become a pending ``category_owner`` correction, submitted
by ``router`` and reviewed by a person like any other (flows.review)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cityloop.common.db.pool import Conn
from cityloop.router.corrections import store
from cityloop.router.corrections.rules import CategoryOwner, validate
from cityloop.router.masterdata.model import Department, MasterData

SUBMITTER = "router"
Kind = Literal["rejection", "dispatcher"]


@dataclass(frozen=True)
class ProposalPolicy:
    window: timedelta = timedelta(days=30)
    #: Signals of one kind for one (category, from, to) within the window that make a proposal.
    rejections: int = 3
    corrections: int = 3


DEFAULT = ProposalPolicy()


def owner_of(dept: Department) -> str:
    return f"{dept.level}:{dept.type}"


def needs_proposal(kind: Kind, count: int, policy: ProposalPolicy = DEFAULT) -> bool:
    """Pure: whether ``count`` signals of ``kind`` are enough to propose a change."""
    return count >= (policy.rejections if kind == "rejection" else policy.corrections)


def reason_text(kind: Kind, category: str, from_owner: str, to_owner: str, tickets: list[str]) -> str:
    what = "rejected (退单) by" if kind == "rejection" else "moved by dispatchers away from"
    return (
        f"{len(tickets)} tickets of {category} {what} {from_owner} towards {to_owner} within "
        f"{DEFAULT.window.days} days: {', '.join(tickets[:20])}"
    )


async def signal(
    conn: Conn,
    master: MasterData,
    *,
    kind: Kind,
    ticket_id: str,
    category: str | None,
    from_dept: str | None,
    to_dept: str | None,
    at: datetime,
    policy: ProposalPolicy = DEFAULT,
) -> int | None:
    """Record one signal; returns the id of a correction proposed because of it, if any."""
    if not category or category not in master.categories or from_dept == to_dept:
        return None
    source, target = master.departments.get(from_dept or ""), master.departments.get(to_dept or "")
    if source is None or target is None or owner_of(source) == owner_of(target):
        return None  # the same type elsewhere: a location matter, not the catalogue's
    from_owner, to_owner = owner_of(source), owner_of(target)
    await store.insert_signal(
        conn, kind=kind, ticket_id=ticket_id, category=category, from_owner=from_owner, to_owner=to_owner, at=at
    )
    tickets = await store.signal_tickets(
        conn, kind=kind, category=category, from_owner=from_owner, to_owner=to_owner, since=at - policy.window
    )
    if not needs_proposal(kind, len(tickets), policy):
        return None
    if await store.pending_owner_proposal(conn, category=category, lead=to_owner):
        return None  # one proposal waits for review already
    change = CategoryOwner(kind="category_owner", category=category, lead=to_owner, assists=None)
    row = await store.insert_correction(
        conn,
        kind=change.kind,
        payload=validate(change, master),
        reason=reason_text(kind, category, from_owner, to_owner, tickets),
        submitted_by=SUBMITTER,
        submitter_dept=None,
    )
    return int(row["id"])
