"""Router's commands: ``python -m cityloop.router.cli {seed,retrain,evaluate,generate-city}``.

seed: load the master-data files into the database if their version changed; retrain: train a new
classifier from the seed set and every labelled example and store it (running routers pick it up on the
next ticket); evaluate: classification and routing quality on held-out generated requests (no database);
generate-city: rewrite data/city/*.csv from the generator.
"""

import asyncio
import sys

from cityloop.common.db.migrate import migrate
from cityloop.common.db.pool import create_pool
from cityloop.router.app import MIGRATIONS
from cityloop.router.classification import evaluation
from cityloop.router.classification.training import train_and_store
from cityloop.router.data import generate_city
from cityloop.router.masterdata.seed import seed_master_data
from cityloop.router.settings import RouterSettings


async def _with_database(command: str) -> None:
    settings = RouterSettings()
    pool = await create_pool(settings.service_database_url, settings.db_schema, min_size=1, max_size=2)
    try:
        await migrate(pool, settings.db_schema, MIGRATIONS)
        if command == "seed":
            async with pool.acquire() as conn:
                print("loaded" if await seed_master_data(conn) else "already current")
        else:
            print(await train_and_store(pool, settings, trigger="command:cli"))
    finally:
        await pool.close()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"seed", "retrain", "evaluate", "generate-city"}:
        print(__doc__)
        return 2
    if argv[0] == "evaluate":
        evaluation.main(argv[1:])
    elif argv[0] == "generate-city":
        generate_city.write(generate_city.generate())
    else:
        asyncio.run(_with_database(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
