"""The tamper-evident trail (issue 11): each ticket's entries are hash-chained under the ticket's row lock,
anchors pin the chains' heads, and ``make trail-verify`` (python -m cityloop.intake.trail.verify) names the
first entry changed or removed directly in the database. The trail is append-only for the service."""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
import pytest

from cityloop.common.contract import types
from cityloop.intake.trail import anchors
from cityloop.intake.trail.chain import as_stored
from cityloop.intake.trail.flows import record_lifecycle
from tests.conftest import TEST_DSN
from tests.integration.conftest import Loop
from tests.integration.routing_support import address_in, create, ticket, timeline
from tests.stand_ins import lifecycle

#: How the table owner (the test cluster's superuser) gets past the append-only trigger to tamper.
BYPASS = "ALTER TABLE intake.ticket_timeline {} TRIGGER ticket_timeline_append_only"


def trail_verify() -> subprocess.CompletedProcess[str]:
    """What `make trail-verify` runs, against this session's database."""
    env = {**os.environ, "CITYLOOP_DATABASE_URL": TEST_DSN}
    return subprocess.run(
        [sys.executable, "-m", "cityloop.intake.trail.verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@asynccontextmanager
async def as_owner() -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(TEST_DSN)
    try:
        yield conn
    finally:
        await conn.close()


async def a_dispatched_ticket(loop: Loop, street: str, grid: int = 0) -> str:
    """A routed ticket (dispatched, or merged into a case at the same place) with a few trail entries."""
    ticket_id = await create(
        loop, ticket("马路中间有个大坑电动车差点摔倒", address_in(street, grid), "transport.pothole")
    )
    await timeline(loop, ticket_id, (types.TICKET_DISPATCHED, types.TICKET_MERGED))
    return ticket_id


async def test_a_changed_trail_row_makes_trail_verify_fail_naming_it(loop: Loop) -> None:
    ticket_id = await a_dispatched_ticket(loop, "pd-s05")
    async with loop.runtime("intake").pool.acquire() as conn:
        await anchors.anchor(conn)
    verified = trail_verify()
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("ok "), verified.stdout
    assert " entries" in verified.stdout.splitlines()[0]

    async with as_owner() as owner:
        row = await owner.fetchrow(
            "SELECT seq, summary FROM intake.ticket_timeline WHERE ticket_id = $1 ORDER BY chain_index LIMIT 1",
            ticket_id,
        )
        assert row is not None
        async with owner.transaction():
            await owner.execute(BYPASS.format("DISABLE"))
            await owner.execute(
                "UPDATE intake.ticket_timeline SET summary = 'nothing happened' WHERE seq = $1", row["seq"]
            )
            await owner.execute(BYPASS.format("ENABLE"))
        try:
            broken = trail_verify()
        finally:
            async with owner.transaction():
                await owner.execute(BYPASS.format("DISABLE"))
                await owner.execute(
                    "UPDATE intake.ticket_timeline SET summary = $2 WHERE seq = $1", row["seq"], row["summary"]
                )
                await owner.execute(BYPASS.format("ENABLE"))
    assert broken.returncode == 1, broken.stdout
    assert f"ticket {ticket_id} entry #0 (ticket_timeline.seq={row['seq']}," in broken.stdout, broken.stdout
    assert trail_verify().returncode == 0  # restored: the chain holds again


async def test_an_anchored_entry_cut_off_the_end_is_named(loop: Loop) -> None:
    ticket_id = await a_dispatched_ticket(loop, "pd-s06")
    await timeline(loop, ticket_id, types.SLA_DEADLINES_SET)  # the last event this ticket gets for now
    async with loop.runtime("intake").pool.acquire() as conn:
        await anchors.anchor(conn)
    async with as_owner() as owner:
        newest = await owner.fetchrow(
            "SELECT * FROM intake.ticket_timeline WHERE ticket_id = $1 ORDER BY chain_index DESC LIMIT 1", ticket_id
        )
        assert newest is not None
        head = await owner.fetchrow("SELECT * FROM intake.trail_heads WHERE ticket_id = $1", ticket_id)
        assert head is not None
        previous = await owner.fetchval(
            "SELECT hash FROM intake.ticket_timeline WHERE ticket_id = $1 AND chain_index = $2",
            ticket_id,
            newest["chain_index"] - 1,
        )
        async with owner.transaction():
            await owner.execute(BYPASS.format("DISABLE"))
            await owner.execute("DELETE FROM intake.ticket_timeline WHERE seq = $1", newest["seq"])
            await owner.execute(BYPASS.format("ENABLE"))
        only_the_row = trail_verify()
        # A careful forger moves the recorded head back too: then only the anchor knows.
        await owner.execute(
            "UPDATE intake.trail_heads SET chain_index = $2, hash = $3 WHERE ticket_id = $1",
            ticket_id,
            newest["chain_index"] - 1,
            previous,
        )
        try:
            broken = trail_verify()
        finally:
            await owner.execute(
                "UPDATE intake.trail_heads SET chain_index = $2, hash = $3 WHERE ticket_id = $1",
                ticket_id,
                head["chain_index"],
                head["hash"],
            )
            columns = list(newest.keys())
            async with owner.transaction():
                await owner.execute(
                    f"INSERT INTO intake.ticket_timeline ({', '.join(columns)})"
                    f" VALUES ({', '.join(f'${i + 1}' for i in range(len(columns)))})",
                    *newest.values(),
                )
    assert only_the_row.returncode == 1, only_the_row.stdout
    assert f"ticket {ticket_id} entry #{newest['chain_index']}: missing" in only_the_row.stdout, only_the_row.stdout
    assert broken.returncode == 1, broken.stdout
    assert f"ticket {ticket_id} entry #{newest['chain_index']}: anchored, but no longer in the trail" in broken.stdout
    assert trail_verify().returncode == 0


async def test_the_service_cannot_update_or_delete_the_trail(loop: Loop) -> None:
    ticket_id = await a_dispatched_ticket(loop, "pd-s05", 1)
    async with loop.runtime("intake").pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE ticket_timeline SET summary = 'x' WHERE ticket_id = $1", ticket_id)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM ticket_timeline WHERE ticket_id = $1", ticket_id)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE trail_anchors SET hash = '\\x00'")


async def test_concurrent_events_of_one_ticket_chain_one_after_another(loop: Loop) -> None:
    ticket_id = await a_dispatched_ticket(loop, "pd-s06", 1)
    pool = loop.runtime("intake").pool

    async def one(n: int) -> None:
        event = lifecycle(
            "cityloop.router",
            types.TICKET_PROGRESS,
            ticket_id,
            None,
            {"dept_code": "pd-test", "assignment_id": f"{ticket_id}:test", "note": f"进展 {n}"},
        )
        async with pool.acquire() as conn, conn.transaction():
            await record_lifecycle(conn, event, loop.apps["intake"].state.keyring)

    await asyncio.gather(*(one(n) for n in range(12)))
    async with pool.acquire() as conn:
        indexes = await conn.fetch(
            "SELECT chain_index FROM ticket_timeline WHERE ticket_id = $1 ORDER BY chain_index", ticket_id
        )
    assert [r["chain_index"] for r in indexes] == list(range(len(indexes)))
    verified = trail_verify()
    assert verified.returncode == 0, verified.stdout + verified.stderr


#: Values whose jsonb form differs from what went in, or might: exponent floats, signed zero, NaN,
#: 64-bit bounds, small and long fractions, nesting.
AWKWARD_DETAILS = [
    {"x": 1e16, "y": -1.5e16, "z": 1e20, "w": 1e300},
    {"zero": -0.0, "nan": float("nan"), "inf": float("inf")},
    {"small": 1e-7, "tiny": 1.23e-20, "whole": 121.0, "sum": 0.1 + 0.2, "half": 1e15 + 0.5},
    {"big": 2**63, "low": -(2**63), "u64": 2**64 - 1, "n": [1e16, {"deep": -0.0}], "s": "锦绣路\u00e9\t"},
]


@pytest.mark.parametrize("detail", AWKWARD_DETAILS)
async def test_a_details_stored_form_is_computed_as_postgresql_returns_it(loop: Loop, detail: dict[str, Any]) -> None:
    """chain.as_stored stands in for a round trip through jsonb when an entry is hashed (store.py)."""
    async with loop.runtime("intake").pool.acquire() as conn:
        stored = await conn.fetchval("SELECT $1::jsonb", detail)
    # As the chain encodes them (sorted keys): an int and a float of the same value, 0.0 and -0.0, differ.
    assert orjson.dumps(stored, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        as_stored(detail), option=orjson.OPT_SORT_KEYS
    )
