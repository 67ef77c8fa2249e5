"""The routing decision: a pure function of (ticket, master data). No I/O here.

route(ticket, catalogue) -> Decision says who leads, who assists, or why a person must decide.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    type: str
    level: str
    district: str | None


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    dept_type: str | None
    dept_level: str
    handover_to: str | None
    accept_days: int
    resolve_days: int


@dataclass(frozen=True)
class Catalogue:
    categories: dict[str, Category]
    departments: dict[str, Department]
    #: district name as written in addresses -> district code
    districts: dict[str, str]

    def unit(self, dept_type: str, level: str, district: str | None) -> Department | None:
        for dept in self.departments.values():
            if dept.type != dept_type or dept.level != level:
                continue
            if level == "city" or dept.district == district:
                return dept
        return None


@dataclass(frozen=True)
class RoutingTicket:
    ticket_id: str
    category: str | None
    address: str | None


@dataclass(frozen=True)
class Decision:
    """``outcome`` is one of dispatch, handover, needs_dispatcher; ``why`` explains it for the trail."""

    outcome: str
    why: dict[str, str] = field(default_factory=dict)
    lead: Department | None = None
    category: Category | None = None
    handover_to: str | None = None


def resolve_district(address: str | None, districts: dict[str, str]) -> str | None:
    if not address:
        return None
    for name, code in districts.items():
        if name in address:
            return code
    return None


def route(ticket: RoutingTicket, catalogue: Catalogue) -> Decision:
    category = catalogue.categories.get(ticket.category or "")
    if category is None:
        return Decision("needs_dispatcher", {"problem": f"unknown or missing category {ticket.category!r}"})
    if category.handover_to:
        return Decision(
            "handover",
            {"rule": f"{category.code} goes to {category.handover_to}"},
            None,
            category,
            category.handover_to,
        )
    assert category.dept_type is not None
    district = resolve_district(ticket.address, catalogue.districts)
    if district is None and category.dept_level != "city":
        return Decision("needs_dispatcher", {"problem": "location not resolved to a district"}, None, category)
    lead = catalogue.unit(category.dept_type, category.dept_level, district)
    if lead is None:
        return Decision(
            "needs_dispatcher",
            {"problem": f"no {category.dept_level} {category.dept_type} unit for district {district}"},
            None,
            category,
        )
    return Decision(
        "dispatch",
        {
            "category": category.code,
            "rule": f"{category.code} -> {category.dept_level} {category.dept_type}",
            "location": district or "city",
        },
        lead,
        category,
    )
