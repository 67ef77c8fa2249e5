"""CloudEvent ``type`` values. Contract types are promises: change only additively."""

# dept.<dept_code>.tasks: CityLoop -> one department's system
TASK_ASSIGNED = "cityloop.task.assigned"
TASK_UPDATED = "cityloop.task.updated"
TASK_WITHDRAWN = "cityloop.task.withdrawn"
# to the supervising unit's own topic (督办 desk): a late task of a unit it supervises (contract/supervision.py)
TASK_SUPERVISED = "cityloop.task.supervised"

# dept.updates: every department's system -> CityLoop
DEPT_ACCEPTED = "cityloop.dept.accepted"
DEPT_REJECTED = "cityloop.dept.rejected"
DEPT_PROGRESS = "cityloop.dept.progress"
DEPT_RESOLVED = "cityloop.dept.resolved"
DEPT_EXTENSION_REQUESTED = "cityloop.dept.extension_requested"
# 五级应用: a street's platform hands its task to one of its residents' committees or grid teams
DEPT_FORWARDED = "cityloop.dept.forwarded"
DEPT_UPDATE_TYPES = frozenset(
    {DEPT_ACCEPTED, DEPT_REJECTED, DEPT_PROGRESS, DEPT_RESOLVED, DEPT_EXTENSION_REQUESTED, DEPT_FORWARDED}
)

# control.mode (compacted)
MODE_EMERGENCY_DECLARED = "cityloop.mode.emergency_declared"
MODE_EMERGENCY_UPDATED = "cityloop.mode.emergency_updated"
MODE_EMERGENCY_STOOD_DOWN = "cityloop.mode.emergency_stood_down"
# a surge detector proposes, a person declares (contract/proposals.py); keyed by proposal id
MODE_EMERGENCY_PROPOSED = "cityloop.mode.emergency_proposed"

# ticket.lifecycle: every state change of a ticket, personal data masked
TICKET_CREATED = "cityloop.ticket.created"
TICKET_DISPATCHED = "cityloop.ticket.dispatched"
TICKET_NEEDS_DISPATCHER = "cityloop.ticket.needs_dispatcher"
TICKET_HANDED_OVER = "cityloop.ticket.handed_over"
TICKET_ACCEPTED = "cityloop.ticket.accepted"
TICKET_REJECTED = "cityloop.ticket.rejected"
TICKET_PROGRESS = "cityloop.ticket.progress"
TICKET_EXTENSION_REQUESTED = "cityloop.ticket.extension_requested"
TICKET_RESOLVED = "cityloop.ticket.resolved"
TICKET_CLOSED = "cityloop.ticket.closed"
TICKET_REOPENED = "cityloop.ticket.reopened"
# 并单: a ticket joined an open case (status mirrors the case); a dispatcher split it out again.
TICKET_MERGED = "cityloop.ticket.merged"
TICKET_SPLIT = "cityloop.ticket.split"
SLA_DEADLINES_SET = "cityloop.sla.deadlines_set"
SLA_DEADLINE_MET = "cityloop.sla.deadline_met"
SLA_WARNING = "cityloop.sla.warning"
SLA_BREACHED = "cityloop.sla.breached"
SLA_ESCALATED = "cityloop.sla.escalated"
SLA_DEADLINE_CANCELLED = "cityloop.sla.deadline_cancelled"
SLA_EXTENSION_APPROVED = "cityloop.sla.extension_approved"
SLA_EXTENSION_REJECTED = "cityloop.sla.extension_rejected"
#: 督办 desk: a supervision opened, urged, given a deadline, escalated or closed (contract/supervision.py)
SLA_SUPERVISION = "cityloop.sla.supervision"
CALLBACK_OPENED = "cityloop.callback.opened"
CALLBACK_RECORDED = "cityloop.callback.recorded"
# 回访 steps (contract/callbacks.py types their detail): an operator took the item, the citizen could not be
# reached and the call moves, the attempts ran out, a one-time link went to the citizen.
CALLBACK_CLAIMED = "cityloop.callback.claimed"
CALLBACK_RESCHEDULED = "cityloop.callback.rescheduled"
CALLBACK_UNREACHABLE = "cityloop.callback.unreachable"
CALLBACK_LINK_ISSUED = "cityloop.callback.link_issued"
