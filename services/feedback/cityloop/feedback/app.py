"""The feedback process: callbacks (回访), 三率 scores and recurring problems, followed from ticket.lifecycle."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI

from cityloop.common.kafka.consumer import Part
from cityloop.common.runtime import ServiceRuntime
from cityloop.common.service_app import service_app
from cityloop.common.topics import FEEDBACK_HOTSPOTS, TICKET_LIFECYCLE
from cityloop.feedback.callbacks import flows as callback_flows
from cityloop.feedback.callbacks import links as callback_links
from cityloop.feedback.callbacks import metrics as callback_metrics
from cityloop.feedback.callbacks import views as callback_views
from cityloop.feedback.hotspots import api as hotspots_api
from cityloop.feedback.hotspots import feed as hotspots_feed
from cityloop.feedback.hotspots import metrics as hotspots_metrics
from cityloop.feedback.recurring import flows as recurring_flows
from cityloop.feedback.recurring import views as recurring_views
from cityloop.feedback.scores import api as scores_api
from cityloop.feedback.scores import facts as score_facts
from cityloop.feedback.scores import metrics as score_metrics
from cityloop.feedback.settings import FeedbackSettings
from cityloop.feedback.signals.snapshots import HOTSPOT_COUNTS

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: FeedbackSettings | None = None) -> FastAPI:
    s = settings or FeedbackSettings()
    # Citizens' comments arrive here in full: their events carry them redacted, the full text sealed for
    # intake's vault (libs/common contract/emitter.py).
    callback_flows.EMIT.keep_full_text(s.vault_sealer())
    runtime = ServiceRuntime(s, migrations=MIGRATIONS)
    # One group reads ticket.lifecycle for callbacks, scores and recurring problems: each event is fetched
    # and parsed once and their effects share one transaction, where three groups read every event three
    # times. Each part keeps its inbox name, so each still applies an event exactly once. types=: every other
    # lifecycle type is skipped on its raw bytes, unparsed (libs/common envelope.peek_type).
    runtime.consume_parts(
        "feedback.lifecycle",
        [TICKET_LIFECYCLE.name],
        [
            Part("feedback.callbacks", callback_flows.on_lifecycle, callback_flows.wants, callback_flows.WANTED),
            Part("feedback.scores", score_facts.on_lifecycle, score_facts.wants, score_facts.HANDLED),
            Part("feedback.recurring", recurring_flows.on_lifecycle, recurring_flows.wants, recurring_flows.HANDLED),
        ],
        busy=True,
    )
    # Hot spots are counted by the stream worker (python -m cityloop.feedback.signals), served from here.
    runtime.consume(
        "feedback.hotspots",
        [FEEDBACK_HOTSPOTS.name],
        hotspots_feed.on_snapshot,
        wants=hotspots_feed.wants,
        types={HOTSPOT_COUNTS},
    )
    runtime.background("hotspots.gauges", lambda: hotspots_metrics.keep_fresh(runtime))
    runtime.background("scores.gauges", lambda: score_metrics.keep_fresh(runtime))
    runtime.background("callbacks.gauges", lambda: callback_metrics.keep_fresh(runtime))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The gateway client: feedback asks intake for proactive tickets (recurring/proactive.py).
        async with runtime.lifespan(app), httpx.AsyncClient(base_url=s.gateway_url, timeout=15) as gateway:
            app.state.gateway = gateway
            yield

    app = service_app(runtime, title="CityLoop feedback", lifespan=lifespan)
    app.state.gateway_api_key = s.gateway_key()
    app.include_router(callback_views.router)
    app.include_router(callback_links.router)
    app.include_router(recurring_views.router)
    app.include_router(scores_api.router)
    app.include_router(hotspots_api.router)
    return app
