"""Several writes sent as ONE statement of data-modifying CTEs (``WITH a AS (INSERT ...), b AS (...) SELECT``).

One round trip instead of one per write plus BEGIN and COMMIT: a single statement is atomic on its own,
and PostgreSQL checks foreign keys at the end of the statement, so rows that refer to each other may go in
side by side. Each store module adds its own CTE (the SQL stays with the table's owner); the caller runs
the whole with a final SELECT over the CTEs' RETURNING rows. Every CTE that writes runs whether or not the
final SELECT reads it; a plain SELECT CTE runs only if something reads it.
"""

from typing import Any

import asyncpg

from cityloop.common.db.pool import Conn


class Composed:
    def __init__(self) -> None:
        self.args: list[Any] = []
        self._ctes: list[str] = []

    def arg(self, value: Any, cast: str) -> str:
        """A placeholder for ``value``, cast to the SQL type ``cast`` (INSERT ... SELECT does not infer it)."""
        self.args.append(value)
        return f"${len(self.args)}::{cast}"

    def cte(self, name: str, sql: str) -> None:
        self._ctes.append(f"{name} AS ({sql})")

    def sql(self, final: str) -> str:
        return f"WITH {', '.join(self._ctes)} {final}" if self._ctes else final

    async def fetch(self, conn: Conn, final: str) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await conn.fetch(self.sql(final), *self.args)
        return rows
