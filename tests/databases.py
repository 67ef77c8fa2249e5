"""Throw-away databases on the cluster `make test` started: made for a test or a benchmark, dropped after.

The cluster's superuser (``ADMIN_DSN``) only creates and drops them and makes the roles, as
scripts/infra/postgres.sh does for the local cluster. Each database is owned by ``cityloop_owner``, a login
without superuser, CREATEDB or CREATEROLE: the migrations run as it (``dsn_for``), and so do the tests'
own look-ups across schemas; the services connect as their own roles (libs/common db/roles.py)."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from cityloop.common.settings import with_login

ADMIN_DSN = os.environ.get("CITYLOOP_ADMIN_DATABASE_URL", "postgresql://cityloop@127.0.0.1:55432/cityloop")

#: The owner of every schema, who runs the migrations (scripts/infra/postgres.sh makes it the same way).
OWNER_ROLE = "cityloop_owner"
#: The services' own login roles (libs/common/cityloop/common/db/roles.py), as scripts/infra/postgres.sh
#: makes them; made here too, so a cluster started some other way runs the tests all the same.
SERVICE_ROLES = ("cityloop_intake", "cityloop_router", "cityloop_sla", "cityloop_feedback")


async def ensure_service_roles(admin: asyncpg.Connection) -> None:
    for role in (OWNER_ROLE, *SERVICE_ROLES):
        # The owner inherits: as the database's owner it is pg_database_owner, which owns schema public.
        inherit = "INHERIT" if role == OWNER_ROLE else "NOINHERIT"
        await admin.execute(
            f"DO $$ BEGIN CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE {inherit};"
            f" EXCEPTION WHEN duplicate_object OR unique_violation THEN ALTER ROLE {role} {inherit}; END $$"
        )


def admin_dsn_for(database: str) -> str:
    """The superuser on ``database`` (only for what the owner may not do, e.g. ending other sessions)."""
    base, _, _ = ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


def dsn_for(database: str) -> str:
    """``database`` as its owner, ``cityloop_owner`` (no password: the test cluster trusts loopback)."""
    return with_login(admin_dsn_for(database), OWNER_ROLE, None)


@asynccontextmanager
async def scratch_database(name: str) -> AsyncIterator[str]:
    """Create database ``name`` owned by ``cityloop_owner``, yield its owner DSN, drop it afterwards even if
    connections linger."""
    try:
        admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(f"PostgreSQL is not reachable at {ADMIN_DSN} ({exc!r}); run with `make test`") from exc
    try:
        await ensure_service_roles(admin)
        await admin.execute(f'CREATE DATABASE "{name}" OWNER {OWNER_ROLE}')
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
