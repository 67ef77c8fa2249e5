"""The one keyset cursor (libs/common paging.py): opaque, round-trips its sort key, refuses forgeries."""

from datetime import UTC, datetime

import pytest

from cityloop.common.paging import BadCursor, Keyset, Page

TICKETS = Keyset(("t.created_at", "timestamptz"), ("t.id", "text"), descending=True)
BY_ID = Keyset(("id", "bigint"))
NOW = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)


def test_a_cursor_is_the_sort_key_of_the_last_row() -> None:
    cursor = TICKETS.encode({"created_at": NOW, "id": "T1", "description": "ignored"})
    assert TICKETS.decode(cursor) == (NOW, "T1")
    assert BY_ID.decode(BY_ID.encode({"id": 42})) == (42,)
    assert TICKETS.decode(None) is None
    assert TICKETS.args(None) == [None, None]


@pytest.mark.parametrize(
    "cursor",
    [
        "definitely-not",
        "!!!",
        BY_ID.encode({"id": 42}),  # another list's cursor: one value, not two
        Keyset(("a", "text"), ("b", "text")).encode({"a": "not a time", "b": "T1"}),
        Keyset(("a", "text"), ("b", "text")).encode({"a": "2026-11-22T08:30:00", "b": "T1"}),  # no offset
    ],
)
def test_a_forged_or_foreign_cursor_is_refused_naming_the_field(cursor: str) -> None:
    with pytest.raises(BadCursor) as refused:
        TICKETS.decode(cursor)
    assert refused.value.field == "cursor"
    assert refused.value.status == 422


def test_the_sql_compares_row_values_in_the_lists_direction() -> None:
    assert TICKETS.where(3) == ("($3::timestamptz IS NULL OR (t.created_at, t.id) < ($3::timestamptz, $4::text))")
    assert TICKETS.order_by() == "t.created_at DESC, t.id DESC"
    assert BY_ID.where(1) == "($1::bigint IS NULL OR (id) > ($1::bigint))"
    assert BY_ID.order_by() == "id"


def test_a_page_keeps_limit_rows_and_points_past_the_last() -> None:
    rows = [{"id": n} for n in (1, 2, 3)]
    first = BY_ID.page(rows, 2, lambda r: r["id"])
    assert first.items == [1, 2]
    assert first.next_cursor is not None
    assert BY_ID.decode(first.next_cursor) == (2,)
    last = BY_ID.page(rows[:2], 2, lambda r: r["id"])
    assert last == Page(items=[1, 2], next_cursor=None)
