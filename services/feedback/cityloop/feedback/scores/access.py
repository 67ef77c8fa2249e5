"""Who sees which scores: pure rules over the caller's identity and where its department sits."""

from dataclasses import dataclass

from cityloop.common.identity import Identity, Role
from cityloop.feedback.scores.rules import CITY_KEY, Level

#: Roles that read every score (admin passes every guard as well).
READ_ALL = (Role.COMMAND_CENTRE, Role.AUDITOR, Role.ADMIN)
READERS = (*READ_ALL, Role.DEPARTMENT)


@dataclass(frozen=True)
class DeptArea:
    """The areas a department belongs to (its own street and district, if it has them)."""

    district: str | None = None
    street: str | None = None


def visible_keys(identity: Identity, level: Level, area: DeptArea | None) -> frozenset[str] | None:
    """The items of ``level`` the caller may see; None means all of them."""
    if identity.role in READ_ALL:
        return None
    if identity.role is not Role.DEPARTMENT or not identity.dept_code:
        return frozenset()
    area = area or DeptArea()
    own = {
        Level.DEPARTMENT: identity.dept_code,
        Level.STREET: area.street,
        Level.DISTRICT: area.district,
        Level.CITY: CITY_KEY,
    }[level]
    return frozenset({own}) if own else frozenset()
