"""``ticket.lifecycle``: every state change of a ticket, typed.

On the wire every lifecycle event keeps one shape, ``data = {ticket_id, status, actor, summary, detail}``;
what ``detail`` holds depends on the type, and each type has its own model below. A field a producer
leaves out at times is optional here (null when absent); a field a reader does not know is ignored.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from cityloop.common.contract import types
from cityloop.common.contract.emergencies import EmergencyDeadlines, Rehomed
from cityloop.common.contract.models import (
    ContractData,
    Deadlines,
    GridChain,
    TaskMode,
    TaskUnit,
    TicketSnapshot,
    TicketStatus,
    Urgency,
)
from cityloop.common.contract.registry import LIFECYCLE, EventSpec, register

D = TypeVar("D", bound=BaseModel)


class ClockKind(StrEnum):
    """The deadlines sla keeps (a clock per kind)."""

    ACCEPT = "accept"
    #: On site (到场), for urgent and critical tickets.
    ON_SITE = "on_site"
    RESOLVE = "resolve"
    CALLBACK = "callback"
    #: 重办: re-handle after an unsatisfied callback.
    REHANDLE = "rehandle"


class StepKind(StrEnum):
    """The steps of a clock's ladder."""

    WARNING = "warning"
    BREACH = "breach"
    SUPERVISE = "supervise"  # 督办 to the next level up
    COMMAND = "command"  # emergency: straight to the command unit
    NOTICE = "notice"  # 通报: chronic lateness


ModeKind = Literal["peacetime", "emergency"]
Role = Literal["lead", "assist"]


class SealedText(ContractData):
    """The full text of one free-text field whose copy on this event is redacted (a phone, an ID number, a
    card or an e-mail address in a department's note or a callback comment), sealed for intake's vault with
    the vault's envelope scheme (libs/common personal/sealing.py). Only the vault's keys open it."""

    #: Where the redacted copy sits on the event, e.g. ``detail.note``, ``detail.comment``.
    path: str
    key_id: str
    #: base64 of the data key wrapped by the key ``key_id``.
    wrapped_key: str
    #: base64 of the nonce and the AES-GCM ciphertext (associated data: ``<ticket_id>/<path>``).
    sealed: str


class Lifecycle(ContractData, Generic[D]):
    """The ``data`` of every ``ticket.lifecycle`` event: what changed, who did it, the status after it."""

    ticket_id: str = Field(min_length=1)
    #: The ticket's status after the change; null when the change does not move it.
    status: TicketStatus | None = None
    actor: str
    summary: str
    detail: D
    #: The full text of redacted free text in ``detail``, for intake's vault (not kept in the trail).
    sealed: list[SealedText] | None = None


class Detail(ContractData):
    """Base of every lifecycle ``detail`` model."""


def register_lifecycle(type_: str, detail: type[Detail], description: str) -> EventSpec:
    """One line per lifecycle type: its detail model and what it means."""
    return register(type_, Lifecycle[detail], topics=LIFECYCLE, description=description, detail=detail)  # type: ignore[valid-type]


# --- intake -----------------------------------------------------------------------------------------


class TicketCreated(TicketSnapshot, Detail):
    """The ticket as received, personal data masked: what routing needs."""

    attributes: dict[str, Any] | None = None
    attachments: list[str] | None = None
    #: The operator answered on the spot (直接答复): the ticket is closed already, nobody dispatches it.
    direct_answer: bool | None = None


# --- router -----------------------------------------------------------------------------------------


class Correction(ContractData):
    by: str
    note: str | None = None
    category: str | None = None
    dept_code: str | None = None


class RejectionRecord(ContractData):
    dept_code: str
    reason: str | None = None
    suggested_dept: str | None = None
    outcome: str | None = None


class Arbitration(ContractData):
    decided_by: str
    dept_code: str
    note: str | None = None
    final: bool = True
    rejections: list[RejectionRecord] = Field(default_factory=list)


class RoutingDetail(Detail):
    """What a routing decision says about how it came about (set when it applies)."""

    #: Assignments this routing replaced (re-dispatch after 退单, a dispatcher's correction).
    replaces: list[str] | None = None
    #: The dispatcher who confirmed a queued ticket's routing.
    confirmed_by: str | None = None
    correction: Correction | None = None
    arbitration: Arbitration | None = None
    #: The case (并单) the ticket was split from before this routing.
    split_from: str | None = None


class HandedOver(RoutingDetail):
    handover_to: str
    why: dict[str, Any] = Field(default_factory=dict)


class NeedsDispatcher(RoutingDetail):
    #: unresolved_location, unclassified, rejected, arbitration ...
    queue_reason: str | None = None
    why: dict[str, Any] | None = None
    #: After a 退单: how many rejections the ticket has had, and why it waits for a dispatcher.
    rejections: int | None = None
    explanation: str | None = None


