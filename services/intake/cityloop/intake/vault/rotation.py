"""Key rotation without downtime: re-seal every row under the current key, a batch at a time.

Run ``python -m cityloop.intake.vault.rotation`` after adding the new key to CITYLOOP_INTAKE_VAULT_KEYS and
making it CITYLOOP_INTAKE_VAULT_KEY_ID (services restarted with both keys, so rows under either open while
it runs). Each batch is one short transaction over rows locked with SKIP LOCKED, so the service keeps
reading and writing, and several runs may work at once. Each row gets a fresh data key too. When it reports
no rows left under the old key, drop that key from the setting.
"""

import argparse
import asyncio

import structlog

from cityloop.common.db.pool import PgPool, create_pool
from cityloop.common.logging import configure_logging
from cityloop.common.personal.sealing import open_sealed, seal
from cityloop.common.personal.vault_keys import Keyring
from cityloop.intake.settings import IntakeSettings
from cityloop.intake.vault import store

log = structlog.get_logger(__name__)


async def rotate_batch(pool: PgPool, keyring: Keyring, *, batch: int) -> int:
    """Re-seal up to ``batch`` rows not under the current key; returns how many."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await store.not_under(conn, keyring.current, limit=batch)
        for row in rows:
            old = store.sealed_from(row)
            plaintext = open_sealed(keyring, old, row=row["ticket_id"])
            await store.reseal(conn, row["ticket_id"], old.key_id, seal(keyring, plaintext, row=row["ticket_id"]))
    return len(rows)


async def rotate(pool: PgPool, keyring: Keyring, *, batch: int = 500, pause: float = 0.05) -> int:
    """Every row onto the current key; returns how many were re-sealed."""
    total = 0
    while n := await rotate_batch(pool, keyring, batch=batch):
        total += n
        log.info("vault.rotated", rows=n, total=total, key_id=keyring.current)
        await asyncio.sleep(pause)  # let the service's own queries in between batches
    return total


async def main(settings: IntakeSettings, batch: int) -> None:
    keyring = settings.keyring()
    pool = await create_pool(settings.database_url, settings.db_schema, min_size=1, max_size=1)
    try:
        total = await rotate(pool, keyring, batch=batch)
        async with pool.acquire() as conn:
            by_key = await store.count_by_key(conn)
        log.info("vault.rotation_done", resealed=total, current=keyring.current, rows_by_key=by_key)
        print(f"re-sealed {total} rows; rows by key: {by_key}")
    finally:
        await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Re-seal every vault row under the current key")
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    chosen = IntakeSettings()
    configure_logging("intake-vault-rotation", level=chosen.log_level, json=chosen.log_json)
    asyncio.run(main(chosen, args.batch))
