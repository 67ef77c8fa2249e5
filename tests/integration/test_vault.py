"""The vault on a database of its own: the migration that seals plain rows, key rotation by the CLI while
both keys stay readable, and retention erasing personal data after a ticket closes."""

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cityloop.common.db.migrate import migrate
from cityloop.common.db.pool import PgPool, create_pool
from cityloop.intake.app import MIGRATIONS
from cityloop.intake.settings import IntakeSettings
from cityloop.intake.trail.chain import Draft
from cityloop.intake.trail.store import append_timeline
from cityloop.intake.vault import store
from cityloop.intake.vault.flows import release, seal_ticket
from cityloop.intake.vault.personal import Personal
from cityloop.intake.vault.retention import erase_expired
from cityloop.intake.vault.rotation import rotate_batch
from tests.conftest import RUN_ID
from tests.databases import scratch_database

PHONE = "13812345678"
REPO = Path(__file__).resolve().parents[2]
K1, K2, INDEX = "k1-" + "a" * 40, "k2-" + "b" * 40, "index-" + "i" * 40
#: Before the rotation (k1 only), during it (k2 current, k1 readable), after it (k2 only).
OLD_KEY = IntakeSettings(vault_key_id="k1", vault_key=K1, vault_index_key=INDEX)
NEW_KEY = IntakeSettings(vault_key_id="k2", vault_key=K2, vault_index_key=INDEX, vault_previous_keys={"k1": K1})
ONLY_NEW = IntakeSettings(vault_key_id="k2", vault_key=K2, vault_index_key=INDEX)


@pytest.fixture(scope="module")
async def vault_db() -> AsyncIterator[str]:
    async with scratch_database(f"cityloop_vault_{RUN_ID}") as dsn:
        yield dsn


@pytest.fixture(scope="module")
async def pool(vault_db: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PgPool]:
    """The intake schema as it was before the vault (0001-0006) with two tickets stored in the clear,
    then migrated to the current version with the old key."""
    before = tmp_path_factory.mktemp("before_vault")
    for path in sorted(MIGRATIONS.glob("*.sql")):
        if path.name < "0007":
            shutil.copy(path, before / path.name)
    pool = await create_pool(vault_db, "intake", min_size=1, max_size=3)
    try:
        await migrate(pool, "intake", before)
        for n, (description, phone) in enumerate([(f"请回电{PHONE}", PHONE), ("路灯不亮", None)], start=1):
            await pool.execute(
                "INSERT INTO tickets (id, channel, description, location, urgency, status)"
                " VALUES ($1, 'hotline', $2, '{}', 'normal', 'received')",
                f"OLD-{n}",
                description,
            )
            await pool.execute(
                "INSERT INTO ticket_citizens (ticket_id, name, phone, id_number) VALUES ($1, '王五', $2, NULL)",
                f"OLD-{n}",
                phone,
            )
        await migrate(pool, "intake", MIGRATIONS, settings=OLD_KEY)
        yield pool
    finally:
        await pool.close()


async def test_the_migration_seals_plain_rows_and_drops_the_plain_columns(pool: PgPool) -> None:
    columns = {
        r["column_name"]
        for r in await pool.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'intake' AND table_name = 'ticket_citizens'"
        )
    }
    assert columns == {"ticket_id", "is_company", "company"}
    assert await pool.fetchval("SELECT description FROM tickets WHERE id = 'OLD-1'") == "请回电138****5678"
    keyring = OLD_KEY.keyring()
    async with pool.acquire() as conn:
        personal = await release(conn, keyring, "OLD-1")
        assert personal is not None
        assert (personal.name, personal.phone, personal.texts) == ("王五", PHONE, {"description": f"请回电{PHONE}"})
        assert (await release(conn, keyring, "OLD-2")) is not None
    row = await pool.fetchrow("SELECT * FROM ticket_vault WHERE ticket_id = 'OLD-1'")
    assert row is not None
    assert row["key_id"] == "k1"
    assert row["masked"]["phone"] == "138****5678"
    assert row["phone_index"] is not None
    assert PHONE.encode() not in bytes(row["sealed"])


