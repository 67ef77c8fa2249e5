"""Reading scores: the day counters summed over a period, rated and ranked; the drill-down behind them."""

import base64
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

import asyncpg

from cityloop.common.db.pool import Conn
from cityloop.feedback.scores import store
from cityloop.feedback.scores.models import CountedTicket, ScoreItem
from cityloop.feedback.scores.rules import (
    BASICALLY_SATISFIED_WEIGHT,
    Level,
    Period,
    composite,
    rank,
    rates,
)

TICKETS_PATH = "/api/v1/scores/tickets"


@dataclass(frozen=True)
class Query:
    by: Level
    period: Period
    day: date
    mode: str
    first: date
    last: date

    def link(self, key: str) -> str:
        params = {"by": self.by.value, "key": key, "period": self.period.value, "date": self.day.isoformat()}
        return f"{TICKETS_PATH}?{urlencode({**params, 'mode': self.mode})}"


async def scores(conn: Conn, q: Query, visible: frozenset[str] | None) -> list[ScoreItem]:
    """Every item of the level, ranked among all of them, then cut to what the caller may see."""
    summed = await store.sum_days(conn, q.by, q.mode, q.first, q.last)
    rated = {key: rates(counts) for key, counts in summed}
    ranks = rank({key: composite(r) for key, r in rated.items()})
    items = []
    for key, c in summed:
        if visible is not None and key not in visible:
            continue
        r = rated[key]
        items.append(
            ScoreItem(
                key=key,
                response_rate=r.response,
                response_numerator=c.responded,
                response_denominator=c.assigned,
                resolution_rate=r.resolution,
                resolution_numerator=c.solved,
                resolution_denominator=c.callbacks,
                satisfaction_rate=r.satisfaction,
                satisfaction_numerator=r.satisfaction_numerator,
                satisfaction_denominator=c.callbacks,
                satisfied=c.satisfied,
                basically_satisfied=c.basically,
                unsatisfied=c.unsatisfied,
                pending_response=c.pending,
                unreachable_callbacks=c.unreachable,
                composite=composite(r),
                rank=ranks[key],
                tickets=q.link(key),
            )
        )
    items.sort(key=lambda i: (i.rank is None, i.rank or 0, i.key))
    return items


def _encode(fact: str, ref: str) -> str:
    return base64.urlsafe_b64encode(f"{fact}|{ref}".encode()).decode()


def decode_cursor(cursor: str | None) -> tuple[str, str]:
    """(fact, last ref) from an opaque cursor; raises ValueError when it is not one of ours."""
    if not cursor:
        return "task", ""
    fact, _, ref = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
    if fact not in {"task", "callback"}:
        raise ValueError("not a cursor of this list")
    return fact, ref


def _task(row: asyncpg.Record) -> CountedTicket:
    counts_in = ["response_denominator"] + (["response_numerator"] if row["state"] == "on_time" else [])
    return CountedTicket(
        ticket_id=row["ticket_id"],
        fact="task",
        ref=row["ref"],
        dept_code=row["dept_code"],
        day=row["day"],
        counts_in=counts_in,
        state=row["state"],
    )


def _callback(row: asyncpg.Record) -> CountedTicket:
    weight = {"satisfied": 1.0, "basically_satisfied": BASICALLY_SATISFIED_WEIGHT}.get(row["satisfaction"], 0.0)
    counts_in = ["resolution_denominator", "satisfaction_denominator"]
    if row["solved"]:
        counts_in.append("resolution_numerator")
    if weight > 0:
        counts_in.append("satisfaction_numerator")
    return CountedTicket(
        ticket_id=row["ticket_id"],
        fact="callback",
        ref=row["ref"],
        dept_code=row["dept_code"],
        day=row["day"],
        counts_in=counts_in,
        solved=row["solved"],
        satisfaction=row["satisfaction"],
        satisfaction_weight=weight,
    )


async def counted(
    conn: Conn, q: Query, key: str, *, cursor: str | None, limit: int
) -> tuple[list[CountedTicket], str | None]:
    """One page of the facts behind an item: its tasks (响应), then its callbacks (解决, 满意)."""
    fact, after = decode_cursor(cursor)
    out: list[CountedTicket] = []
    if fact == "task":
        rows = await store.counted_tasks(
            conn, q.by, key, mode=q.mode, first=q.first, last=q.last, after=after, limit=limit + 1
        )
        out += [_task(r) for r in rows[:limit]]
        if len(rows) > limit:
            return out, _encode("task", out[-1].ref)
        after = ""
    room = limit - len(out)
    callbacks_before = len(out)
    rows = await store.counted_callbacks(
        conn, q.by, key, mode=q.mode, first=q.first, last=q.last, after=after, limit=room + 1
    )
    out += [_callback(r) for r in rows[:room]]
    if len(rows) > room:
        # The next page resumes after the last callback given, or at the first one if none fitted.
        return out, _encode("callback", out[-1].ref if len(out) > callbacks_before else after)
    return out, None
