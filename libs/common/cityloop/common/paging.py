"""One way to page through every list: keyset pagination behind an opaque cursor.

A list answers ``Page[T] = {items, next_cursor}``; the caller passes ``next_cursor`` back as ``cursor`` with
the same filters to get the rows that follow. The cursor is the sort key of the last row returned, so a
page is one index range scan however deep the caller goes, and rows inserted meanwhile neither repeat nor
vanish (offset paging does both). There is no total: counting is the expensive part of a deep list.

A ``Keyset`` declares a list's sort key once (SQL columns, their types, the direction); it decodes the
cursor, writes the SQL condition and ORDER BY, and builds the page from the rows.
"""

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Annotated, Any, Generic, TypeVar

import asyncpg
import orjson
from fastapi import Query
from pydantic import AwareDatetime, BaseModel, Field, TypeAdapter, ValidationError, create_model

from cityloop.common.errors import Invalid

T = TypeVar("T")
#: A result row: an asyncpg Record or a dict (both read by column name).
Row = Mapping[str, Any] | asyncpg.Record

#: The page size every list accepts; each list keeps its own default.
Limit = Annotated[int, Query(ge=1, le=500, description="page size (items per page)")]
#: Where a page starts: the ``next_cursor`` of the page before; absent for the first page.
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=512, description="`next_cursor` from the previous page; omit for the first"),
]


class Page(BaseModel, Generic[T]):
    """One page of a list. Pass ``next_cursor`` as the ``cursor`` query parameter, with the same filters,
    for the next page; it is null on the last page."""

    items: list[T]
    next_cursor: str | None = Field(description="the cursor of the next page; null when this is the last")


class BadCursor(Invalid):
    def __init__(self) -> None:
        super().__init__(
            "not a cursor this list returned (or the filters changed its shape); start without one", "cursor"
        )


#: SQL type of a sort column -> the Python type its cursor value is read back as.
_PY_TYPES: Mapping[str, Any] = {
    "timestamptz": AwareDatetime,
    "date": date,
    "text": str,
    "bigint": int,
    "integer": int,
}


class Keyset:
    """A list's sort key: ``Keyset(("t.created_at", "timestamptz"), ("t.id", "text"), descending=True)``.

    The columns together must be unique (end with the primary key) and share one direction, so that one
    row-value comparison ``(a, b) < ($1, $2)`` finds the rows after the cursor. The row key of a column is
    its name without the table alias (``t.id`` is read from ``row["id"]``).
    """

    def __init__(self, *columns: tuple[str, str], descending: bool = False) -> None:
        if not columns:
            raise ValueError("a keyset needs at least one column")
        unknown = [sql_type for _, sql_type in columns if sql_type not in _PY_TYPES]
        if unknown:
            raise ValueError(f"no cursor type for SQL types {unknown}")
        self.columns = tuple(columns)
        self.descending = descending
        self._keys = tuple(expr.rsplit(".", 1)[-1] for expr, _ in columns)
        fields: dict[str, Any] = {f"k{i}": (_PY_TYPES[t], ...) for i, (_, t) in enumerate(columns)}
        self._values: TypeAdapter[Any] = TypeAdapter(create_model("CursorValues", **fields))

    # -- the cursor ------------------------------------------------------------------------------------
    def encode(self, row: Row) -> str:
        raw = orjson.dumps([row[key] for key in self._keys])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str | None) -> tuple[Any, ...] | None:
        """The sort key a cursor stands for (None: the first page); ``BadCursor`` if it is not one of ours."""
        if cursor is None:
            return None
        try:
            raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except (binascii.Error, ValueError) as exc:
            raise BadCursor() from exc
        if not isinstance(raw, list) or len(raw) != len(self.columns):
            raise BadCursor()
        try:
            values = self._values.validate_python({f"k{i}": v for i, v in enumerate(raw)})
        except ValidationError as exc:
            raise BadCursor() from exc
        decoded = tuple(getattr(values, f"k{i}") for i in range(len(self.columns)))
        # What PostgreSQL would refuse with a 500-ish DataError: an int beyond int64, NUL in text.
        if any(isinstance(v, int) and not -(2**63) <= v < 2**63 for v in decoded):
            raise BadCursor()
        if any(isinstance(v, str) and "\x00" in v for v in decoded):
            raise BadCursor()
        return decoded

    def args(self, cursor: str | None) -> list[Any]:
        """Positional arguments for ``where(first)``: the decoded cursor, or NULLs for the first page."""
        after = self.decode(cursor)
        return list(after) if after is not None else [None] * len(self.columns)

    # -- the SQL ---------------------------------------------------------------------------------------
    def where(self, first: int) -> str:
        """The condition "after the cursor in $first, $first+1, ...", true for every row when they are NULL."""
        params = [f"${first + i}::{sql_type}" for i, (_, sql_type) in enumerate(self.columns)]
        return f"({params[0]} IS NULL OR {self.comparison(params)})"

    def comparison(self, placeholders: Sequence[str]) -> str:
        """The row-value comparison "after the cursor", its values in ``placeholders`` (for a query builder
        that numbers its own parameters); add it only when there is a cursor."""
        columns = ", ".join(expr for expr, _ in self.columns)
        op = "<" if self.descending else ">"
        return f"({columns}) {op} ({', '.join(placeholders)})"

    def order_by(self) -> str:
        direction = " DESC" if self.descending else ""
        return ", ".join(f"{expr}{direction}" for expr, _ in self.columns)

    # -- the page --------------------------------------------------------------------------------------
    def page(self, rows: Sequence[Row], limit: int, item: Callable[[Any], T]) -> Page[T]:
        """The page from ``rows`` fetched with ``LIMIT limit + 1``: the extra row only says there is more."""
        kept = rows[:limit]
        more = len(rows) > limit and bool(kept)
        return Page(items=[item(r) for r in kept], next_cursor=self.encode(kept[-1]) if more else None)
