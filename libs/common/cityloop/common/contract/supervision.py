"""督办 with a desk: when a late task's 督办 step fires, sla puts a supervision on the desk of the unit
that supervises the late department (its operations centre, one level up) and tells that unit on its own
topic (``cityloop.task.supervised``); every action on the supervision is a line on the trail
(``cityloop.sla.supervision``). sla owns both, as it owns the deadlines they are about."""

from datetime import datetime
from typing import Literal

from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import Detail, register_lifecycle
from cityloop.common.contract.models import ContractData
from cityloop.common.contract.registry import DEPT_TASKS, register

SupervisionAction = Literal["opened", "urged", "deadline_set", "escalated", "closed"]


class TaskSupervised(ContractData):
    """To ``dept.<desk>.tasks``: a task of a unit this desk supervises is late and is now on its desk."""

    #: The supervision's id at ``/api/v1/supervision/{supervision_id}``.
    supervision_id: int
    ticket_id: str
    #: The late department and its task.
    dept_code: str
    assignment_id: str
    #: Which deadline was missed (accept, on_site, resolve, rehandle) and when it was due.
    kind: str
    due_at: datetime
    category: str | None = None
    #: The supervising unit receiving this (its own code) and how far up the chain it is (1 = nearest).
    desk: str
    level: int
    #: The desk it came from when it was escalated; null when the ladder put it here first.
    escalated_from: str | None = None
    note: str | None = None


class Supervision(Detail):
    """A 督办 desk's step on a late task, for the trail."""

    supervision_id: int
    action: SupervisionAction
    desk: str
    dept_code: str | None = None
    assignment_id: str | None = None
    kind: str
    #: Who acted: ``sla`` when the ladder opened or escalated it, else the desk's user.
    by: str
    note: str | None = None
    #: ``deadline_set``: the supervised deadline the department now works to.
    deadline: datetime | None = None
    escalated_from: str | None = None


register(
    types.TASK_SUPERVISED,
    TaskSupervised,
    topics=DEPT_TASKS,
    description="督办: a late task of a unit this one supervises is on its desk (GET /api/v1/supervision).",
)
register_lifecycle(
    types.SLA_SUPERVISION,
    Supervision,
    "督办 desk: a supervision opened, urged, given a deadline, escalated or closed (sla).",
)
