"""The asyncpg pool: one per service, every connection bound to the service's own schema."""

from typing import TYPE_CHECKING

import asyncpg
import orjson

# asyncpg's stubs make Pool generic, the runtime class is not subscriptable: one alias serves both.
if TYPE_CHECKING:
    from asyncpg.pool import PoolAcquireContext, PoolConnectionProxy

    PgPool = asyncpg.Pool[asyncpg.Record]
    #: A connection, whether taken from the pool or opened directly.
    Conn = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
else:
    PgPool = asyncpg.Pool
    Conn = asyncpg.Connection


async def _init_connection(conn: Conn) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
        )


async def _keep_session(_conn: Conn) -> None:
    """Release without asyncpg's default reset query (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL``), one more round trip on every release, several per request or event.

    asyncpg still rolls back an open transaction and drops the listeners it holds before calling this
    (``Connection._reset``). Nothing else is left on a pooled connection: locks are transaction-scoped
    (``pg_advisory_xact_lock``) except migrate.py's, which it unlocks itself; the outbox relay UNLISTENs
    (``remove_listener``) before it releases its connection; no code runs SET or DECLARE at session level."""


class BoundedPool(PgPool):
    """asyncpg's pool, except that ``acquire`` waits at most ``wait_seconds`` (None: forever) unless the
    caller passes its own timeout. When every connection is busy, a request gets a ``TimeoutError`` that
    http_errors.py answers with 503 + Retry-After, and a consumer one that kafka/failures.py waits out,
    instead of all of them queueing without end behind a saturated database."""

    wait_seconds: float | None = None

    def acquire(self, *, timeout: float | None = None) -> "PoolAcquireContext[asyncpg.Record]":
        return super().acquire(timeout=self.wait_seconds if timeout is None else timeout)


async def create_pool(
    dsn: str, schema: str, *, min_size: int = 2, max_size: int = 10, wait_seconds: float | None = None
) -> PgPool:
    """A pool bound to ``schema``; ``wait_seconds`` bounds the wait for a free connection (BoundedPool)."""
    # The schema must exist before connections use it as their search_path. Only the owner may create it:
    # a service's own role (db/roles.py) finds it there.
    conn = await asyncpg.connect(dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    finally:
        await conn.close()
    # What asyncpg.create_pool does, with our class (it has no parameter for one).
    pool = BoundedPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        init=_init_connection,
        reset=_keep_session,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        server_settings={"search_path": schema, "application_name": f"cityloop-{schema}"},
    )
    pool.wait_seconds = wait_seconds
    await pool
    return pool


async def connect(dsn: str, schema: str) -> "asyncpg.Connection[asyncpg.Record]":
    """One connection like the pool's (the schema as search_path, JSON decoded), for command-line tools."""
    conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
        dsn, server_settings={"search_path": schema, "application_name": f"cityloop-{schema}-cli"}
    )
    await _init_connection(conn)
    return conn
