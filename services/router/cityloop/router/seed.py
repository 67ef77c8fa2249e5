"""Loading the master-data files into the database when their version changes (at start, under a lock).

Approved corrections survive a new version: address corrections live in their own table, category
ownership corrections are replayed on top of the new catalogue.
"""

import structlog

from cityloop.common.db.pool import Conn
from cityloop.router import queries
from cityloop.router.data.files import catalogue_file, city_files, data_version
from cityloop.router.masterdata import Responsibility

log = structlog.get_logger(__name__)


async def seed_master_data(conn: Conn) -> bool:
    """True when the files were (re)loaded."""
    version = data_version()
    async with conn.transaction():
        await queries.lock_master(conn)
        if (await queries.master_meta(conn))["data_version"] == version:
            return False
        catalogue = catalogue_file()
        await queries.replace_city(conn, city_files())
        await queries.replace_catalogue(conn, {g.code: g.name for g in catalogue.group}, catalogue.categories())
        for correction in await queries.approved_category_corrections(conn):
            payload = correction["payload"]
            await queries.set_category_owner(
                conn, payload["category"], Responsibility.parse(payload["lead"]), payload.get("assists")
            )
        revision = await queries.bump_revision(conn, version)
    log.info("master.seeded", version=version, revision=revision)
    return True
