"""The asyncpg pool: one per service, every connection bound to the service's own schema."""

from typing import TYPE_CHECKING

import asyncpg
import orjson

# asyncpg's stubs make Pool generic, the runtime class is not subscriptable: one alias serves both.
if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

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


async def create_pool(dsn: str, schema: str, *, min_size: int = 2, max_size: int = 10) -> PgPool:
    # The schema must exist before connections use it as their search_path.
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    finally:
        await conn.close()
    pool: PgPool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings={"search_path": schema, "application_name": f"cityloop-{schema}"},
    )
    return pool
