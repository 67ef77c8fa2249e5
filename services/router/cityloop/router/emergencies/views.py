"""/api/v1/emergencies: declare, update, stand down, read with live counts; surge proposals (confirm turns
one into a declaration prefilled from it, dismiss records why). The command centre acts; dispatchers and
auditors read. Every change is on the emergency's trail (``trail`` in GET /{id})."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cityloop.common.contract.emergencies import Emergency, EmergencyDeadlines, EmergencyScope, Level
from cityloop.common.db.pool import Conn, PgPool
from cityloop.common.deps import Db, Pool, Tx
from cityloop.common.errors import Invalid, NotFound
from cityloop.common.identity import Identity, Role, require_roles
from cityloop.common.paging import Cursor, Limit, Page
from cityloop.router.dispatcher_actions.flows import actor_of
from cityloop.router.emergencies import flows, rules, store
from cityloop.router.emergencies.metrics import ACTIVE
from cityloop.router.emergencies.rehoming import Rehomer
from cityloop.router.http import Ctx, context

router = APIRouter(prefix="/api/v1/emergencies", tags=["emergencies"])
Command = Annotated[Identity, require_roles(Role.COMMAND_CENTRE)]
Reader = Annotated[Identity, require_roles(Role.COMMAND_CENTRE, Role.DISPATCHER, Role.AUDITOR)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScopeBody(_Body):
    city: bool = Field(default=False, description="the whole city")
    districts: list[str] = Field(default_factory=list, max_length=100)
    streets: list[str] = Field(default_factory=list, max_length=1000)


class DeadlinesBody(_Body):
    accept_minutes: int = Field(gt=0, le=7 * 24 * 60)
    onsite_minutes: int = Field(gt=0, le=7 * 24 * 60)
    resolve_minutes: int = Field(gt=0, le=30 * 24 * 60)


class DeclareBody(_Body):
    name: str = Field(min_length=1, max_length=200)
    level: Level
    scope: ScopeBody
    categories: list[str] = Field(max_length=200)
    command_unit: str = Field(min_length=1)
    participants: dict[str, list[str]] = Field(default_factory=dict)
    deadlines: DeadlinesBody


class UpdateBody(_Body):
    scope: ScopeBody | None = None
    categories: list[str] | None = Field(default=None, max_length=200)
    participants: dict[str, list[str]] | None = None
    deadlines: DeadlinesBody | None = None


class StandDownBody(_Body):
    note: str | None = Field(default=None, max_length=2000)


class ConfirmBody(_Body):
    """Anything given replaces what the proposal prefills."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    level: Level | None = None
    scope: ScopeBody | None = None
    categories: list[str] | None = Field(default=None, max_length=200)
    command_unit: str | None = None
    participants: dict[str, list[str]] | None = None
    deadlines: DeadlinesBody | None = None


class DismissBody(_Body):
    reason: str = Field(min_length=2, max_length=2000)


class EmergencyOut(BaseModel):
    id: str
    name: str
    level: str
    status: store.EmergencyStatus
    scope: dict[str, Any]
    categories: list[str]
    command_unit: str
    participants: dict[str, list[str]]
    deadlines: dict[str, int]
    declared_by: str
    declared_at: datetime
    proposal_id: str | None
    stood_down_at: datetime | None
    stood_down_by: str | None
    version: int


class EmergencyDetail(EmergencyOut):
    counts: dict[str, Any]
    trail: list[dict[str, Any]]


def _out(e: Emergency) -> dict[str, Any]:
    return {**e.model_dump(mode="json"), "status": "active" if e.active else "stood_down"}


def _invalid(exc: flows.DeclarationInvalid) -> HTTPException:
    # Every bad field at once (the kernel's DomainError names one).
    return HTTPException(
        422,
        {
            "error": "validation_failed",
            "message": "the declaration has invalid fields",
            "fields": [{"field": p.field, "problem": p.problem} for p in exc.problems],
        },
    )


def _rehomer(request: Request) -> Rehomer:
    rehomer: Rehomer = request.app.state.rehomer
    return rehomer


async def _change(
    request: Request, pool: PgPool, reason: str, work: Callable[[Conn], Awaitable[Emergency]]
) -> Emergency:
    """Run ``work`` in a transaction; the router's own view takes the change before the commit (under the
    mode lock, so routing waits for it), is put back if the commit fails, and re-homing starts after."""
    view = context(request).mode_view
    assert view is not None
    applied: tuple[str, Emergency | None] | None = None
    try:
        async with pool.acquire() as conn, conn.transaction():
            e = await work(conn)
            applied = (e.id, view.get(e.id))
            view.apply(e)
    except flows.DeclarationInvalid as exc:
        raise _invalid(exc) from exc
    except BaseException:
        if applied is not None:
            view.restore(*applied)
        raise
    ACTIVE.set(len(view.active()))
    _rehomer(request).kick(e.id, reason)
    return e


def _fields(body: DeclareBody) -> dict[str, Any]:
    return {
        "name": body.name,
        "level": body.level,
        "scope": EmergencyScope.model_validate(body.scope.model_dump()),
        "categories": body.categories,
        "command_unit": body.command_unit,
        "participants": body.participants,
        "deadlines": EmergencyDeadlines.model_validate(body.deadlines.model_dump()),
    }


@router.post("", operation_id="emergency_declare", status_code=201, response_model=EmergencyOut)
async def declare(request: Request, body: DeclareBody, identity: Command, ctx: Ctx, pool: Pool) -> dict[str, Any]:
    """Declare an emergency: from now on in-scope tickets go to the command unit and every participant."""

    async def work(conn: Conn) -> Emergency:
        master = await ctx.master.current(conn)
        return await flows.declare(conn, master, actor=actor_of(identity), **_fields(body))

    return _out(await _change(request, pool, "declared", work))


