"""Loading the master-data files into the database when their version changes (at start, under a lock).

Approved corrections survive a new version: address corrections live in their own table, category
ownership corrections are replayed on top of the new catalogue.
"""

import structlog

from cityloop.common import outbox
from cityloop.common.catalogue import service_event
from cityloop.common.db.pool import Conn
from cityloop.common.topics import CATALOGUE_SERVICES
from cityloop.router.corrections import store as corrections
from cityloop.router.data.files import catalogue_file, city_files, data_version
from cityloop.router.masterdata import store
from cityloop.router.masterdata.model import Responsibility

log = structlog.get_logger(__name__)


async def seed_master_data(conn: Conn) -> bool:
    """True when the files were (re)loaded."""
    version = data_version()
    async with conn.transaction():
        await store.lock_master(conn)
        if (await store.master_meta(conn))["data_version"] == version:
            return False
        catalogue = catalogue_file()
        await store.replace_city(conn, city_files())
        await store.replace_catalogue(conn, {g.code: g.name for g in catalogue.group}, catalogue.categories())
        for correction in await corrections.approved_category_corrections(conn):
            payload = correction["payload"]
            await store.set_category_owner(
                conn, payload["category"], Responsibility.parse(payload["lead"]), payload.get("assists")
            )
        revision = await store.bump_revision(conn, version)
        # The public face of the catalogue (Open311's services) reaches intake as events, with this version.
        services = catalogue.services()
        await outbox.enqueue_many(conn, [(CATALOGUE_SERVICES.name, service_event(s)) for s in services])
    log.info("master.seeded", version=version, revision=revision, services=len(services))
    return True
