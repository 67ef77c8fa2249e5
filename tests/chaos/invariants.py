"""The invariants of a run, as pure functions over what was sent (load.py) and what was found at the end
(observe.py). Each returns its counts and its violations; a run passes when no invariant has any."""

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.chaos.observe import Observed

#: Where a ticket may rest besides "open with a department": documented in README (the lifecycle).
TERMINAL = frozenset({"closed", "merged", "handed_over"})
#: Waiting for a person, not for a service: the dispatcher's queue (low classification confidence).
WITH_DISPATCHER = "needs_dispatcher"
LIVE_ASSIGNMENT = frozenset({"assigned", "accepted", "reopened"})
ENDED_ASSIGNMENT = frozenset({"withdrawn", "rejected"})
#: The loop's causal order on one ticket's trail (first occurrence of each). Callbacks are checked apart:
#: feedback also opens one when the resolve deadline passes unresolved (trigger "overdue", README
#: "Callbacks"), so a callback may come before the resolution; the one after it closes the ticket.
ORDER = (
    "cityloop.ticket.created",
    "cityloop.ticket.dispatched",
    "cityloop.ticket.accepted",
    "cityloop.ticket.resolved",
    "cityloop.ticket.closed",
)
OPENED, RECORDED = "cityloop.callback.opened", "cityloop.callback.recorded"
#: What the trail of a ticket in each status must hold at least.
REQUIRED = {
    "received": ORDER[:1],
    "needs_dispatcher": ORDER[:1],
    "handed_over": ORDER[:1],
    "merged": (*ORDER[:1], "cityloop.ticket.merged"),
    "dispatched": ORDER[:2],
    "accepted": ORDER[:3],
    "resolved": (*ORDER[:4], OPENED),
    "closed": (*ORDER, OPENED, RECORDED),
}
#: Effects that happen once per ticket in this load (it never rejects, re-handles or extends).
ONCE = frozenset(ORDER) | {"cityloop.ticket.merged"}
UPDATE_EFFECT = {
    "cityloop.dept.accepted": "cityloop.ticket.accepted",
    "cityloop.dept.progress": "cityloop.ticket.progress",
    "cityloop.dept.resolved": "cityloop.ticket.resolved",
}
EXAMPLES = 10


@dataclass(frozen=True)
class Update:
    event_id: str
    ticket_id: str
    assignment_id: str
    type: str


@dataclass
class Sent:
    tickets: dict[str, str]  # accepted ticket id -> its (unique) description
    ambiguous: int  # creations whose answer was lost: intake may or may not hold them
    updates: list[Update]
    poison: set[str]  # Kafka keys of the unprocessable updates sent on purpose


@dataclass
class Result:
    name: str
    counts: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    violation_count: int = 0

    @property
    def ok(self) -> bool:
        return self.violation_count == 0

    def fail(self, message: str) -> None:
        self.violation_count += 1
        if len(self.violations) < EXAMPLES:
            self.violations.append(message)


def tickets_exist_once(sent: Sent, seen: Observed) -> Result:
    r = Result("every accepted ticket exists once")
    missing = [t for t in sent.tickets if t not in seen.tickets]
    duplicated = [d for d in sent.tickets.values() if seen.descriptions.get(d, 0) > 1]
    extra = [t for t in seen.tickets if t not in sent.tickets]
    r.counts = {
        "accepted": len(sent.tickets),
        "found": len(sent.tickets) - len(missing),
        "missing": len(missing),
        "duplicated": len(duplicated),
        "unanswered_requests": sent.ambiguous,
        "stored_though_unanswered": len(extra),
    }
    for t in missing:
        r.fail(f"{t}: accepted by intake but not stored")
    for d in duplicated:
        r.fail(f"request {d!r} stored {seen.descriptions[d]} times")
    if len(extra) > sent.ambiguous:
        r.fail(f"{len(extra)} tickets nobody was told about, only {sent.ambiguous} answers were lost: {extra[:5]}")
    return r


