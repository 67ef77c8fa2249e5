"""Who may see what: pure rules over an identity and what intake knows about a ticket.

A department sees only tickets assigned to it now or before; full personal data goes only to those who
need it: the call-taker who took the call, the department while it holds the ticket, and admins.
"""

from dataclasses import dataclass

from cityloop.common.identity import Identity, Role

#: Who may create tickets (admin always may). Auditors read, never edit.
CREATORS = (Role.CALL_TAKER, Role.DISPATCHER, Role.DEPARTMENT, Role.COMMAND_CENTRE, Role.SYSTEM)
#: Who may read the access log of full personal-data reads.
AUDITORS = (Role.AUDITOR,)


@dataclass(frozen=True)
class TicketAccess:
    """What the rules need to know about one ticket."""

    created_by: str | None
    depts_ever: frozenset[str]
    depts_now: frozenset[str]


def may_see_ticket(identity: Identity, access: TicketAccess) -> bool:
    if identity.role is Role.DEPARTMENT:
        return identity.dept_code is not None and identity.dept_code in access.depts_ever
    return True


def may_see_personal_data(identity: Identity, access: TicketAccess) -> bool:
    if identity.role is Role.ADMIN:
        return True
    if identity.role is Role.CALL_TAKER:
        return access.created_by is not None and access.created_by == identity.subject
    if identity.role is Role.DEPARTMENT:
        return identity.dept_code is not None and identity.dept_code in access.depts_now
    return False


def department_scope(identity: Identity) -> str | None:
    """The department a list must be limited to, or None for roles that see every ticket."""
    if identity.role is Role.DEPARTMENT:
        # A department account without a department sees nothing rather than everything.
        return identity.dept_code or "\x00none"
    return None
