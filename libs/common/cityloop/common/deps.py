"""The request dependencies every service's views use, declared once as ``Annotated`` aliases.

``Pool`` is the service's asyncpg pool (for a view that runs several transactions of its own); ``Tx`` is a
connection inside one transaction, committed when the view returns and rolled back when it raises, before
the response is sent, so a client never sees a success whose commit failed; ``Db`` is a connection
without an explicit transaction, for reads.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from cityloop.common.db.pool import Conn, PgPool


def pool_of(request: Request) -> PgPool:
    """The pool of the runtime that serves ``request`` (runtime.py puts itself on ``app.state``)."""
    pool: PgPool = request.app.state.runtime.pool
    return pool


async def _pool(request: Request) -> PgPool:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, a thread hop on every request.
    return pool_of(request)


Pool = Annotated[PgPool, Depends(_pool)]


async def _transaction(pool: Pool) -> AsyncIterator[Conn]:
    async with pool.acquire() as conn, conn.transaction():
        yield conn


async def _connection(pool: Pool) -> AsyncIterator[Conn]:
    async with pool.acquire() as conn:
        yield conn


# scope="function": the transaction ends with the view, before the response goes out (FastAPI's default
# would commit after the response, too late to report a failed commit).
Tx = Annotated[Conn, Depends(_transaction, scope="function")]
Db = Annotated[Conn, Depends(_connection, scope="function")]
