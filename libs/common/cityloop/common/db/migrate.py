"""Versioned SQL migrations: ``NNNN_name.sql`` files applied in order, once, under an advisory lock.

The shared migrations (outbox, inbox) run first in every service's schema, then the service's own.
A migration that needs code (e.g. encrypting rows with keys from settings) names it on a line
``-- run: package.module:function``; the function gets the connection and the service's settings (None when
the caller has none) and runs after the file's SQL, in the same transaction.
"""

import importlib
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog

from cityloop.common.db.locks import schema_lock_key
from cityloop.common.db.pool import Conn, PgPool, create_pool
from cityloop.common.db.roles import grant_service_role
from cityloop.common.settings import CommonSettings

log = structlog.get_logger(__name__)

COMMON_MIGRATIONS = Path(__file__).parent / "migrations"
_RUN = re.compile(r"^-- run: ([\w.]+):(\w+)\s*$", re.MULTILINE)

CodeStep = Callable[[Conn, Any], Awaitable[None]]


def code_steps(sql: str) -> list[CodeStep]:
    """The functions a migration file names on its ``-- run: module:function`` lines, in order."""
    return [getattr(importlib.import_module(module), name) for module, name in _RUN.findall(sql)]


async def migrate(
    pool: PgPool, schema: str, service_dir: Path | None, *, settings: Any = None, grant_to: str | None = None
) -> list[str]:
    """Apply pending migrations; returns the versions applied now. Safe to run concurrently. ``grant_to``:
    the service's own role, granted its rights on the schema afterwards (roles.py), under the same lock."""
    sources = [("common", COMMON_MIGRATIONS)]
    if service_dir is not None:
        sources.append((schema, service_dir))
    applied_now: list[str] = []
    lock = schema_lock_key("migrate", schema)
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", lock)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for origin, folder in sources:
                for path in sorted(folder.glob("[0-9][0-9][0-9][0-9]_*.sql")):
                    version = f"{origin}:{path.stem}"
                    if version in done:
                        continue
                    sql = path.read_text(encoding="utf-8")
                    async with conn.transaction():
                        await conn.execute(sql)
                        for step in code_steps(sql):
                            await step(conn, settings)
                        await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
                    applied_now.append(version)
                    log.info("db.migrated", schema=schema, version=version)
            if grant_to is not None:
                await grant_service_role(conn, schema, grant_to)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock)
    return applied_now


async def migrate_as_owner(settings: CommonSettings, service_dir: Path | None) -> list[str]:
    """Migrate the service's schema as its owner (``database_url``) and grant the service's role its rights."""
    role = settings.db_role
    if role is not None and role == urlsplit(settings.database_url).username:
        role = None  # the owner itself: nothing to grant
    pool = await create_pool(settings.database_url, settings.db_schema, min_size=1, max_size=1)
    try:
        return await migrate(pool, settings.db_schema, service_dir, settings=settings, grant_to=role)
    finally:
        await pool.close()
