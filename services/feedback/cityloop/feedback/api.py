"""/api/v1/callbacks: the due list and recording an outcome."""

from typing import Annotated

from fastapi import APIRouter

from cityloop.common.deps import Db, Tx
from cityloop.common.identity import Identity, Role, require_roles
from cityloop.common.paging import Cursor, Limit, Page
from cityloop.feedback import queries
from cityloop.feedback.callbacks import record_outcome
from cityloop.feedback.models import CallbackOut, CallbackOutcome

router = APIRouter(prefix="/api/v1/callbacks", tags=["callbacks"])

# Callbacks are made by the hotline's own staff; auditors may read the list.
Caller = Annotated[Identity, require_roles(Role.CALL_TAKER, Role.DISPATCHER)]
Reader = Annotated[Identity, require_roles(Role.CALL_TAKER, Role.DISPATCHER, Role.AUDITOR)]


@router.get("/due", operation_id="list_due_callbacks")
async def due(_who: Reader, conn: Db, limit: Limit = 50, cursor: Cursor = None) -> Page[CallbackOut]:
    """Callbacks to make, oldest first."""
    rows = await queries.due(conn, limit + 1, cursor)
    return queries.DUE_ORDER.page(rows, limit, lambda r: CallbackOut.model_validate(dict(r)))


@router.post("/{ticket_id}/outcome", operation_id="record_callback_outcome")
async def outcome(ticket_id: str, body: CallbackOutcome, _who: Caller, conn: Tx) -> dict[str, object]:
    """What the citizen said; an unsolved or unsatisfied answer reopens the ticket (重办)."""
    reopened = await record_outcome(conn, ticket_id, body)
    return {"ticket_id": ticket_id, "reopened": reopened}