class CataloguePolicy(ContractData):
    """The catalogue's working days for the ticket's category."""

    accept_days: int | None = Field(default=None, ge=0)
    resolve_days: int | None = Field(default=None, ge=0)


class AssistAssignment(ContractData):
    dept_code: str
    assignment_id: str
    role: Role = "assist"


class RoutedLocation(ContractData):
    chain: GridChain = Field(default_factory=GridChain)
    #: grid, community, street or district: how far down the location was resolved.
    level: str | None = None
    how: str = ""


class DeptArea(ContractData):
    """Where a department itself sits: its level, and its district and street when it has them."""

    level: str | None = None
    district: str | None = None
    street: str | None = None


class Dispatched(RoutingDetail):
    dept_code: str
    #: The lead department's own area (not the ticket's): whose area scores its staff may read.
    dept_area: DeptArea | None = None
    #: The lead department's name (Open311's ``agency_responsible``).
    dept_name: str | None = None
    assignment_id: str
    role: Role = "lead"
    category: str
    urgency: Urgency
    #: Deprecated, no longer sent: sla owns deadlines (cityloop.sla.deadlines_set). Kept so the contract
    #: stays additive.
    deadlines: Deadlines | None = None
    #: When the citizen reported the ticket: urgent and critical clocks count from it.
    reported_at: datetime | None = None
    policy: CataloguePolicy = Field(default_factory=CataloguePolicy)
    #: Department codes up the jurisdiction chain (street -> district -> city), for 督办.
    supervisors: list[str] = Field(default_factory=list)
    #: 督办 desks: the operations centres that supervise the lead, nearest first (district ops for a street
    #: or district unit, then city ops); sla puts a late task on their desk (contract/supervision.py).
    desks: list[str] = Field(default_factory=list)
    assists: list[AssistAssignment] = Field(default_factory=list)
    case_id: str | None = None
    location: RoutedLocation = Field(default_factory=RoutedLocation)
    #: Decided by arbitration: no further 退单.
    final: bool = False
    why: dict[str, Any] = Field(default_factory=dict)
    #: Emergency mode (平战结合); absent means peacetime.
    mode: TaskMode | None = None
    command_unit: str | None = None
    #: Under an emergency: its wall-clock minutes, from which sla counts this ticket's deadlines.
    emergency_deadlines: EmergencyDeadlines | None = None
    #: Set when an emergency's declaration, change or stand-down moved this open ticket (not a new routing).
    rehomed: Rehomed | None = None
    #: 五级应用: the residents' committee or grid team that leads, through its street's platform (dept_code).
    unit: TaskUnit | None = None


class Merged(Detail):
    """并单: the ticket joined an open case; the case's lead department answers this citizen too."""

    case_id: str
    merged_into: str
    #: The case's lead department (its name is Open311's ``agency_responsible``), when it holds a task.
    dept_code: str | None = None
    dept_name: str | None = None
    assignment_id: str | None = None
    why: dict[str, Any] = Field(default_factory=dict)
    #: The ticket's own category and place, as on ``cityloop.ticket.dispatched`` (counted for hot spots).
    category: str | None = None
    location: RoutedLocation | None = None
    #: Set when the case was re-dispatched (a new lead): the lead assignments this statement replaces. The
    #: ticket joined the case earlier; it is not a new sighting.
    replaces: list[str] | None = None


class Split(Detail):
    case_id: str
    note: str | None = None


class DeptStep(Detail):
    """A department's update on its assignment, as router applied it."""

    dept_code: str
    assignment_id: str
    role: Role = "lead"
    note: str | None = None
    #: For an assisting department (协办), whose steps never move the ticket: which update it was.
    update: str | None = None
    #: Set on the copy told to each ticket merged into the lead's case.
    case_id: str | None = None


class Progress(DeptStep):
    #: An assisting department's extension request travels as progress.
    requested_deadline: datetime | None = None
    #: 先行处置: under an emergency a 退单 is only noted (``update: rejection_noted``), the task stays.
    reason: str | None = None
    suggested_dept: str | None = None
    emergency_id: str | None = None
    outcome: str | None = None
    #: The crew reached the site (到场): sla meets the on-site clock.
    on_site: bool | None = None


class Rejected(DeptStep):
    """退单."""

    reason: str
    suggested_dept: str | None = None
    #: A lead's rejection: how many the ticket has had, and what router did about it.
    rejections: int | None = None
    outcome: Literal["redispatch", "dispatcher", "arbitration"] | None = None
    explanation: str | None = None


class ExtensionRequested(DeptStep):
    requested_deadline: datetime


# --- 重办 (router, after feedback's callback verdict) and closing (feedback) ----------------------------


