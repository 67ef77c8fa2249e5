"""Idempotent set-up of the data stores: every service's migrations and every topic.

Run by `make run` / `make setup`; each service also does its own part when it starts, so this is what
lets an operator prepare (or check) a fresh environment without starting anything.
"""

import asyncio

from cityloop.common.db.migrate import migrate_as_owner
from cityloop.common.db.pool import create_pool
from cityloop.common.kafka.connection import client_options
from cityloop.common.logging import configure_logging
from cityloop.common.settings import CommonSettings
from cityloop.common.topics import all_topics, ensure_topics
from cityloop.feedback.app import MIGRATIONS as FEEDBACK
from cityloop.feedback.settings import FeedbackSettings
from cityloop.intake.app import MIGRATIONS as INTAKE
from cityloop.intake.settings import IntakeSettings
from cityloop.router.app import MIGRATIONS as ROUTER
from cityloop.router.masterdata import store as router_master
from cityloop.router.settings import RouterSettings
from cityloop.sla.app import MIGRATIONS as SLA
from cityloop.sla.settings import SlaSettings


async def main() -> None:
    services: list[tuple[CommonSettings, object]] = [
        (IntakeSettings(), INTAKE),
        (RouterSettings(), ROUTER),
        (SlaSettings(), SLA),
        (FeedbackSettings(), FEEDBACK),
    ]
    dept_codes: list[str] = []
    for settings, folder in services:
        applied = await migrate_as_owner(settings, folder)  # type: ignore[arg-type]
        print(f"==> migrations {settings.db_schema}: {len(applied)} applied now")
        if isinstance(settings, RouterSettings):
            pool = await create_pool(settings.service_database_url, settings.db_schema, min_size=1, max_size=1)
            try:
                async with pool.acquire() as conn:
                    dept_codes = await router_master.department_codes(conn)
            finally:
                await pool.close()
    common = CommonSettings()
    created = await ensure_topics(
        common.kafka_bootstrap,
        common.topic_prefix,
        all_topics(dept_codes),
        replication_factor=common.kafka_replication_factor,
        options=client_options(common),
    )
    print(f"==> topics: {len(created)} created now, {len(all_topics(dept_codes))} declared")


if __name__ == "__main__":
    configure_logging("bootstrap", json=False)
    asyncio.run(main())
