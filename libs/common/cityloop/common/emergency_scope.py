"""Which emergency a ticket falls under: its category is covered and its place is in scope; where scopes
overlap the higher level wins (I beats IV), a tie goes to the earlier declaration (then the id). Pure,
shared by every service that follows ``control.mode`` (router routes by it, sla escalates by it)."""

from collections.abc import Iterable
from datetime import datetime

from cityloop.common.contract.emergencies import LEVEL_RANK, Emergency, EmergencyScope


def covers(emergency: Emergency, category: str | None) -> bool:
    """A listed code covers itself and, when it is a branch of the catalogue tree, every leaf under it."""
    if not category:
        return False
    return any(category == c or category.startswith(f"{c}.") for c in emergency.categories)


def in_scope(scope: EmergencyScope, district: str | None, street: str | None) -> bool:
    if scope.city:
        return True
    return (district is not None and district in scope.districts) or (street is not None and street in scope.streets)


def precedence(emergency: Emergency) -> tuple[int, datetime, str]:
    return LEVEL_RANK[emergency.level], emergency.declared_at, emergency.id


def applicable(
    emergencies: Iterable[Emergency], category: str | None, district: str | None, street: str | None
) -> Emergency | None:
    """The emergency a ticket falls under, or None (peacetime)."""
    matching = [e for e in emergencies if e.active and covers(e, category) and in_scope(e.scope, district, street)]
    return min(matching, key=precedence) if matching else None
