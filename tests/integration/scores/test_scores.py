"""三率 over a crafted month: expected rates worked out by hand below, exclusions and emergency kept apart,
the drill-down returning exactly the tickets counted, and who may read what."""

from datetime import UTC, datetime, timedelta

from cityloop.common.contract import types
from cityloop.common.contract.models import TicketStatus
from cityloop.common.identity import Role
from tests.integration.scores.conftest import Feedback

CALLBACK_UNREACHABLE = types.CALLBACK_UNREACHABLE
A, B = "sc-a", "sc-b"
PLACE = {A: ("xa", "xa-s1", "xa-s1-c1-g1"), B: ("xa", "xa-s2", "xa-s2-c1-g1")}


def cst(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A moment given in the city's time (UTC+8)."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


class Month:
    """Plays the other services for one ticket at a time."""

    def __init__(self, f: Feedback) -> None:
        self.f = f
        self.callbacks = 0
        self.assigned: dict[str, datetime] = {}

    async def dispatch(self, ticket: str, dept: str, at: datetime, mode: str = "peacetime") -> str:
        district, street, grid = PLACE[dept]
        assignment = f"A-{ticket}"
        self.assigned[ticket] = at
        await self.f.announce(
            ticket,
            types.TICKET_DISPATCHED,
            at,
            TicketStatus.DISPATCHED,
            dept_code=dept,
            assignment_id=assignment,
            role="lead",
            category="sanitation.garbage",
            urgency="normal",
            location={"chain": {"district": district, "street": street, "grid": grid}},
            mode={"kind": mode},
            dept_area={"level": "street", "district": district, "street": street},
        )
        await self.f.announce(
            ticket,
            types.SLA_DEADLINES_SET,
            at,
            deadlines={"accept": (at + timedelta(days=1)).isoformat(), "resolve": (at + timedelta(days=5)).isoformat()},
            dept_code=dept,
            assignment_id=assignment,
            mode=mode,
        )
        return assignment

    async def clock(self, ticket: str, dept: str, type_: str, at: datetime, late: bool = False) -> None:
        """sla's word on the accept clock: met (late or not), breached (催办), or cancelled."""
        detail: dict[str, object] = {"kind": "accept", "dept_code": dept, "assignment_id": f"A-{ticket}"}
        detail["due_at"] = self.assigned[ticket] + timedelta(days=1)
        if type_ == types.SLA_DEADLINE_MET:
            detail["late"] = late
        if type_ == types.SLA_BREACHED:
            detail |= {"step": "breach", "scheduled_at": detail["due_at"], "clock_id": len(self.assigned)}
        await self.f.announce(ticket, type_, at, **detail)

    async def callback(self, ticket: str, dept: str, at: datetime, solved: bool, satisfaction: str) -> int:
        self.callbacks += 1
        cb = self.callbacks
        await self.f.announce(
            ticket,
            types.CALLBACK_RECORDED,
            at,
            callback_id=cb,
            dept_code=dept,
            assignment_id=f"A-{ticket}",
            solved=solved,
            satisfaction=satisfaction,
        )
        return cb


async def craft_november(f: Feedback) -> None:
    m = Month(f)
    met, breached, cancelled = types.SLA_DEADLINE_MET, types.SLA_BREACHED, types.SLA_DEADLINE_CANCELLED
    # --- department A (street xa-s1), peacetime
    await m.dispatch("T01", A, cst(11, 3))
    await m.clock("T01", A, met, cst(11, 3, 15))  # on time
    await m.callback("T01", A, cst(11, 9), True, "satisfied")
    await m.dispatch("T02", A, cst(11, 5))
    await m.clock("T02", A, breached, cst(11, 6, 10))
    await m.clock("T02", A, met, cst(11, 6, 12), late=True)  # late
    await m.callback("T02", A, cst(11, 12), True, "basically_satisfied")
    await m.dispatch("T03", A, cst(11, 10))
    await m.clock("T03", A, met, cst(11, 10, 11))  # on time
    await m.callback("T03", A, cst(11, 16), False, "unsatisfied")
    await m.dispatch("T04", A, cst(11, 12))
    await m.clock("T04", A, breached, cst(11, 13))
    await m.clock("T04", A, cancelled, cst(11, 14))  # rejected after the breach: stays late
    await m.dispatch("T05", A, cst(11, 15))
    await m.clock("T05", A, cancelled, cst(11, 15, 12))  # 退单 in time: not counted
    await m.dispatch("T06", A, cst(11, 20))
    await m.clock("T06", A, met, cst(11, 20, 12))  # on time
    await f.announce(  # the citizen could not be reached: excluded
        "T06", CALLBACK_UNREACHABLE, cst(11, 26), callback_id=900, dept_code=A, assignment_id="A-T06", attempts=3
    )
    await m.dispatch("T07", A, cst(12, 1, 0, 30))  # 30 Nov 16:30 UTC is already December in the city
    await m.clock("T07", A, met, cst(12, 1, 1))
    await m.dispatch("T08", A, cst(11, 28))  # still before its accept deadline: pending, not counted
    # --- department B (street xa-s2), peacetime
    await m.dispatch("T09", B, cst(11, 4))
    await m.clock("T09", B, met, cst(11, 4, 12))  # on time
    await m.callback("T09", B, cst(11, 8), True, "satisfied")
    await m.dispatch("T10", B, cst(11, 6))
    await m.clock("T10", B, met, cst(11, 7, 12), late=True)  # late
    await m.callback("T10", B, cst(11, 14), True, "satisfied")
    await m.dispatch("T11", B, cst(11, 7))
    await m.clock("T11", B, met, cst(11, 7, 11))
    await f.announce("T11", types.TICKET_HANDED_OVER, cst(11, 7, 12), TicketStatus.HANDED_OVER, handover_to="119")
    await f.announce(
        "T12", types.TICKET_MERGED, cst(11, 9), TicketStatus.DISPATCHED, case_id="C-T09", merged_into="T09", dept_code=B
    )
    await m.callback("T12", B, cst(11, 10), False, "unsatisfied")  # a merged duplicate's citizen: excluded
    await f.announce(
        "T13",
        types.TICKET_CREATED,
        cst(11, 11),
        TicketStatus.CLOSED,
        channel="hotline",
        description="咨询办事材料",
        location={"address": "黄浦区"},
        created_at=cst(11, 11),
        direct_answer=True,
    )
    await m.callback("T13", B, cst(11, 11, 15), False, "unsatisfied")  # answered on the spot: excluded
    # --- department A in an emergency: scored apart
    await m.dispatch("T14", A, cst(11, 18), mode="emergency")
    await m.clock("T14", A, breached, cst(11, 18, 11))
    await m.callback("T14", A, cst(11, 19), False, "unsatisfied")
    await m.dispatch("T15", A, cst(11, 18, 12), mode="emergency")
    await m.clock("T15", A, met, cst(11, 18, 12, 20))
    await m.callback("T15", A, cst(11, 19, 12), True, "satisfied")
    await f.settled()


def by_key(body: dict[str, object]) -> dict[str, dict[str, object]]:
    items = body["items"]
    assert isinstance(items, list)
    return {i["key"]: i for i in items}


def fraction(item: dict[str, object], measure: str) -> tuple[object, object]:
    return item[f"{measure}_numerator"], item[f"{measure}_denominator"]


async def test_a_crafted_month(feedback: Feedback) -> None:
    await craft_november(feedback)
    async with feedback.client(Role.AUDITOR) as auditor:
        month = {"period": "month", "date": "2026-11-17"}
        departments = (await auditor.get("/api/v1/scores", params={"by": "department", **month})).json()
        assert (departments["first_day"], departments["last_day"]) == ("2026-11-01", "2026-11-30")
        d = by_key(departments)
        assert set(d) == {A, B}
        # A: decided tasks T01 on time, T02 late, T03 on time, T04 late, T06 on time -> 3/5
        #    (T05 cancelled, T07 is December's, T08 pending: 1)
        #    callbacks T01 solved 满意, T02 solved 基本满意, T03 unsolved 不满意 -> 解决 2/3, 满意 (1+1)/3;
        #    T06 unreachable: not in any denominator, shown apart.
        assert fraction(d[A], "response") == (3, 5)
        assert d[A]["response_rate"] == 3 / 5
        assert fraction(d[A], "resolution") == (2, 3)
        assert fraction(d[A], "satisfaction") == (2.0, 3)
        assert d[A]["satisfaction_rate"] == 2 / 3
        assert (d[A]["pending_response"], d[A]["unreachable_callbacks"]) == (1, 1)
        # B: T09 on time, T10 late (T11 handed over to 119: excluded) -> 1/2; callbacks T09, T10 solved 满意
        #    -> 2/2 and 2/2 (T12 merged duplicate, T13 consultation: excluded)
        assert fraction(d[B], "response") == (1, 2)
        assert fraction(d[B], "resolution") == (2, 2)
        assert fraction(d[B], "satisfaction") == (2.0, 2)
        # Ranking by 10 % / 45 % / 45 %: B 0.05 + 0.45 + 0.45 = 0.95, A 0.06 + 0.30 + 0.30 = 0.66
        assert (d[B]["rank"], d[A]["rank"]) == (1, 2)
        assert d[A]["composite"] == 0.1 * 3 / 5 + 0.45 * 2 / 3 + 0.45 * 2 / 3

        streets = by_key((await auditor.get("/api/v1/scores", params={"by": "street", **month})).json())
        assert fraction(streets["xa-s1"], "response") == (3, 5)
        assert fraction(streets["xa-s2"], "resolution") == (2, 2)
        for level, key in (("district", "xa"), ("city", "city")):
            item = by_key((await auditor.get("/api/v1/scores", params={"by": level, **month})).json())[key]
            # A + B: 4/7 responded in time; 解决 4/5; 满意 (3 满意 + 1 基本满意)/5
            assert fraction(item, "response") == (4, 7)
            assert fraction(item, "resolution") == (4, 5)
            assert fraction(item, "satisfaction") == (4.0, 5)
            assert item["satisfaction_rate"] == 0.8

        # The emergency is scored apart: T14 late, T15 on time; T14 unsolved 不满意, T15 solved 满意.
        emergency = by_key(
            (await auditor.get("/api/v1/scores", params={"by": "department", "mode": "emergency", **month})).json()
        )
        assert set(emergency) == {A}
        assert fraction(emergency[A], "response") == (1, 2)
        assert fraction(emergency[A], "resolution") == (1, 2)
        assert fraction(emergency[A], "satisfaction") == (1.0, 2)

        # A week (Mon 2 - Sun 8 Nov): A's T01 on time, T02 late; B's T09 on time, T10 late (T11 excluded);
        # callbacks that week: B's T09 only (T01's was on the 9th).
        week = by_key(
            (
                await auditor.get("/api/v1/scores", params={"by": "department", "period": "week", "date": "2026-11-04"})
            ).json()
        )
        assert fraction(week[A], "response") == (1, 2)
        assert fraction(week[A], "resolution") == (0, 0)
        assert week[A]["resolution_rate"] is None
        assert fraction(week[B], "resolution") == (1, 1)
        day = by_key(
            (
                await auditor.get("/api/v1/scores", params={"by": "department", "period": "day", "date": "2026-11-03"})
            ).json()
        )
        assert set(day) == {A}
        assert fraction(day[A], "response") == (1, 1)
        december = by_key(
            (
                await auditor.get(
                    "/api/v1/scores", params={"by": "department", "period": "month", "date": "2026-12-01"}
                )
            ).json()
        )
        assert fraction(december[A], "response") == (1, 1)  # T07, by the city's day


async def drill(
    feedback: Feedback, link: str, role: Role = Role.AUDITOR, dept: str | None = None
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    async with feedback.client(role, dept) as client:
        url: str | None = link + "&limit=2"  # small pages: the cursor is exercised
        while url is not None:
            response = await client.get(url)
            assert response.status_code == 200, response.text
            page = response.json()
            rows += page["items"]
            url = f"{link}&limit=2&cursor={page['next_cursor']}" if page["next_cursor"] else None
    return rows


def refs(rows: list[dict[str, object]], counted_in: str) -> set[object]:
    return {r["ticket_id"] for r in rows if counted_in in r["counts_in"]}  # type: ignore[operator]


async def test_the_drill_down_returns_exactly_the_tickets_counted(feedback: Feedback) -> None:
    async with feedback.client(Role.AUDITOR) as auditor:
        body = (
            await auditor.get("/api/v1/scores", params={"by": "department", "period": "month", "date": "2026-11-01"})
        ).json()
    for item in body["items"]:
        rows = await drill(feedback, item["tickets"])
        assert len(refs(rows, "response_denominator")) == item["response_denominator"]
        assert len(refs(rows, "response_numerator")) == item["response_numerator"]
        assert len(refs(rows, "resolution_denominator")) == item["resolution_denominator"]
        assert len(refs(rows, "resolution_numerator")) == item["resolution_numerator"]
        weights = sum(r["satisfaction_weight"] for r in rows if r["fact"] == "callback")  # type: ignore[misc]
        assert weights == item["satisfaction_numerator"]
    a = next(i for i in body["items"] if i["key"] == A)
    rows = await drill(feedback, a["tickets"])
    assert refs(rows, "response_denominator") == {"T01", "T02", "T03", "T04", "T06"}
    assert refs(rows, "response_numerator") == {"T01", "T03", "T06"}
    assert refs(rows, "resolution_denominator") == {"T01", "T02", "T03"}
    assert refs(rows, "resolution_numerator") == {"T01", "T02"}
    assert refs(rows, "satisfaction_numerator") == {"T01", "T02"}
    b = next(i for i in body["items"] if i["key"] == B)
    rows = await drill(feedback, b["tickets"])
    assert refs(rows, "response_denominator") == {"T09", "T10"}
    assert refs(rows, "resolution_denominator") == {"T09", "T10"}


async def test_the_counters_equal_a_count_over_the_facts(feedback: Feedback) -> None:
    # The incrementally kept day rows against a plain GROUP BY over the fact rows, every level and mode.
    mismatches = await feedback.pool.fetch(
        """
        WITH facts AS (
            SELECT dept_code, street, district, mode, day,
                   (state IN ('on_time','late'))::int AS assigned, (state = 'on_time')::int AS responded,
                   (state = 'pending')::int AS pending, 0 AS callbacks, 0 AS solved, 0 AS unreachable
              FROM score_tasks
            UNION ALL
            SELECT dept_code, street, district, mode, day, 0, 0, 0, (excluded IS NULL)::int,
                   (excluded IS NULL AND solved)::int, (excluded IS NOT DISTINCT FROM 'unreachable')::int
              FROM score_callbacks
        ), levels AS (
            SELECT 'department' AS level, dept_code AS key, * FROM facts WHERE dept_code IS NOT NULL
            UNION ALL SELECT 'street', street, * FROM facts WHERE street IS NOT NULL
            UNION ALL SELECT 'district', district, * FROM facts WHERE district IS NOT NULL
            UNION ALL SELECT 'city', 'city', * FROM facts
        ), expected AS (
            SELECT level, key, mode, day, sum(assigned) AS assigned, sum(responded) AS responded,
                   sum(pending) AS pending, sum(callbacks) AS callbacks, sum(solved) AS solved,
                   sum(unreachable) AS unreachable
              FROM levels GROUP BY level, key, mode, day
        )
        SELECT row_to_json(e)::text AS e, row_to_json(d)::text AS d
          FROM expected e FULL JOIN score_days d USING (level, key, mode, day)
         WHERE (coalesce(e.assigned, 0), coalesce(e.responded, 0), coalesce(e.pending, 0),
                coalesce(e.callbacks, 0), coalesce(e.solved, 0), coalesce(e.unreachable, 0))
               IS DISTINCT FROM (coalesce(d.assigned, 0), coalesce(d.responded, 0), coalesce(d.pending, 0),
                                 coalesce(d.callbacks, 0), coalesce(d.solved, 0), coalesce(d.unreachable, 0))
        """
    )
    assert [(r["e"], r["d"]) for r in mismatches] == []
    assert await feedback.pool.fetchval("SELECT count(*) FROM score_days") > 0


async def test_a_redelivered_event_counts_once(feedback: Feedback) -> None:
    m = Month(feedback)
    await m.dispatch("T20", B, cst(10, 5))
    event = await feedback.announce(
        "T20",
        types.SLA_DEADLINE_MET,
        cst(10, 5, 11),
        kind="accept",
        late=False,
        due_at=cst(10, 6),
        dept_code=B,
        assignment_id="A-T20",
    )
    await feedback.republish(event)
    await feedback.republish(event)
    await feedback.settled()
    async with feedback.client(Role.AUDITOR) as auditor:
        october = by_key(
            (
                await auditor.get(
                    "/api/v1/scores", params={"by": "department", "period": "month", "date": "2026-10-31"}
                )
            ).json()
        )
    assert fraction(october[B], "response") == (1, 1)


async def test_departments_see_their_own_scores_and_their_areas(feedback: Feedback) -> None:
    month = {"period": "month", "date": "2026-11-17"}
    async with feedback.client(Role.DEPARTMENT, A) as dept:
        for level, expected in (("department", {A}), ("street", {"xa-s1"}), ("district", {"xa"}), ("city", {"city"})):
            response = await dept.get("/api/v1/scores", params={"by": level, **month})
            assert response.status_code == 200
            assert set(by_key(response.json())) == expected
        # A's rank is still its rank among all departments.
        assert by_key((await dept.get("/api/v1/scores", params={"by": "department", **month})).json())[A]["rank"] == 2
        refused = await dept.get("/api/v1/scores/tickets", params={"by": "department", "key": B, **month})
        assert refused.status_code == 403
        assert refused.json()["error"] == "forbidden"
        assert (
            await dept.get("/api/v1/scores/tickets", params={"by": "street", "key": "xa-s2", **month})
        ).status_code == 403
    own = await drill(
        feedback, f"/api/v1/scores/tickets?by=department&key={A}&period=month&date=2026-11-17", Role.DEPARTMENT, A
    )
    assert refs(own, "response_denominator") == {"T01", "T02", "T03", "T04", "T06"}
    for role in (Role.COMMAND_CENTRE, Role.ADMIN):
        async with feedback.client(role) as reader:
            assert set(by_key((await reader.get("/api/v1/scores", params={"by": "department", **month})).json())) == {
                A,
                B,
            }
    for role in (Role.DISPATCHER, Role.CALL_TAKER):
        async with feedback.client(role) as other:
            assert (await other.get("/api/v1/scores", params={"by": "city", **month})).status_code == 403


async def test_bad_parameters_are_named(feedback: Feedback) -> None:
    async with feedback.client(Role.AUDITOR) as auditor:
        response = await auditor.get("/api/v1/scores", params={"by": "planet", "period": "month", "date": "2026-13-01"})
        assert response.status_code == 422
        assert {f["field"] for f in response.json()["fields"]} == {"by", "date"}
        response = await auditor.get(
            "/api/v1/scores/tickets",
            params={"by": "city", "key": "city", "period": "day", "date": "2026-11-01", "cursor": "zz"},
        )
        assert response.status_code == 422
        assert response.json()["fields"][0]["field"] == "cursor"
