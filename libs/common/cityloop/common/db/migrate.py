"""Versioned SQL migrations: ``NNNN_name.sql`` files applied in order, once, under an advisory lock.

The shared migrations (outbox, inbox) run first in every service's schema, then the service's own.
"""

from pathlib import Path

import structlog

from cityloop.common.db.locks import schema_lock_key
from cityloop.common.db.pool import PgPool

log = structlog.get_logger(__name__)

COMMON_MIGRATIONS = Path(__file__).parent / "migrations"


async def migrate(pool: PgPool, schema: str, service_dir: Path | None) -> list[str]:
    """Apply pending migrations; returns the versions applied now. Safe to run concurrently."""
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
                    async with conn.transaction():
                        await conn.execute(path.read_text(encoding="utf-8"))
                        await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
                    applied_now.append(version)
                    log.info("db.migrated", schema=schema, version=version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock)
    return applied_now
