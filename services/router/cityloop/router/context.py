"""What router's handlers share in one process: the current master data and classifier (reloaded when
the database says they changed), the routing policy and the active modes."""

import asyncio
from dataclasses import dataclass, field

from cityloop.common.db.pool import Conn
from cityloop.common.modes import ModeView
from cityloop.router.classification import store as models
from cityloop.router.classification.model import TextClassifier
from cityloop.router.dispatch.rules import ActiveMode, RoutingPolicy
from cityloop.router.emergencies import store as emergency_store
from cityloop.router.masterdata import store as master
from cityloop.router.masterdata.model import MasterData
from cityloop.router.settings import RouterSettings


class MasterCache:
    """Master data is large (tens of thousands of grids) and changes rarely: keep it, check the revision
    in the caller's transaction, reload only when a correction or a new data version bumped it."""

    def __init__(self) -> None:
        self._current: MasterData | None = None
        self._lock = asyncio.Lock()

    async def current(self, conn: Conn, revision: int | None = None) -> MasterData:
        """``revision``: the one the caller read in its transaction (RouterContext.routing_state)."""
        if revision is None:
            revision = await master.master_revision(conn)
        if self._current is None or self._current.revision != revision:
            async with self._lock:
                if self._current is None or self._current.revision != revision:
                    self._current = await master.load_master(conn)
        return self._current


class ModelCache:
    """The newest classifier, loaded once however many handlers ask for it at the same moment (a consumer
    applies several partitions side by side: without the lock each would load its own copy, tens of MB)."""

    def __init__(self) -> None:
        self._model_id = 0
        self._model: TextClassifier | None = None
        self._lock = asyncio.Lock()

    async def current(self, conn: Conn, latest: int | None = None) -> tuple[int, TextClassifier | None]:
        """``latest``: the newest model id the caller read in its transaction (RouterContext.routing_state)."""
        if latest is None:
            latest = await models.latest_model_id(conn)
        if latest and latest != self._model_id:
            async with self._lock:
                if latest != self._model_id:
                    row = await models.latest_model(conn)
                    if row is not None:
                        self._model = await asyncio.to_thread(TextClassifier.from_bytes, bytes(row["blob"]))
                        self._model_id = row["id"]
        return self._model_id, self._model


@dataclass
class RouterContext:
    settings: RouterSettings
    master: MasterCache = field(default_factory=MasterCache)
    models: ModelCache = field(default_factory=ModelCache)
    #: control.mode followed into memory (libs/common modes.py); set by the app before it starts
    mode_view: ModeView | None = None

    @property
    def modes(self) -> tuple[ActiveMode, ...]:
        """The emergencies in force; peacetime has none."""
        return self.mode_view.active() if self.mode_view is not None else ()

    async def routing_state(self, conn: Conn) -> tuple[MasterData, TextClassifier | None]:
        """What routing a new ticket reads, in ONE statement: the master data's revision, the newest model's
        id, and the modes lock held shared for the rest of the transaction (emergencies/store.py), so the
        ticket commits under the set of emergencies it is routed by before that set changes."""
        revision, latest = await emergency_store.routing_revisions(conn)
        current_master = await self.master.current(conn, revision)
        _, model = await self.models.current(conn, latest)
        return current_master, model

    @property
    def policy(self) -> RoutingPolicy:
        return RoutingPolicy(
            confidence_threshold=self.settings.confidence_threshold,
            handover_threshold=self.settings.handover_threshold,
        )
