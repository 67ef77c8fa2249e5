"""Throw-away databases on the cluster `make test` started: made for a test or a benchmark, dropped after."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

ADMIN_DSN = os.environ.get("CITYLOOP_DATABASE_URL", "postgresql://cityloop@127.0.0.1:55432/cityloop")

#: The services' own login roles (libs/common/cityloop/common/db/roles.py), as scripts/infra/postgres.sh
#: makes them; made here too, so a cluster started some other way runs the tests all the same.
SERVICE_ROLES = ("cityloop_intake", "cityloop_router", "cityloop_sla", "cityloop_feedback")


async def ensure_service_roles(admin: asyncpg.Connection) -> None:
    for role in SERVICE_ROLES:
        await admin.execute(
            f"DO $$ BEGIN CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;"
            " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )


def dsn_for(database: str) -> str:
    base, _, _ = ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


@asynccontextmanager
async def scratch_database(name: str) -> AsyncIterator[str]:
    """Create database ``name``, yield its DSN, drop it afterwards even if connections linger."""
    try:
        admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(f"PostgreSQL is not reachable at {ADMIN_DSN} ({exc!r}); run with `make test`") from exc
    try:
        await ensure_service_roles(admin)
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield dsn_for(name)
    finally:
        admin = await asyncpg.connect(ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