class Reopened(Detail):
    """重办: the lead's assignment is live again after a failed callback, with how far it was escalated."""

    dept_code: str | None = None
    assignment_id: str | None = None
    callback_id: int | None = None
    solved: bool | None = None
    satisfaction: str | None = None
    reason: str | None = None
    #: Failed callbacks so far; 0 escalation keeps it with the lead alone.
    failures: int | None = None
    escalation_level: int = 0
    #: The unit one (or more) levels up the jurisdiction that now supervises the re-handling.
    escalated_to: str | None = None
    case_id: str | None = None
    #: Set on a case member's ticket reopened because another citizen of the case was not satisfied.
    because_of: str | None = None


class Closed(Detail):
    """Closed after the callback (its outcome), or answered on the spot (``direct_answer``)."""

    direct_answer: str | None = None
    callback_id: int | None = None
    dept_code: str | None = None
    assignment_id: str | None = None
    solved: bool | None = None
    satisfaction: str | None = None
    #: Closed because the citizen could not be reached within the attempt limit.
    unreachable: bool | None = None


# --- sla --------------------------------------------------------------------------------------------


class ClockDetail(Detail):
    kind: ClockKind
    due_at: datetime
    dept_code: str | None = None
    assignment_id: str | None = None


class DeadlinesSet(Detail):
    #: Per clock kind, its deadline.
    deadlines: dict[ClockKind, datetime]
    #: Clock kinds counted weekends-only for a year the official calendar does not cover yet.
    estimated: list[ClockKind] = Field(default_factory=list)
    mode: ModeKind = "peacetime"
    dept_code: str | None = None
    assignment_id: str | None = None


class DeadlineMet(ClockDetail):
    late: bool


class DeadlineCancelled(ClockDetail):
    pass


class ClockStep(ClockDetail):
    """A step of the ladder fired: warning, breach (催办), 督办, command unit, 通报."""

    step: StepKind
    scheduled_at: datetime
    category: str | None = None
    clock_id: int
    #: Who the step is raised to, and that unit's level up the chain.
    to: str | None = None
    level: int | None = None


class ExtensionApproved(ClockDetail):
    extension_id: int
    previous_due_at: datetime
    decided_by: str


class ExtensionRejected(ClockDetail):
    extension_id: int
    requested_deadline: datetime
    reason: str
    decided_by: str


register_lifecycle(types.TICKET_CREATED, TicketCreated, "A ticket was received (intake).")
register_lifecycle(types.TICKET_NEEDS_DISPATCHER, NeedsDispatcher, "The ticket waits for a dispatcher (router).")
register_lifecycle(types.TICKET_HANDED_OVER, HandedOver, "Handed over to 110/119/120/122 (router).")
register_lifecycle(types.TICKET_DISPATCHED, Dispatched, "Dispatched to a lead department, with assists (router).")
register_lifecycle(types.TICKET_MERGED, Merged, "并单: joined an open case (router).")
register_lifecycle(types.TICKET_SPLIT, Split, "Split from a case by a dispatcher (router).")
register_lifecycle(types.TICKET_ACCEPTED, DeptStep, "The lead department accepted the task (router).")
register_lifecycle(types.TICKET_REJECTED, Rejected, "退单: a department rejected its task (router).")
register_lifecycle(types.TICKET_PROGRESS, Progress, "A department reported progress (router).")
register_lifecycle(
    types.TICKET_EXTENSION_REQUESTED, ExtensionRequested, "延期: the lead department asked for more time (router)."
)
register_lifecycle(types.TICKET_RESOLVED, DeptStep, "The lead department reported the ticket resolved (router).")
register_lifecycle(types.TICKET_REOPENED, Reopened, "重办: reopened to the lead after a failed callback (router).")
register_lifecycle(types.TICKET_CLOSED, Closed, "Closed after the callback or answered on the spot (feedback, intake).")
register_lifecycle(types.SLA_DEADLINES_SET, DeadlinesSet, "Deadlines set or moved (sla).")
register_lifecycle(types.SLA_DEADLINE_MET, DeadlineMet, "A deadline was met, possibly late (sla).")
register_lifecycle(types.SLA_DEADLINE_CANCELLED, DeadlineCancelled, "A clock stopped: the assignment ended (sla).")
register_lifecycle(types.SLA_WARNING, ClockStep, "预警: a deadline approaches (sla).")
register_lifecycle(types.SLA_BREACHED, ClockStep, "催办: a deadline was missed (sla).")
register_lifecycle(types.SLA_ESCALATED, ClockStep, "督办, command unit or 通报 after a missed deadline (sla).")
register_lifecycle(types.SLA_EXTENSION_APPROVED, ExtensionApproved, "延期 approved: the deadline moved (sla).")
register_lifecycle(types.SLA_EXTENSION_REJECTED, ExtensionRejected, "延期 rejected: the deadline stays (sla).")
