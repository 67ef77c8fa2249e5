"""When a failed callback reopens an assignment, and who supervises the re-handling: pure functions."""

from collections.abc import Sequence
from enum import StrEnum

from cityloop.common.kafka.consumer import Refused
from cityloop.router.tickets.status import AssignmentStatus


class Reopen(StrEnum):
    REOPEN = "reopen"
    #: Another citizen of the same case failed first: the assignment is back with its department already.
    ALREADY = "already"


def reopen(assignment_status: str, role: str) -> Reopen:
    """Only a lead's resolved assignment is reopened; anything else means the callback is about a task that
    moved on (withdrawn, re-dispatched) and is refused with that reason."""
    if role != "lead":
        raise Refused(f"重办 goes to the lead; this assignment's role is {role}")
    if assignment_status == AssignmentStatus.REOPENED:
        return Reopen.ALREADY
    if assignment_status != AssignmentStatus.RESOLVED:
        raise Refused(f"重办 needs a resolved assignment; this one is {assignment_status}")
    return Reopen.REOPEN


def escalation_target(supervisors: Sequence[str], level: int) -> str | None:
    """The unit ``level`` steps up the jurisdiction chain (street › district › city), the top if it runs out."""
    if level <= 0 or not supervisors:
        return None
    return supervisors[min(level, len(supervisors)) - 1]
