"""/api/v1/routing/classifier: the model in use, and retraining it now."""

from typing import Annotated, Any

from fastapi import APIRouter, Request

from cityloop.common.identity import CurrentIdentity, Identity, Role, require_roles
from cityloop.router.classification import store
from cityloop.router.classification.training import train_and_store
from cityloop.router.http import context, not_found, transaction

router = APIRouter(prefix="/api/v1/routing", tags=["routing"])
Dispatcher = Annotated[Identity, require_roles(Role.DISPATCHER)]


@router.get("/classifier", operation_id="routing_classifier")
async def classifier(request: Request, _: CurrentIdentity) -> dict[str, Any]:
    async with transaction(request) as conn:
        row = await store.latest_model(conn, with_blob=False)
        newest = await store.last_example_id(conn)
    if row is None:
        raise not_found("classifier model yet", "model")
    return {**dict(row), "newest_example_id": newest, "threshold": context(request).settings.confidence_threshold}


@router.post("/classifier/retrain", operation_id="routing_retrain")
async def retrain(request: Request, identity: Dispatcher) -> dict[str, Any]:
    """Train a new model now from the generated seed set and every labelled example."""
    runtime = request.app.state.runtime
    return await train_and_store(runtime.pool, context(request).settings, trigger=f"command:{identity.subject}")
