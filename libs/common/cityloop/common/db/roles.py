"""The service's own database role: rights on its own schema only, granted by the schema's owner.

Each service connects as ``cityloop_<service>`` (settings.db_role), never as the owner or a superuser:
USAGE on its schema and DML on its tables and sequences, nothing on the other services' schemas, no DDL.
A table a migration makes append-only (a trigger calling the schema's ``append_only()`` function, e.g.
intake's trail in 0010_trail_chain.sql) gets INSERT and SELECT only: the database refuses the service's
UPDATE, DELETE and TRUNCATE on it, whatever the service's code does.

The roles themselves are cluster-wide and made by whoever runs the cluster: scripts/infra/postgres.sh
locally, tests/databases.py for test clusters, CloudNativePG's managed roles in deploy/k8s.
"""

from cityloop.common.db.pool import Conn

APPEND_ONLY_TABLES = (
    "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_proc p ON p.oid = t.tgfoid"
    " WHERE n.nspname = $1 AND p.proname = 'append_only' ORDER BY 1"
)


class MissingRole(RuntimeError):
    pass


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def grant_service_role(conn: Conn, schema: str, role: str) -> list[str]:
    """Grant ``role`` its rights on ``schema`` (run as the owner, after migrations); the append-only tables."""
    if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
        raise MissingRole(
            f"database role {role} does not exist: `make infra` (scripts/infra/postgres.sh) creates the local"
            " services' roles; in Kubernetes they are CloudNativePG managed roles (deploy/k8s/base/postgres)"
        )
    s, r = _ident(schema), _ident(role)
    await conn.execute(f"GRANT USAGE ON SCHEMA {s} TO {r}")
    await conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA {s} TO {r}")
    await conn.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {s} TO {r}")
    append_only = [str(row["relname"]) for row in await conn.fetch(APPEND_ONLY_TABLES, schema)]
    for table in append_only:
        await conn.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {s}.{_ident(table)} FROM {r}")
    return append_only
