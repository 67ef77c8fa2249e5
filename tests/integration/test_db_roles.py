"""Per-service database roles (issue 11): each service connects as its own role, never as a superuser or
the schema's owner, with rights on its own schema only (libs/common/cityloop/common/db/roles.py); the
trail's rows cannot be updated or deleted by intake's role."""

import asyncpg
import pytest

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
