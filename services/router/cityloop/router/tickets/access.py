"""Who may read router's records of a ticket: a department only while it holds an assignment of it.

Router knows the assignments itself (tickets/store.py), so it checks with its own data and answers 404,
never the record, to any other department; hotline staff, the command centre, auditors and admin read all.
"""

from collections.abc import Iterable
from typing import Any

from cityloop.common.identity import Identity, Role

#: Statuses in which a department holds an assignment (withdrawn and rejected ones are no longer its own).
HELD = ("assigned", "accepted", "resolved", "reopened")


def may_read(identity: Identity, assignments: Iterable[Any]) -> bool:
    """``assignments``: rows (or mappings) with dept_code and status."""
    if identity.role is not Role.DEPARTMENT:
        return True
    return any(a["dept_code"] == identity.dept_code and a["status"] in HELD for a in assignments)


def department_of(identity: Identity) -> str | None:
    """The department a list must be narrowed to (None: the caller sees every ticket's records)."""
    return (identity.dept_code or "") if identity.role is Role.DEPARTMENT else None