def one_current_lead(sent: Sent, seen: Observed) -> Result:
    r = Result("exactly one current lead, or a documented terminal state")
    states: Counter[str] = Counter()
    for ticket in sent.tickets:
        status = seen.tickets.get(ticket)
        if status is None:
            continue  # counted by tickets_exist_once
        leads = [a for a in seen.assignments.get(ticket, []) if a[1] == "lead" and a[2] not in ENDED_ASSIGNMENT]
        if status in ("merged", "handed_over", WITH_DISPATCHER):
            states[status] += 1
            if leads and status != "merged":
                r.fail(f"{ticket}: {status} yet led by {leads}")
        elif status == "received":
            states["never_routed"] += 1
            r.fail(f"{ticket}: still 'received' after the drain (never routed)")
        elif len(leads) != 1:
            states["wrong_lead_count"] += 1
            r.fail(f"{ticket}: {status} with {len(leads)} current leads {leads}")
        else:
            states["one_lead"] += 1
    r.counts = dict(states)
    return r


def trails_complete_and_ordered(sent: Sent, seen: Observed) -> Result:
    r = Result("complete, causally ordered trail")
    complete = 0
    for ticket in sent.tickets:
        status = seen.tickets.get(ticket)
        if status is None:
            continue
        trail = seen.trails.get(ticket, [])
        types = [t for t, _ in trail]
        missing = [t for t in REQUIRED.get(status, ORDER[:1]) if t not in types]
        if missing:
            r.fail(f"{ticket} ({status}): trail lacks {missing}")
            continue
        first = {t: types.index(t) for t in ORDER if t in types}
        placed = [first[t] for t in ORDER if t in first]
        if placed != sorted(placed):
            r.fail(f"{ticket}: out of causal order {[t for t in types if t in first]}")
            continue
        if not _callbacks_in_order(types):
            r.fail(f"{ticket}: callback out of order {[t for t in types if t in first or t in (OPENED, RECORDED)]}")
            continue
        repeated = [t for t, n in Counter(types).items() if t in ONCE and n > 1]
        if repeated:
            r.fail(f"{ticket}: effect repeated on the trail {repeated}")
            continue
        if len({e for _, e in trail}) != len(trail):
            r.fail(f"{ticket}: one event twice on the trail")
            continue
        complete += 1
    r.counts = {
        "tickets": len(sent.tickets),
        "complete_and_ordered": complete,
        "entries": sum(map(len, seen.trails.values())),
    }
    return r


def _callbacks_in_order(types: list[str]) -> bool:
    """The last callback opens after the resolution (if any), and the ticket closes after a recorded one."""
    last = {t: i for i, t in enumerate(types)}
    if "cityloop.ticket.resolved" in last and OPENED in last and last[OPENED] < last["cityloop.ticket.resolved"]:
        return False
    return "cityloop.ticket.closed" not in last or last.get(RECORDED, len(types)) < last["cityloop.ticket.closed"]


def updates_applied_once(sent: Sent, seen: Observed) -> Result:
    r = Result("every department update applied exactly once in effect")
    applied = seen.inbox.get("router.dept-updates", set())
    effects: dict[str, Counter[str]] = {}
    for ticket, trail in seen.trails.items():
        effects[ticket] = Counter(t for t, _ in trail)
    dead = {d.event_id for d in seen.dlq if d.event_id}
    unapplied = 0
    by_ticket: dict[str, set[str]] = defaultdict(set)
    for u in sent.updates:
        by_ticket[u.ticket_id].add(u.type)
        if u.event_id not in applied:
            unapplied += 1
            where = "dead-lettered" if u.event_id in dead else "not applied"
            r.fail(f"{u.type} {u.event_id} for {u.ticket_id}: {where}")
    wrong = 0
    for ticket, types in by_ticket.items():
        if seen.tickets.get(ticket) == "merged":
            continue
        for type_ in types:
            n = effects.get(ticket, Counter())[UPDATE_EFFECT[type_]]
            if n != 1:
                wrong += 1
                r.fail(f"{ticket}: {type_} took effect {n} times")
    r.counts = {"sent": len(sent.updates), "applied": len(sent.updates) - unapplied, "effects_not_once": wrong}
    return r