async def _more_rows(pool: PgPool, settings: IntakeSettings, n: int) -> list[str]:
    keyring = settings.keyring()
    ids = []
    async with pool.acquire() as conn:
        for i in range(n):
            ticket_id = f"ROT-{i}"
            await conn.execute(
                "INSERT INTO tickets (id, channel, description, location, urgency, status)"
                " VALUES ($1, 'hotline', '-', '{}', 'normal', 'received') ON CONFLICT DO NOTHING",
                ticket_id,
            )
            if await conn.fetchval("SELECT 1 FROM ticket_vault WHERE ticket_id = $1", ticket_id) is None:
                await seal_ticket(conn, keyring, ticket_id, Personal(name=f"张{i}", phone=PHONE))
            ids.append(ticket_id)
    return ids


async def test_rotation_reseals_in_batches_while_both_keys_stay_readable(pool: PgPool, vault_db: str) -> None:
    ids = ["OLD-1", "OLD-2", *await _more_rows(pool, OLD_KEY, 5)]
    rotated = NEW_KEY.keyring()
    # One batch: the vault is half on k1, half on k2, and every row opens (the service keeps working).
    assert await rotate_batch(pool, rotated, batch=3) == 3
    async with pool.acquire() as conn:
        assert set((await store.count_by_key(conn)).values()) == {3, len(ids) - 3}
        for ticket_id in ids:
            assert await release(conn, rotated, ticket_id) is not None
        # A row sealed now, during rotation, is sealed with the new key.
        await conn.execute(
            "INSERT INTO tickets (id, channel, description, location, urgency, status)"
            " VALUES ('NEW-1', 'hotline', '-', '{}', 'normal', 'received')"
        )
        await seal_ticket(conn, rotated, "NEW-1", Personal(phone=PHONE))
    # The CLI finishes the job (its own process, batch of 2), reading its keys from the environment.
    env = {
        **os.environ,
        "CITYLOOP_DATABASE_URL": vault_db,
        "CITYLOOP_INTAKE_VAULT_KEY_ID": "k2",
        "CITYLOOP_INTAKE_VAULT_KEY": K2,
        "CITYLOOP_INTAKE_VAULT_PREVIOUS_KEYS": f'{{"k1": "{K1}"}}',
        "CITYLOOP_INTAKE_VAULT_INDEX_KEY": INDEX,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cityloop.intake.vault.rotation",
        "--batch",
        "2",
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stderr.decode()
    assert f"re-sealed {len(ids) - 3} rows" in stdout.decode()
    async with pool.acquire() as conn:
        assert await store.count_by_key(conn) == {"k2": len(ids) + 1}
        # The old key can go: the new one alone opens everything; the old one alone opens nothing.
        alone = ONLY_NEW.keyring()
        for ticket_id in [*ids, "NEW-1"]:
            assert await release(conn, alone, ticket_id) is not None
        with pytest.raises(ValueError, match="k2"):
            await release(conn, OLD_KEY.keyring(), "OLD-1")


async def test_retention_erases_personal_data_of_long_closed_tickets_only(pool: PgPool) -> None:
    ids = await _more_rows(pool, NEW_KEY, 3)
    async with pool.acquire() as conn:  # the trail is a hash chain now: entries go in through its one writer
        closed = Draft("ROT-0", "e-ret-1", "cityloop.ticket.closed", datetime.now(UTC), "x", "closed", None, {})
        await append_timeline(conn, closed)
    await pool.execute(
        "UPDATE tickets SET status = 'closed', closed_at = now() - interval '400 days' WHERE id = ANY($1)", ids[:2]
    )
    await pool.execute(
        "UPDATE tickets SET status = 'closed', closed_at = now() - interval '10 days' WHERE id = $1", ids[2]
    )
    assert sorted(await erase_expired(pool, older_than_days=365, batch=1)) == ids[:2]
    keyring = NEW_KEY.keyring()
    async with pool.acquire() as conn:
        assert await release(conn, keyring, ids[0]) is None
        assert await release(conn, keyring, ids[2]) is not None  # closed recently: kept
        row = await conn.fetchrow("SELECT * FROM ticket_vault WHERE ticket_id = $1", ids[0])
        assert row is not None
        assert row["sealed"] is None
        assert row["wrapped_key"] is None
        assert row["phone_index"] is None
        assert row["erased_at"] is not None
        assert row["contact_ref"].startswith("C-")
        assert set(row["masked"].values()) == {None}
        # The ticket and its masked trail stay as they were.
        assert await conn.fetchval("SELECT count(*) FROM ticket_timeline WHERE ticket_id = 'ROT-0'") == 1
        assert await conn.fetchval("SELECT status FROM tickets WHERE id = $1", ids[0]) == "closed"
    assert await erase_expired(pool, older_than_days=365) == []
