"""Deadline policies (时限): how long each clock runs, per category, urgency and mode.

Defaults follow the published local rules: accept (签收 and first contact) 1 working day, resolve (办结) 5, at most 15
with an approved extension (延期), callback 2, re-handle (重办) 3. Urgent and critical tickets (a gas
leak) run on the wall clock, around the clock: dispatched and accepted within 15 minutes of the report,
on site (到场) within 1 hour; emergency mode runs every clock in minutes. ``policy_for`` picks the most
specific rule: a pure function.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cityloop.common.contract.emergencies import EmergencyDeadlines
from cityloop.common.contract.lifecycle import ClockKind
from cityloop.common.contract.models import Urgency

Mode = Literal["peacetime", "emergency"]
#: Tickets whose clocks run in wall-clock minutes unless a rule naming their urgency says otherwise.
PRESSING = frozenset({Urgency.URGENT, Urgency.CRITICAL})


class Span(BaseModel):
    """A length of time: working days on the official calendar, or wall-clock seconds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    working_days: int | None = Field(default=None, ge=0)
    seconds: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> "Span":
        if (self.working_days is None) == (self.seconds is None):
            raise ValueError("a span is either working_days or seconds, exactly one")
        return self

    @classmethod
    def days(cls, n: int) -> "Span":
        return cls(working_days=n)

    @classmethod
    def minutes(cls, n: float) -> "Span":
        return cls(seconds=n * 60)


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    accept: Span = Span.days(1)
    #: None: no on-site clock is opened.
    on_site: Span | None = None
    resolve: Span = Span.days(5)
    callback: Span = Span.days(2)
    rehandle: Span = Span.days(3)
    #: An approved extension may move resolve-by at most this far from when the clock started.
    extension_cap: Span = Span.days(15)
    #: 预警 at this share of the allowed time.
    warn_ratio: float = Field(default=0.8, gt=0, lt=1)
    #: After the breach (催办), one step up the ladder (督办, then 通报) every this long.
    escalate_every: Span = Span.days(1)
    #: Where a dispatch's clocks (accept, on site, resolve) start: at the dispatch, or at the citizen's
    #: report, so that the minutes of an urgent ticket cover the dispatch too.
    counts_from: Literal["dispatch", "report"] = "dispatch"

    def span(self, kind: ClockKind) -> Span | None:
        spans: dict[ClockKind, Span | None] = {
            ClockKind.ACCEPT: self.accept,
            ClockKind.ON_SITE: self.on_site,
            ClockKind.RESOLVE: self.resolve,
            ClockKind.CALLBACK: self.callback,
            ClockKind.REHANDLE: self.rehandle,
        }
        return spans[kind]


EMERGENCY_POLICY = Policy(
    accept=Span.minutes(15),
    on_site=Span.minutes(60),
    resolve=Span.minutes(240),
    callback=Span.minutes(24 * 60),
    rehandle=Span.minutes(120),
    extension_cap=Span.minutes(24 * 60),
    escalate_every=Span.minutes(15),
)


class PolicyRule(BaseModel):
    """Applies ``policy`` to tickets matching every field given (a category matches itself and its
    sub-categories: ``water`` matches ``water.outage``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: str | None = None
    urgency: Urgency | None = None
    #: A rule belongs to one mode: a peacetime rule never stretches an emergency's wall-clock minutes.
    mode: Mode = "peacetime"
    policy: Policy

    def matches(self, category: str | None, urgency: Urgency | None, mode: Mode) -> bool:
        if self.mode != mode:
            return False
        if self.urgency is not None and self.urgency != urgency:
            return False
        if self.category is not None:
            return category is not None and (category == self.category or category.startswith(f"{self.category}."))
        return True

    def specificity(self) -> tuple[int, int]:
        return (1 + self.category.count(".") if self.category else 0, int(self.urgency is not None))


#: Urgent and critical tickets in peacetime: dispatched and accepted within 15 minutes of the report, on
#: site within the hour, the ladder climbing every 15 minutes, day and night; resolve by the catalogue.
PRESSING_POLICY = Policy(
    accept=Span.minutes(15),
    on_site=Span.minutes(60),
    escalate_every=Span.minutes(15),
    counts_from="report",
)


class PolicyBook(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    peacetime: Policy = Policy()
    #: Urgent and critical tickets in peacetime.
    pressing: Policy = PRESSING_POLICY
    emergency: Policy = EMERGENCY_POLICY
    rules: tuple[PolicyRule, ...] = ()


def policy_for(book: PolicyBook, *, category: str | None, urgency: Urgency | None, mode: Mode) -> Policy:
    """The most specific matching rule's policy, else the default for the mode and urgency (first rule
    wins a tie). An urgent or critical ticket takes only rules that name its urgency: a category's
    working-day rule never stretches a gas leak's minutes."""
    pressing = urgency in PRESSING and mode == "peacetime"
    best: PolicyRule | None = None
    for rule in book.rules:
        if pressing and rule.urgency is None:
            continue
        if rule.matches(category, urgency, mode) and (best is None or rule.specificity() > best.specificity()):
            best = rule
    if best is not None:
        return best.policy
    if mode == "emergency":
        return book.emergency
    return book.pressing if pressing else book.peacetime


def with_emergency_minutes(policy: Policy, minutes: EmergencyDeadlines | None) -> Policy:
    """An emergency's declared minutes replace the policy's accept, on-site and resolve spans; they run
    around the clock from the dispatch (a re-homed ticket's clocks restart at the switch)."""
    if minutes is None:
        return policy
    return policy.model_copy(
        update={
            "accept": Span.minutes(minutes.accept_minutes),
            "on_site": Span.minutes(minutes.onsite_minutes),
            "resolve": Span.minutes(minutes.resolve_minutes),
            "counts_from": "dispatch",
        }
    )


def with_catalogue_days(policy: Policy, *, accept_days: int | None, resolve_days: int | None) -> Policy:
    """The dispatch catalogue's per-category days (sent by the router) override working-day spans."""
    changes: dict[str, Span] = {}
    if accept_days is not None and policy.accept.working_days is not None:
        changes["accept"] = Span.days(accept_days)
    if resolve_days is not None and policy.resolve.working_days is not None:
        changes["resolve"] = Span.days(resolve_days)
    return policy.model_copy(update=changes) if changes else policy
