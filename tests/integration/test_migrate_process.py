"""The Deployments' init container: `python -m cityloop.common.migrate_process <service>` migrates that
service's schema (shared migrations first) and is a no-op the second time."""

import os
import subprocess
import sys

import asyncpg

from cityloop.common.db.migrate import COMMON_MIGRATIONS
from cityloop.common.migrate_process import migrations_dir


def _run(service: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CITYLOOP_LOG_JSON": "true"}
    return subprocess.run(
        [sys.executable, "-m", "cityloop.common.migrate_process", service],
        check=False,
        env=env,
        capture_output=True,
        text=True,
    )


async def test_the_init_container_migrates_the_services_schema_once(database: str) -> None:
    first = _run("feedback")
    assert first.returncode == 0, first.stderr
    again = _run("feedback")
    assert again.returncode == 0, again.stderr
    assert '"applied": []' in again.stdout + again.stderr
    conn = await asyncpg.connect(database)
    try:
        done = {r["version"] for r in await conn.fetch("SELECT version FROM feedback.schema_migrations")}
    finally:
        await conn.close()
    expected = {f"common:{p.stem}" for p in COMMON_MIGRATIONS.glob("*.sql")}
    expected |= {f"feedback:{p.stem}" for p in migrations_dir("feedback").glob("*.sql")}
    assert done == expected
