"""A service's migrations as their own process: ``python -m cityloop.common.migrate_process <service>``.

The Kubernetes Deployments run it as an init container (deploy/k8s/README.md, "Migrations"), so a pod's
schema is migrated before its service starts. Several at once are safe: migrate.py holds the schema's
advisory lock, so replicas take turns and all but the first find nothing to apply.
"""

import asyncio
import importlib
import sys
from pathlib import Path

import structlog

from cityloop.common.db.migrate import migrate_as_owner
from cityloop.common.logging import configure_logging
from cityloop.common.settings import CommonSettings

log = structlog.get_logger(__name__)


def settings_class(service: str) -> type[CommonSettings]:
    """The settings class in ``cityloop.<service>.settings`` (the one whose service_name is ``service``)."""
    module = importlib.import_module(f"cityloop.{service}.settings")
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, CommonSettings) and value.service_name == service:
            return value
    raise SystemExit(f"cityloop.{service}.settings has no settings class for {service!r}")


def migrations_dir(service: str) -> Path:
    package = importlib.import_module(f"cityloop.{service}")
    return Path(next(iter(package.__path__))) / "migrations"


async def run_migrations(settings: CommonSettings, service_dir: Path) -> list[str]:
    """As the schema's owner; then the service's own role gets its rights (db/roles.py)."""
    return await migrate_as_owner(settings, service_dir)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m cityloop.common.migrate_process <intake|router|sla|feedback>")
    name = sys.argv[1]
    chosen = settings_class(name)()
    configure_logging(f"{name}-migrate", level=chosen.log_level, json=chosen.log_json)
    applied = asyncio.run(run_migrations(chosen, migrations_dir(name)))
    log.info("migrations.done", service=name, applied=applied)
