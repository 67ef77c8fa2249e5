"""The rules of emergency mode, as the city's 平战结合 (two modes) rules state them. Pure functions over plain data.

- Which emergency applies to a ticket: its category is covered and its place is in scope; where scopes
  overlap the higher level wins (I beats IV), a tie goes to the earlier declaration (then the id)
  (libs/common emergency_scope.py, shared with sla).
- Routing under it: the command unit leads, every participating department for the category gets the
  task at once (联勤联动).
- Re-homing a ticket from one owner set to another: who keeps a task (with a new role), who loses it,
  who gets a new one.
- Incidents (一件事): near-duplicates merge over a wider radius and a shorter window than in peacetime.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

from cityloop.common.contract.emergencies import Emergency, EmergencyScope
from cityloop.router.masterdata.model import Category, Department, MasterData

#: the department type of an operations centre (城运中心), the only kind of unit that commands
COMMAND_TYPE = "ops"
COMMAND_LEVELS = ("city", "district")
#: incidents: this many times the peacetime radius, within this share of the peacetime window
INCIDENT_RADIUS_FACTOR = 2
INCIDENT_WINDOW_SHARE = 4


def participants_for(emergency: Emergency, category: str) -> list[str]:
    """The departments listed for ``category``, or for the nearest branch above it."""
    code = category
    while code:
        if code in emergency.participants:
            return list(emergency.participants[code])
        code = code.rpartition(".")[0]
    return []


@dataclass(frozen=True)
class EmergencyRouting:
    lead: Department
    joint: tuple[Department, ...]
    why: dict[str, object]


def route_under(emergency: Emergency, category: Category, master: MasterData) -> EmergencyRouting | None:
    """The command unit leads; each participating department for the category gets a joint task. None
    when the command unit is no longer in the master data (then peacetime rules route the ticket)."""
    lead = master.departments.get(emergency.command_unit)
    if lead is None:
        return None
    joint = []
    missing = []
    for code in participants_for(emergency, category.code):
        dept = master.departments.get(code)
        if dept is None:
            missing.append(code)
        elif dept.code != lead.code and dept not in joint:
            joint.append(dept)
    why: dict[str, object] = {
        "rule": f"emergency {emergency.id} ({emergency.name}, level {emergency.level}): {lead.code} commands,"
        f" {len(joint)} participating department(s) act at once (联勤联动)",
        "emergency": {"id": emergency.id, "name": emergency.name, "level": emergency.level},
    }
    if missing:
        why["participants_missing"] = missing
    return EmergencyRouting(lead, tuple(joint), why)


def incident_category(category: Category) -> Category:
    """The category with the emergency's merge window (一件事: one event, many callers): twice the radius,
    a quarter of the window (at least an hour). A category the catalogue never merges (a leak in one flat
    is not the neighbour's) stays unmerged."""
    if not category.merges:
        return category
    metres = category.merge_metres * INCIDENT_RADIUS_FACTOR
    hours = max(1, category.merge_hours // INCIDENT_WINDOW_SHARE)
    return replace(category, merge_metres=metres, merge_hours=hours)


# ------------------------------------------------------------------------------------------ re-homing


@dataclass(frozen=True)
class LiveTask:
    assignment_id: str
    dept_code: str
    role: str


@dataclass(frozen=True)
class RehomePlan:
    #: (assignment id, department, its new role): the department keeps its task, told of the new mode
    keep: tuple[tuple[str, str, str], ...]
    #: assignments taken back (cityloop.task.withdrawn)
    withdraw: tuple[LiveTask, ...]
    #: (department, role) that get a new task
    create: tuple[tuple[str, str], ...]


def rehome_plan(live: Sequence[LiveTask], lead: str, joint: Sequence[str]) -> RehomePlan:
    """From the live tasks to ``lead`` + ``joint``: a department that already holds a task keeps it (in
    its new role), one that is no longer wanted loses it, one that is new gets one. At stand-down this
    keeps the peacetime lead's joint task (it becomes the lead task) and withdraws every other joint task."""
    wanted: dict[str, str] = {lead: "lead"}
    for code in joint:
        wanted.setdefault(code, "assist")
    keep: list[tuple[str, str, str]] = []
    withdraw: list[LiveTask] = []
    held: set[str] = set()
    for task in live:
        role = wanted.get(task.dept_code)
        if role is None or task.dept_code in held:
            withdraw.append(task)
        else:
            keep.append((task.assignment_id, task.dept_code, role))
            held.add(task.dept_code)
    create = tuple((code, role) for code, role in wanted.items() if code not in held)
    return RehomePlan(tuple(keep), tuple(withdraw), create)


# ------------------------------------------------------------------------------------------ validation


@dataclass(frozen=True)
class Problem:
    field: str
    problem: str


def check_declaration(
    *,
    scope: EmergencyScope,
    categories: Sequence[str],
    command_unit: str,
    participants: dict[str, list[str]],
    master: MasterData,
) -> list[Problem]:
    """Everything wrong with a declaration (or its state after a PATCH), each naming its field."""
    problems: list[Problem] = []
    if not scope.city and not scope.districts and not scope.streets:
        problems.append(Problem("scope", "the scope is empty: name districts or streets, or set city"))
    for i, code in enumerate(scope.districts):
        if code not in master.districts:
            problems.append(Problem(f"scope.districts.{i}", f"unknown district {code!r}"))
    for i, code in enumerate(scope.streets):
        if code not in master.streets:
            problems.append(Problem(f"scope.streets.{i}", f"unknown street {code!r}"))
    if not categories:
        problems.append(Problem("categories", "name at least one catalogue category"))
    for i, code in enumerate(categories):
        if code not in master.categories and code not in master.groups:
            problems.append(Problem(f"categories.{i}", f"unknown catalogue category {code!r}"))
    unit = master.departments.get(command_unit)
    if unit is None:
        problems.append(Problem("command_unit", f"unknown department {command_unit!r}"))
    elif unit.type != COMMAND_TYPE or unit.level not in COMMAND_LEVELS:
        problems.append(
            Problem(
                "command_unit",
                f"{command_unit} is a {unit.level} {unit.type} unit: the command unit must be a city or district"
                " operations centre (ops)",
            )
        )
    covered = set(categories)
    for category, depts in participants.items():
        if category not in covered and not any(category.startswith(f"{c}.") for c in covered):
            problems.append(Problem(f"participants.{category}", f"{category!r} is not among the categories"))
        for i, code in enumerate(depts):
            if code not in master.departments:
                problems.append(Problem(f"participants.{category}.{i}", f"unknown department {code!r}"))
    return problems


def default_participants(
    categories: Sequence[str], district: str | None, street: str | None, master: MasterData
) -> dict[str, list[str]]:
    """For a declaration prefilled from a surge proposal: per category, the catalogue's lead and assisting
    units serving that place (the departments peacetime would have sent)."""
    result: dict[str, list[str]] = {}
    for code in categories:
        leaves = [c for c in master.leaves() if c.code == code or c.code.startswith(f"{code}.")]
        for category in leaves:
            units: list[str] = []
            for resp in (category.lead, *category.assists):
                if resp is None:
                    continue
                found = (
                    master.platform(street)
                    if resp.below_platforms
                    else master.unit(
                        resp.type,
                        resp.level,
                        district=district,
                        street=street if resp.level == "street" else None,
                    )
                )
                if found is not None and found.code not in units:
                    units.append(found.code)
            if units:
                result[category.code] = units
    return result
