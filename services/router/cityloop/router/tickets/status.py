"""The states router keeps for a ticket and for each assignment. The SQL CHECK constraints mirror them
(migrations/0005_status_checks.sql, 0008_rehandle.sql); tests/integration/test_status_checks.py keeps the
two in step."""

from enum import StrEnum

from cityloop.common.contract.models import TicketStatus


class RoutingStatus(StrEnum):
    """A ticket's status in router: the public lifecycle (TicketStatus), plus ``merged``: joined to a case
    (并单) whose lead ticket is handled for every citizen; the public status is then the lead's."""

    RECEIVED = TicketStatus.RECEIVED.value
    NEEDS_DISPATCHER = TicketStatus.NEEDS_DISPATCHER.value
    HANDED_OVER = TicketStatus.HANDED_OVER.value
    DISPATCHED = TicketStatus.DISPATCHED.value
    ACCEPTED = TicketStatus.ACCEPTED.value
    RESOLVED = TicketStatus.RESOLVED.value
    CLOSED = TicketStatus.CLOSED.value
    MERGED = "merged"


class AssignmentStatus(StrEnum):
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # 退单
    RESOLVED = "resolved"
    WITHDRAWN = "withdrawn"  # re-dispatched or re-routed elsewhere
    REOPENED = "reopened"  # 重办: resolved, then a failed callback put it back in the lead's hands