def deadlines_fired_once(sent: Sent, seen: Observed) -> Result:
    r = Result("every due deadline fired once in effect")
    ids: dict[tuple[int, str], set[str]] = defaultdict(set)
    for event_id, _, _, timer in seen.lifecycle:
        if timer is not None:
            ids[timer].add(event_id)
    fires_by_clock = Counter(clock for clock, _ in ids)
    on_trail = {e for trail in seen.trails.values() for _, e in trail}
    overdue = [c for c in seen.clocks if c.overdue]
    for c in overdue:
        r.fail(f"clock {c.id} ({c.kind} of {c.ticket_id}) due but not fired")
    twice = [k for k, v in ids.items() if len(v) > 1]
    for k in twice:
        r.fail(f"clock {k[0]} step {k[1]} fired under {len(ids[k])} event ids")
    miscounted = [c for c in seen.clocks if c.fire_count != fires_by_clock.get(c.id, 0)]
    for c in miscounted:
        r.fail(f"clock {c.id}: {c.fire_count} fires in the store, {fires_by_clock.get(c.id, 0)} on the topic")
    not_on_trail = [k for k, v in ids.items() if not v & on_trail]
    for k in not_on_trail:
        r.fail(f"clock {k[0]} step {k[1]} never reached the ticket's trail")
    r.counts = {
        "clocks": len(seen.clocks),
        "fires": len(ids),
        "clocks_that_fired": len(fires_by_clock),
        "due_not_fired": len(overdue),
        "fired_twice": len(twice),
        "store_topic_mismatch": len(miscounted),
        "fires_missing_on_trail": len(not_on_trail),
    }
    return r


def callbacks_once(sent: Sent, seen: Observed) -> Result:
    r = Result("no callback missing or duplicated")
    resolved = [t for t in sent.tickets if any(x == "cityloop.ticket.resolved" for x, _ in seen.trails.get(t, []))]
    missing = duplicated = 0
    for ticket in resolved:
        n = sum(1 for trigger, _ in seen.callbacks.get(ticket, []) if trigger == "resolved")
        if n == 0:
            missing += 1
            r.fail(f"{ticket}: resolved, no callback")
        elif n > 1:
            duplicated += 1
            r.fail(f"{ticket}: {n} callbacks after its resolution")
    overdue = Counter(t for t in sent.tickets for trigger, _ in seen.callbacks.get(t, []) if trigger == "overdue")
    for ticket, n in overdue.items():
        if n > 1:
            duplicated += 1
            r.fail(f"{ticket}: {n} callbacks for one passed resolve deadline")
    # A closed ticket's citizen has been called back: a callback still due would call them again.
    due_on_closed = [t for t in sent.tickets if seen.tickets.get(t) == "closed" and _has_due(seen, t)]
    for ticket in due_on_closed:
        r.fail(f"{ticket}: closed, with a callback still due {seen.callbacks.get(ticket)}")
    opened_on_trail = sum(1 for t in sent.tickets for x, _ in seen.trails.get(t, []) if x == "cityloop.callback.opened")
    unannounced = announced_only = 0
    for ticket in sent.tickets:
        stored_ids, opened_ids = seen.callback_ids.get(ticket, set()), seen.opened_callback_ids.get(ticket, set())
        if stored_ids - opened_ids:
            unannounced += 1
            r.fail(f"{ticket}: callbacks {sorted(stored_ids - opened_ids)} stored, never opened on its trail")
        if opened_ids - stored_ids:
            announced_only += 1
            r.fail(f"{ticket}: callbacks {sorted(opened_ids - stored_ids)} opened on its trail, not stored")
    r.counts = {
        "resolved_tickets": len(resolved),
        "callbacks_after_resolution": sum(
            1 for t in resolved for trigger, _ in seen.callbacks.get(t, []) if trigger == "resolved"
        ),
        "callbacks_for_overdue": sum(overdue.values()),
        "opened_on_trails": opened_on_trail,
        "stored_not_on_trail": unannounced,
        "on_trail_not_stored": announced_only,
        "missing": missing,
        "duplicated": duplicated,
        "due_on_closed": len(due_on_closed),
    }
    return r


def _has_due(seen: Observed, ticket: str) -> bool:
    return any(status == "due" for _, status in seen.callbacks.get(ticket, []))


