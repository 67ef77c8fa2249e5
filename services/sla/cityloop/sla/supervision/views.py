"""HTTP views under ``/api/v1/supervision`` (the gateway forwards them here): a supervising unit's desk
(its open 督办 items, filterable, keyset-paged), its actions, and 通报 statistics per department."""

from datetime import UTC, date, datetime
from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Query

from cityloop.common.calendar import CITY_TZ
from cityloop.common.deps import Db, Tx
from cityloop.common.errors import Forbidden
from cityloop.common.identity import Identity, Role, require_roles
from cityloop.common.paging import Cursor, Limit, Page
from cityloop.sla.supervision import flows, rules, store
from cityloop.sla.supervision.models import (
    DeadlineBody,
    NoteBody,
    NoticeItem,
    NoticeStats,
    SupervisionView,
    UrgeBody,
)

Reader = Annotated[
    Identity, require_roles(Role.DEPARTMENT, Role.DISPATCHER, Role.COMMAND_CENTRE, Role.AUDITOR, Role.ADMIN)
]
Actor = Annotated[Identity, require_roles(Role.DEPARTMENT, Role.ADMIN)]


def supervision_view(row: asyncpg.Record) -> SupervisionView:
    return SupervisionView(
        id=row["clock_id"],
        ticket_id=row["ticket_id"],
        dept_code=row["dept_code"],
        assignment_id=row["assignment_id"],
        category=row["category"],
        kind=row["kind"],
        due_at=row["due_at"],
        desk=row["desk"],
        level=row["level"],
        desks=list(row["desks"]),
        status=row["status"],
        opened_at=row["opened_at"],
        escalated_from=row["escalated_from"],
        urges=row["urges"],
        last_note=row["last_note"],
        supervised_deadline=row["supervised_deadline"],
        closed_at=row["closed_at"],
        closed_by=row["closed_by"],
    )


def supervision_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/supervision", tags=["supervision"])

    @router.get("", operation_id="list_supervisions")
    async def list_supervisions(
        *,
        identity: Reader,
        conn: Db,
        desk: Annotated[
            str | None, Query(max_length=64, description="the supervising unit (others than a department)")
        ] = None,
        status: Annotated[Literal["open", "closed"] | None, Query()] = "open",
        dept_code: Annotated[str | None, Query(max_length=64, description="the late department")] = None,
        kind: Annotated[Literal["accept", "on_site", "resolve", "rehandle"] | None, Query()] = None,
        ticket_id: Annotated[str | None, Query(max_length=64)] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[SupervisionView]:
        """督办 items on a desk, oldest first. A department sees its own desk only."""
        if identity.role is Role.DEPARTMENT:
            if not identity.dept_code:
                raise Forbidden("a department identity needs a dept_code")
            if desk is not None and desk != identity.dept_code:
                raise Forbidden("a department reads its own desk only", "desk")
            desk = identity.dept_code
        rows = await store.list_supervisions(
            conn,
            desk=desk,
            status=status,
            dept_code=dept_code,
            kind=kind,
            ticket_id=ticket_id,
            limit=limit + 1,
            cursor=cursor,
        )
        return store.SUPERVISION_ORDER.page(rows, limit, supervision_view)

    @router.get("/notices", operation_id="supervision_notices")
    async def supervision_notices(
        *,
        identity: Reader,
        conn: Db,
        period: Annotated[Literal["day", "week", "month"], Query()] = "month",
        day: Annotated[date | None, Query(alias="date", description="a day in the period; today by default")] = None,
        dept_code: Annotated[str | None, Query(max_length=64)] = None,
    ) -> NoticeStats:
        """通报: how often each department's late tasks reached the notice step in the period."""
        when = day or datetime.now(UTC).astimezone(CITY_TZ).date()
        first, last = rules.period_bounds(period, when)
        rows = await store.notice_counts(conn, first_day=first, last_day=last, dept_code=dept_code, tz=str(CITY_TZ))
        return NoticeStats(
            period=period,
            date=when,
            first_day=first,
            last_day=last,
            items=[NoticeItem(**dict(r)) for r in rows],
        )

    @router.get("/{supervision_id}", operation_id="read_supervision")
    async def read_supervision(supervision_id: int, identity: Reader, conn: Db) -> SupervisionView:
        return supervision_view(await flows.read(conn, supervision_id, identity))

    @router.post("/{supervision_id}/urge", operation_id="urge_supervision")
    async def urge_supervision(supervision_id: int, body: UrgeBody, identity: Actor, conn: Tx) -> SupervisionView:
        """催办 with a note: the late department receives it as cityloop.task.updated (change urged)."""
        return supervision_view(await flows.urge(conn, supervision_id, identity, note=body.note))

    @router.post("/{supervision_id}/deadline", operation_id="set_supervised_deadline")
    async def set_supervised_deadline(
        supervision_id: int, body: DeadlineBody, identity: Actor, conn: Tx
    ) -> SupervisionView:
        """限期: the late deadline moves to this one (sla's clock and ladder); the department is told."""
        row = await flows.set_deadline(
            conn, supervision_id, identity, deadline=body.deadline, note=body.note, now=datetime.now(UTC)
        )
        return supervision_view(row)

    @router.post("/{supervision_id}/escalate", operation_id="escalate_supervision")
    async def escalate_supervision(supervision_id: int, body: NoteBody, identity: Actor, conn: Tx) -> SupervisionView:
        """Up to the next desk (city ops), which receives cityloop.task.supervised on its own topic."""
        row = await flows.escalate(conn, supervision_id, identity, note=body.note, now=datetime.now(UTC))
        return supervision_view(row)

    @router.post("/{supervision_id}/close", operation_id="close_supervision")
    async def close_supervision(supervision_id: int, body: NoteBody, identity: Actor, conn: Tx) -> SupervisionView:
        return supervision_view(await flows.close(conn, supervision_id, identity, note=body.note))

    return router
