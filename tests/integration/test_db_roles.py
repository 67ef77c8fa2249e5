"""Per-service database roles (issue 11): each service connects as its own role, never as a superuser or
the schema's owner, with rights on its own schema only (libs/common/cityloop/common/db/roles.py); the
trail's rows cannot be updated or deleted by intake's role; the migrations run as an owner that is no
superuser either."""

import importlib
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from cityloop.common.db.migrate import COMMON_MIGRATIONS
from tests.conftest import TEST_DSN
from tests.databases import OWNER_ROLE
from tests.integration.conftest import Loop

SERVICES = ("intake", "router", "sla", "feedback")


async def test_each_service_connects_as_its_own_unprivileged_role(loop: Loop) -> None:
    for service in SERVICES:
        async with loop.runtime(service).pool.acquire() as conn:
            who = await conn.fetchrow(
                "SELECT current_user AS role, r.rolsuper, r.rolcreatedb, r.rolcreaterole,"
                " has_database_privilege(current_user, current_database(), 'CREATE') AS may_create_schema,"
                " (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1) AS owner"
                " FROM pg_roles r WHERE r.rolname = current_user",
                service,
            )
            assert who is not None
            assert who["role"] == f"cityloop_{service}"
            powers = [who["rolsuper"], who["rolcreatedb"], who["rolcreaterole"], who["may_create_schema"]]
            assert powers == [False, False, False, False]
            assert who["owner"] != who["role"]
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CREATE TABLE sneaky (id int)")


async def test_a_service_cannot_read_another_services_schema(loop: Loop) -> None:
    async with loop.runtime("router").pool.acquire() as router:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await router.fetch("SELECT * FROM intake.ticket_citizens LIMIT 1")
    async with loop.runtime("feedback").pool.acquire() as feedback:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await feedback.fetch("SELECT * FROM router.assignments LIMIT 1")
    async with loop.runtime("intake").pool.acquire() as intake:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intake.execute("UPDATE sla.outbox SET published_at = now()")


async def test_intakes_role_may_append_to_the_trail_but_not_change_it(loop: Loop) -> None:
    async with loop.runtime("intake").pool.acquire() as conn:
        rights = await conn.fetchrow(
            "SELECT has_table_privilege('ticket_timeline', 'INSERT') AS ins,"
            " has_table_privilege('ticket_timeline', 'SELECT') AS sel,"
            " has_table_privilege('ticket_timeline', 'UPDATE') AS upd,"
            " has_table_privilege('ticket_timeline', 'DELETE') AS del,"
            " has_table_privilege('ticket_timeline', 'TRUNCATE') AS trunc,"
            " has_table_privilege('trail_anchors', 'UPDATE') AS anchors_upd,"
            " has_table_privilege('tickets', 'UPDATE') AS tickets_upd"
        )
        assert rights is not None
        assert dict(rights) == {
            "ins": True,
            "sel": True,
            "upd": False,
            "del": False,
            "trunc": False,
            "anchors_upd": False,
            "tickets_upd": True,
        }
        for statement in (
            "UPDATE ticket_timeline SET summary = 'rewritten'",
            "DELETE FROM ticket_timeline",
            "TRUNCATE ticket_timeline CASCADE",
            "DELETE FROM trail_anchor_heads",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await conn.execute(statement)


async def test_migrations_run_as_an_owner_that_is_no_superuser(loop: Loop) -> None:
    """Every schema was migrated in full by ``cityloop_owner`` (the services' settings name it), a login
    without superuser, CREATEDB or CREATEROLE (scripts/infra/postgres.sh, tests/databases.py)."""
    owners = {urlsplit(loop.runtime(s).settings.database_url).username for s in SERVICES}
    assert owners == {OWNER_ROLE}
    conn = await asyncpg.connect(TEST_DSN)
    try:
        who = await conn.fetchrow(
            "SELECT current_user AS role, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles"
            " WHERE rolname = current_user"
        )
        assert who is not None
        assert dict(who) == {"role": OWNER_ROLE, "rolsuper": False, "rolcreatedb": False, "rolcreaterole": False}
        for service in SERVICES:
            owner = await conn.fetchval("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1", service)
            assert owner == OWNER_ROLE
            tables = await conn.fetch("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = $1", service)
            assert [t["tableowner"] for t in tables] == [OWNER_ROLE]
            applied = {r["version"] for r in await conn.fetch(f"SELECT version FROM {service}.schema_migrations")}
            folder = Path(importlib.import_module(f"cityloop.{service}").__path__[0]) / "migrations"
            on_disk = {f"{service}:{p.stem}" for p in folder.glob("[0-9][0-9][0-9][0-9]_*.sql")}
            on_disk |= {f"common:{p.stem}" for p in COMMON_MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql")}
            assert applied == on_disk
    finally:
        await conn.close()