def open_tickets_owned(sent: Sent, seen: Observed) -> Result:
    r = Result("every ticket closed, or open with a live owner and live clocks")
    open_clocks = Counter(c.ticket_id for c in seen.clocks if c.state == "open")
    states: Counter[str] = Counter()
    for ticket in sent.tickets:
        status = seen.tickets.get(ticket)
        if status is None:
            continue
        if status in TERMINAL or status == WITH_DISPATCHER:
            states[status] += 1
            continue
        assignments = seen.assignments.get(ticket, [])
        if status == "resolved":
            owner = any(a[1] == "lead" and a[2] == "resolved" for a in assignments)
            owner = owner and any(status == "due" for _, status in seen.callbacks.get(ticket, []))
        else:
            owner = any(a[1] == "lead" and a[2] in LIVE_ASSIGNMENT for a in assignments)
        if not owner:
            r.fail(f"{ticket}: {status} without a live owner ({assignments}, callbacks {seen.callbacks.get(ticket)})")
        elif not open_clocks[ticket]:
            r.fail(f"{ticket}: {status} without a live clock")
        else:
            states[f"open_{status}"] += 1
    r.counts = dict(states)
    return r


def dlq_holds_the_unprocessable(sent: Sent, seen: Observed) -> Result:
    r = Result("every unprocessable event is in a DLQ with its reason")
    keys = Counter(d.key for d in seen.dlq)
    for d in seen.dlq:
        if not d.reason:
            r.fail(f"{d.topic} entry {d.key} without a reason")
        if d.key not in sent.poison:
            r.fail(f"{d.topic}: a valid event was dead-lettered ({d.event_id}, key {d.key}): {d.reason}")
    missing = [k for k in sent.poison if keys[k] == 0]
    for k in missing:
        r.fail(f"poison {k} is in no DLQ")
    r.counts = {
        "poison_sent": len(sent.poison),
        "poison_in_dlq": len(sent.poison) - len(missing),
        "dlq_entries": len(seen.dlq),
        "valid_events_dead_lettered": sum(1 for d in seen.dlq if d.key not in sent.poison),
    }
    return r


def nothing_dropped(sent: Sent, seen: Observed) -> Result:
    r = Result("nothing dropped silently")
    on_trail = {e for trail in seen.trails.values() for _, e in trail}
    ours = set(sent.tickets)
    lifecycle = [(e, t) for e, t, _, _ in seen.lifecycle if t in ours]
    not_consumed = [(e, t) for e, t in lifecycle if e not in on_trail]
    for e, t in not_consumed:
        r.fail(f"lifecycle event {e} of {t} never reached intake's trail")
    assigned = Counter(a for _, type_, a in seen.tasks if type_ == "cityloop.task.assigned")
    assignments = {a[0] for rows in seen.assignments.values() for a in rows}
    no_task = [a for a in assignments if assigned[a] == 0]
    for a in no_task:
        r.fail(f"assignment {a} never reached its department")
    task_ids = Counter(e for e, type_, _ in seen.tasks if type_ == "cityloop.task.assigned")
    for schema, n in seen.unpublished_outbox.items():
        if n:
            r.fail(f"{schema}: {n} outbox rows never published")
    behind = {group: n for group, n in seen.group_lag.items() if n}
    for group, n in behind.items():
        r.fail(f"consumer group {group} never caught up: {n} records not consumed")
    r.counts = {
        "lifecycle_events": len(lifecycle),
        "not_on_trail": len(not_consumed),
        "assignments": len(assignments),
        "tasks_assigned_on_topics": len(task_ids),
        "assignments_without_task": len(no_task),
        "unpublished_outbox_rows": sum(seen.unpublished_outbox.values()),
        "groups_behind": len(behind),
    }
    return r


CHECKS: tuple[Callable[[Sent, Observed], Result], ...] = (
    tickets_exist_once,
    one_current_lead,
    trails_complete_and_ordered,
    updates_applied_once,
    deadlines_fired_once,
    callbacks_once,
    open_tickets_owned,
    dlq_holds_the_unprocessable,
    nothing_dropped,
)


def check_all(sent: Sent, seen: Observed) -> list[Result]:
    return [check(sent, seen) for check in CHECKS]
