"""Following ``ticket.lifecycle`` for recurring problems: each request and each dissatisfied callback is a
signal at a place; when a place's signals make a recurring problem (rules.py) it is flagged, once, and kept
up to date until a supervisor turns it into a proactive ticket (views.py)."""

from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg

from cityloop.common.contract import types
from cityloop.common.contract.callbacks import CallbackRecorded
from cityloop.common.contract.lifecycle import Dispatched, Merged, TicketCreated
from cityloop.common.contract.models import GridChain
from cityloop.common.contract.parsing import parse_lifecycle
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.feedback.recurring import rules, store

HANDLED = frozenset({types.TICKET_CREATED, types.TICKET_DISPATCHED, types.TICKET_MERGED, types.CALLBACK_RECORDED})


def wants(event: CloudEvent) -> bool:
    return event.type in HANDLED


async def on_lifecycle(conn: Conn, event: CloudEvent) -> None:
    if event.type not in HANDLED:
        return
    data = parse_lifecycle(event)
    ticket_id, detail = data.ticket_id, data.detail
    if isinstance(detail, TicketCreated):
        where = detail.location
        await store.remember_location(conn, ticket_id, where.address, where.lat, where.lon)
    elif isinstance(detail, Dispatched | Merged) and detail.location is not None:
        # A duplicate (并单) is a repeated request too, counted at its own place, which its event carries: its
        # case's lead may sit on another partition and be dispatched after it (router applies partitions side
        # by side), so the lead's row may not be known yet.
        await _request(
            conn, event, ticket_id, detail.location.chain, category=detail.category, dept_code=detail.dept_code
        )
    elif isinstance(detail, Merged):
        # No place of its own (a restatement after a re-dispatch, whose signal key is known already, or an event
        # from before merged events carried one): the case's lead's place.
        lead = await store.get_ticket(conn, detail.merged_into)
        await _signal(conn, f"request:{ticket_id}", "request", ticket_id=ticket_id, where=lead, at=event.time)
    elif isinstance(detail, CallbackRecorded) and rules.is_dissatisfied(detail.solved, detail.satisfaction):
        key = f"dissatisfied:{detail.callback_id}"
        own = await store.get_ticket(conn, ticket_id)
        await _signal(conn, key, "dissatisfied", ticket_id=ticket_id, where=own, at=event.time)


async def _request(
    conn: Conn, event: CloudEvent, ticket_id: str, chain: GridChain, *, category: str | None, dept_code: str | None
) -> None:
    """A request at the ticket's own place (``chain``): kept with the ticket's row and counted, in one round trip."""
    placed = store.Placed(ticket_id, chain.district, chain.street, chain.grid, category, dept_code)
    place = rules.place_of(chain.grid, chain.street)
    if place is None or not category:
        await store.remember_place(conn, placed)  # no place to count a signal at
        return
    signals = await store.add_signal(
        conn,
        f"request:{ticket_id}",
        kind="request",
        ticket_id=ticket_id,
        place=place,
        category=category,
        at=event.time,
        since=rules.window_start(event.time, None),
        placed=placed,
    )
    await _judge(conn, signals, place, category, lambda: store.get_ticket(conn, ticket_id))


async def _signal(
    conn: Conn, key: str, kind: str, *, ticket_id: str, where: asyncpg.Record | None, at: datetime
) -> None:
    """Record one signal of ``ticket_id`` at the place ``where`` tells (its own row, or its case's lead's)."""
    if where is None or not where["category"]:
        return
    place = rules.place_of(where["grid"], where["street"])
    if place is None:
        return
    category = str(where["category"])
    # The window's start; the last proactive ticket at the place moves it later (store.add_signal).
    since = rules.window_start(at, None)
    signals = await store.add_signal(
        conn, key, kind=kind, ticket_id=ticket_id, place=place, category=category, at=at, since=since
    )

    async def known() -> asyncpg.Record | None:
        return where

    await _judge(conn, signals, place, category, known)


async def _judge(
    conn: Conn,
    signals: list[asyncpg.Record],
    place: rules.Place,
    category: str,
    where_of: Callable[[], Awaitable[asyncpg.Record | None]],
) -> None:
    """Flag (or bring up to date) the place's recurring problem when its ``signals`` make one; ``where_of``
    gives the placing ticket's row (district, street, department, address), read only then."""
    if not signals:
        return  # recorded before (a redelivery), or nothing in the window: no verdict to reach
    requests = sum(s["kind"] == "request" for s in signals)
    dissatisfied = sum(s["kind"] == "dissatisfied" for s in signals)
    reason = rules.verdict(requests, dissatisfied)
    if reason is None:
        return
    where = await where_of()
    assert where is not None  # the row the signal was placed by
    await store.upsert_open_problem(
        conn,
        {
            "place_level": place.level,
            "place": place.code,
            "category": category,
            "district": where["district"],
            "street": where["street"],
            "reason": reason,
            "requests": requests,
            "dissatisfied": dissatisfied,
            "tickets": sorted({s["ticket_id"] for s in signals}),
            "first_at": signals[0]["at"],
            "last_at": signals[-1]["at"],
            "dept_code": where["dept_code"],
            "address": where["address"],
            "lat": where["lat"],
            "lon": where["lon"],
        },
    )
