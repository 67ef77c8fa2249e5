"""/api/v1/routing/classifier: the model in use, and retraining it now."""

from typing import Annotated, Any

from fastapi import APIRouter

from cityloop.common.deps import Pool, Tx
from cityloop.common.errors import NotFound
from cityloop.common.identity import CurrentIdentity, Identity, Role, require_roles
from cityloop.router.classification import store
from cityloop.router.classification.training import train_and_store
from cityloop.router.http import Ctx

router = APIRouter(prefix="/api/v1/routing", tags=["routing"])
Dispatcher = Annotated[Identity, require_roles(Role.DISPATCHER)]


@router.get("/classifier", operation_id="routing_classifier")
async def classifier(_: CurrentIdentity, ctx: Ctx, conn: Tx) -> dict[str, Any]:
    row = await store.latest_model(conn, with_blob=False)
    newest = await store.last_example_id(conn)
    if row is None:
        raise NotFound("no classifier model yet", "model")
    _model_id, model = await ctx.models.current(conn)
    return {
        **dict(row),
        "newest_example_id": newest,
        "threshold": ctx.settings.confidence_threshold,
        # the bars the model in use routes by (calibration.py); threshold is for classifications without one
        "calibration": model.calibration.as_dict() if model is not None else None,
    }


@router.post("/classifier/retrain", operation_id="routing_retrain")
async def retrain(identity: Dispatcher, ctx: Ctx, pool: Pool) -> dict[str, Any]:
    """Train a new model now from the generated seed set and every labelled example."""
    return await train_and_store(pool, ctx.settings, trigger=f"command:{identity.subject}")
