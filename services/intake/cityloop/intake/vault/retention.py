"""Retention: a ticket's personal data is erased a configurable time after it closes (housekeeping).

``CITYLOOP_INTAKE_PERSONAL_DATA_RETENTION_DAYS`` (default 365) after closing, the vault row loses its
sealed data, data key and phone index; the ticket, its redacted text, its masked trail and its opaque
contact reference stay, so statistics and the trail still hold."""

import asyncio

import structlog

from cityloop.common.db.pool import PgPool
from cityloop.intake.vault import store

log = structlog.get_logger(__name__)


async def erase_expired(pool: PgPool, *, older_than_days: float, batch: int = 500) -> list[str]:
    """One round: erase in batches until no closed ticket past the retention keeps personal data."""
    erased: list[str] = []
    while True:
        async with pool.acquire() as conn, conn.transaction():
            done = await store.erase_closed_before(conn, older_than_days=older_than_days, limit=batch)
        erased += done
        if len(done) < batch:
            return erased
        await asyncio.sleep(0.05)


async def run_forever(pool: PgPool, *, older_than_days: float, every_seconds: float) -> None:
    """intake's background worker (app.py): a round now, then every ``every_seconds``."""
    while True:
        erased = await erase_expired(pool, older_than_days=older_than_days)
        if erased:
            log.info("vault.erased", tickets=len(erased), older_than_days=older_than_days)
        await asyncio.sleep(every_seconds)
