"""/api/v1/tickets: create, read, list/search, timeline; /api/v1/access-log for auditors."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status

from cityloop.common.db.pool import Conn
from cityloop.common.deps import Db, Pool, Tx
from cityloop.common.errors import NotFound
from cityloop.common.http_errors import ErrorBody
from cityloop.common.identity import Identity
from cityloop.common.paging import Cursor, Page
from cityloop.common.personal.vault_keys import Keyring
from cityloop.intake.access import store as access_log_store
from cityloop.intake.access.rules import (
    AUDITORS,
    CREATORS,
    TicketAccess,
    department_scope,
    may_see_personal_data,
    may_see_ticket,
)
from cityloop.intake.accounts.authn import Authenticated, allow
from cityloop.intake.models import (
    AccessLogEntry,
    PhoneLookup,
    TicketCreate,
    TicketFilters,
    TicketOut,
    TimelineEntry,
)
from cityloop.intake.presenting import ticket_out
from cityloop.intake.tickets import search as ticket_search
from cityloop.intake.tickets import store
from cityloop.intake.tickets.creation import Release, create_ticket
from cityloop.intake.trail import store as trail
from cityloop.intake.vault.flows import VaultKeys, phone_index, release

router = APIRouter(prefix="/api/v1", tags=["tickets"])

_ERROR: dict[str, Any] = {"model": ErrorBody}


def _not_found(ticket_id: str) -> NotFound:
    # The same answer whether the ticket does not exist or the caller may not see it: never a hint.
    return NotFound(f"no ticket {ticket_id}")


async def _access(conn: Conn, ticket_id: str) -> TicketAccess | None:
    row = await store.ticket_access(conn, ticket_id)
    if row is None:
        return None
    return TicketAccess(
        created_by=row["created_by"], depts_ever=frozenset(row["depts_ever"]), depts_now=frozenset(row["depts_now"])
    )


async def _present(conn: Conn, keyring: Keyring, identity: Identity, ticket_id: str, *, purpose: str) -> TicketOut:
    """One ticket for ``identity``: 404 if it may not see it; full personal data only if allowed (released
    from the vault), and every release logged."""
    access = await _access(conn, ticket_id)
    if access is None or not may_see_ticket(identity, access):
        raise _not_found(ticket_id)
    row = await store.get_ticket(conn, ticket_id)
    if row is None:
        raise _not_found(ticket_id)
    personal = await release(conn, keyring, ticket_id) if may_see_personal_data(identity, access) else None
    if personal is not None and (fields := personal.revealed()):
        await access_log_store.record_access(
            conn,
            subject=identity.subject,
            role=identity.role.value,
            dept_code=identity.dept_code,
            ticket_id=ticket_id,
            fields=fields,
            purpose=purpose,
        )
    return ticket_out(row, personal)


@router.post(
    "/tickets",
    operation_id="create_ticket",
    status_code=status.HTTP_201_CREATED,
    response_model=TicketOut,
    responses={
        200: {"description": "Replay of an earlier request with the same Idempotency-Key", "model": TicketOut},
        409: {"description": "The Idempotency-Key was used with a different body", **_ERROR},
        422: {"description": "Invalid fields", **_ERROR},
    },
)
async def create(
    body: TicketCreate,
    pool: Pool,
    response: Response,
    identity: Annotated[Identity, allow(*CREATORS)],
    *,
    keyring: VaultKeys,
    idempotency_key: Annotated[
        str | None,
        Header(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$", description="Retry-safe creation"),
    ] = None,
) -> TicketOut:
    # The creator's view of a ticket it has just made: the rules decide it here as _present would, so the
    # answer comes from the creating statement itself (no read-back, the release logged in that statement).
    own = TicketAccess(created_by=identity.subject, depts_ever=frozenset(), depts_now=frozenset())
    release = (
        Release(identity.subject, identity.role.value, identity.dept_code, purpose="ticket.create")
        if may_see_personal_data(identity, own)
        else None
    )
    created = await create_ticket(
        pool, body, keyring=keyring, created_by=identity.subject, idempotency_key=idempotency_key, release=release
    )
    response.headers["Location"] = f"/api/v1/tickets/{created.ticket_id}"
    if created.row is not None and may_see_ticket(identity, own):
        return ticket_out(created.row, created.personal)
    if not created.new:
        response.status_code = status.HTTP_200_OK
    async with pool.acquire() as conn, conn.transaction():
        return await _present(conn, keyring, identity, created.ticket_id, purpose="ticket.create")


@router.get(
    "/tickets",
    operation_id="list_tickets",
    responses={422: {"description": "Invalid filters, or a cursor this list did not return", **_ERROR}},
)
async def search(filters: Annotated[TicketFilters, Query()], identity: Authenticated, conn: Db) -> Page[TicketOut]:
    """Newest first. Personal data is always masked in lists; read one ticket for more."""
    values: dict[str, Any] = {name: getattr(filters, name) for name in TicketFilters.model_fields}
    rows = await ticket_search.list_tickets(
        conn, filters=values, dept_scope=department_scope(identity), cursor=filters.cursor, limit=filters.limit + 1
    )
    return ticket_search.TICKET_ORDER.page(rows, filters.limit, ticket_out)


@router.post(
    "/tickets/by-phone",
    operation_id="find_tickets_by_phone",
    responses={422: {"description": "Not a valid phone number, or a cursor this list did not return", **_ERROR}},
)
async def by_phone(
    lookup: PhoneLookup, identity: Annotated[Identity, allow(*CREATORS)], conn: Db, keyring: VaultKeys
) -> Page[TicketOut]:
    """Repeat callers: this phone number's tickets, newest first, found through the vault's blind index (a
    keyed hash; the number is never stored in the clear). Masked like every list; a department sees its own."""
    rows = await ticket_search.list_tickets(
        conn,
        filters={"phone_index": phone_index(keyring, lookup.phone)},
        dept_scope=department_scope(identity),
        cursor=lookup.cursor,
        limit=lookup.limit + 1,
    )
    return ticket_search.TICKET_ORDER.page(rows, lookup.limit, ticket_out)


@router.get(
    "/tickets/{ticket_id}",
    operation_id="get_ticket",
    response_model=TicketOut,
    responses={404: {"description": "No such ticket, or not visible to the caller", **_ERROR}},
)
async def read(ticket_id: str, identity: Authenticated, conn: Tx, keyring: VaultKeys) -> TicketOut:
    return await _present(conn, keyring, identity, ticket_id, purpose="ticket.read")


@router.get(
    "/tickets/{ticket_id}/timeline",
    operation_id="get_ticket_timeline",
    response_model=list[TimelineEntry],
    responses={404: {"description": "No such ticket, or not visible to the caller", **_ERROR}},
)
async def timeline(ticket_id: str, identity: Authenticated, conn: Db) -> list[TimelineEntry]:
    """Every event of the ticket in the order it happened, with who did it (events carry masked data only)."""
    access = await _access(conn, ticket_id)
    if access is None or not may_see_ticket(identity, access):
        raise _not_found(ticket_id)
    rows = await trail.timeline(conn, ticket_id)
    return [TimelineEntry.model_validate(dict(r)) for r in rows]


@router.get(
    "/access-log",
    operation_id="list_access_log",
    tags=["audit"],
    responses={403: {"description": "Only auditors (and admins)", **_ERROR}},
)
async def access_log(
    _auditor: Annotated[Identity, allow(*AUDITORS)],
    conn: Db,
    ticket_id: Annotated[str | None, Query(max_length=64)] = None,
    subject: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Cursor = None,
) -> Page[AccessLogEntry]:
    """Every read of full personal data, newest first: who, when, which ticket, which fields, why."""
    rows = await access_log_store.access_log(conn, ticket_id=ticket_id, subject=subject, cursor=cursor, limit=limit + 1)
    return access_log_store.ACCESS_LOG_ORDER.page(rows, limit, lambda r: AccessLogEntry.model_validate(dict(r)))