async def _read(conn: Conn, identity: Identity, request: Request, emergency_id: str | None = None) -> None:
    """Every call is on the trail, reads too: who read what, when (emergency_log action 'read')."""
    await store.log(
        conn,
        action="read",
        actor=actor_of(identity),
        emergency_id=emergency_id,
        detail={"what": f"{request.method} {request.url.path}", "query": dict(request.query_params)},
    )


@router.get("", operation_id="emergency_list")
async def listing(
    *,
    request: Request,
    identity: Reader,
    conn: Db,
    active: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[dict[str, Any]]:
    """Newest first; ``active=true`` those in force, ``false`` those stood down."""
    await _read(conn, identity, request)
    rows = await store.listing(conn, active=active, limit=limit + 1, cursor=cursor)
    return store.EMERGENCY_ORDER.page(rows, limit, lambda r: _out(store.emergency_of(r)))


@router.get("/proposals", operation_id="emergency_proposals")
async def proposals(
    *,
    request: Request,
    identity: Reader,
    conn: Db,
    status: store.ProposalStatus | None = "pending",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[dict[str, Any]]:
    """Surge proposals from the stream processor, newest first (pending ones unless ``status`` says)."""
    await _read(conn, identity, request)
    rows = await store.list_proposals(conn, status=status, limit=limit + 1, cursor=cursor)
    return store.PROPOSAL_ORDER.page(rows, limit, dict)


@router.post(
    "/proposals/{proposal_id}/confirm",
    operation_id="emergency_proposal_confirm",
    status_code=201,
    response_model=EmergencyOut,
)
async def confirm(
    *, request: Request, proposal_id: str, identity: Command, ctx: Ctx, pool: Pool, body: ConfirmBody | None = None
) -> dict[str, Any]:
    """Declare the emergency the proposal suggests; fields in the body replace the prefilled ones."""

    async def work(conn: Conn) -> Emergency:
        proposed = await flows.pending_proposal(conn, proposal_id)
        master = await ctx.master.current(conn)
        prefilled = flows.prefill(proposed, master)
        given = body.model_dump(exclude_none=True) if body else {}
        try:
            declaration = DeclareBody.model_validate({**prefilled, **given})
        except ValidationError as exc:
            problems = [rules.Problem(".".join(str(p) for p in err["loc"]), str(err["msg"])) for err in exc.errors()]
            raise flows.DeclarationInvalid(problems) from exc
        e = await flows.declare(conn, master, actor=actor_of(identity), proposal_id=proposal_id, **_fields(declaration))
        await flows.proposal_confirmed(conn, proposal_id, e, actor=actor_of(identity))
        return e

    return _out(await _change(request, pool, "declared", work))


@router.post("/proposals/{proposal_id}/dismiss", operation_id="emergency_proposal_dismiss")
async def dismiss(proposal_id: str, identity: Command, body: DismissBody, conn: Tx) -> dict[str, Any]:
    return await flows.dismiss(conn, proposal_id, actor=actor_of(identity), reason=body.reason)


@router.get("/{emergency_id}", operation_id="emergency_get", response_model=EmergencyDetail)
async def read(
    *,
    request: Request,
    emergency_id: str,
    identity: Reader,
    conn: Db,
    reads: Annotated[bool, Query(description="the trail also lists who read this emergency, when")] = False,
) -> dict[str, Any]:
    """The emergency with live counts (open tickets, tasks by department, unaccepted, overdue, incidents)
    and its trail (every change and re-homing run; every read too with ``reads=true``)."""
    await _read(conn, identity, request, emergency_id)  # an unknown id's read too
    e = await store.get(conn, emergency_id)
    if e is None:
        raise NotFound(f"no emergency {emergency_id}", "id")
    counts = await store.counts(conn, emergency_id)
    trail = [dict(r) for r in await store.trail(conn, emergency_id, reads=reads)]
    return {**_out(e), "counts": counts, "trail": trail}


@router.patch("/{emergency_id}", operation_id="emergency_update", response_model=EmergencyOut)
async def update(
    *, request: Request, emergency_id: str, body: UpdateBody, identity: Command, ctx: Ctx, pool: Pool
) -> dict[str, Any]:
    """Change scope, categories, participants or deadlines; open tickets follow (re-homing)."""
    changes: dict[str, Any] = {}
    if body.scope is not None:
        changes["scope"] = EmergencyScope.model_validate(body.scope.model_dump())
    if body.categories is not None:
        changes["categories"] = body.categories
    if body.participants is not None:
        changes["participants"] = body.participants
    if body.deadlines is not None:
        changes["deadlines"] = EmergencyDeadlines.model_validate(body.deadlines.model_dump())
    if not changes:
        raise Invalid("nothing to change: give scope, categories, participants or deadlines", "request")

    async def work(conn: Conn) -> Emergency:
        master = await ctx.master.current(conn)
        return await flows.update(conn, master, emergency_id, actor=actor_of(identity), changes=changes)

    return _out(await _change(request, pool, "updated", work))


@router.post("/{emergency_id}/stand-down", operation_id="emergency_stand_down", response_model=EmergencyOut)
async def stand_down(
    request: Request, emergency_id: str, identity: Command, pool: Pool, body: StandDownBody | None = None
) -> dict[str, Any]:
    """End it: open tickets return to their peacetime leads with peacetime deadlines from now."""

    async def work(conn: Conn) -> Emergency:
        return await flows.stand_down(conn, emergency_id, actor=actor_of(identity), note=body.note if body else None)

    return _out(await _change(request, pool, "stood_down", work))
