"""督办 desk rules, pure: which desk a supervise step reaches, the next one up, who may act."""

from collections.abc import Sequence
from datetime import date, timedelta

from cityloop.common.identity import Identity, Role


def desk_at(level: int, desks: Sequence[str]) -> str | None:
    """The desk of the ``level``-th 督办 step (1 = first): the nearest desk first, the topmost one for
    every step beyond the chain; None when nobody supervises the unit (the city's own centre)."""
    if not desks or level < 1:
        return None
    return desks[min(level, len(desks)) - 1]


def next_desk(current: str, desks: Sequence[str]) -> str | None:
    """The desk above ``current``; None at the top."""
    if current not in desks:
        return None
    index = list(desks).index(current)
    return desks[index + 1] if index + 1 < len(desks) else None


def may_read(identity: Identity, desk: str) -> bool:
    """A supervising unit reads its own desk; dispatchers, command centres, auditors and admins read all."""
    if identity.role is Role.DEPARTMENT:
        return identity.dept_code == desk
    return identity.role in {Role.DISPATCHER, Role.COMMAND_CENTRE, Role.AUDITOR, Role.ADMIN}


def may_act(identity: Identity, desk: str) -> bool:
    """Only the desk's own unit acts on a supervision (admins too, for repairs); auditors never edit."""
    if identity.role is Role.DEPARTMENT:
        return identity.dept_code == desk
    return identity.role is Role.ADMIN


def period_bounds(period: str, day: date) -> tuple[date, date]:
    """The city's day, ISO week (Monday–Sunday) or calendar month around ``day``: (first, last)."""
    if period == "day":
        return day, day
    if period == "week":
        first = day - timedelta(days=day.weekday())
        return first, first + timedelta(days=6)
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)
