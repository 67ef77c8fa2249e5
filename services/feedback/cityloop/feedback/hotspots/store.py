"""Every SQL statement of hot spots."""

from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from cityloop.common.db.pool import Conn
from cityloop.feedback.signals.snapshots import HotspotSnapshot


async def replace(conn: Conn, snapshot: HotspotSnapshot, *, taken_at: datetime) -> bool:
    """Make the key's counts those of the snapshot, unless a newer snapshot is applied already. One round
    trip, and only what changed is written: a snapshot repeats every bucket of its key, while one ticket
    moves one hour and one day (buckets the snapshot no longer has are deleted, counts that moved updated)."""
    k = snapshot.key
    rows = [("hour", start, n) for start, n in snapshot.counts.hours.items() if n > 0]
    rows += [("day", start, n) for start, n in snapshot.counts.days.items() if n > 0]
    applied = await conn.fetchval(
        "WITH newer AS (INSERT INTO hotspot_keys (level, area, category, district, snapshot_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (level, area, category) DO UPDATE SET"
        " district = EXCLUDED.district, snapshot_at = EXCLUDED.snapshot_at"
        " WHERE hotspot_keys.snapshot_at <= EXCLUDED.snapshot_at RETURNING 1),"
        " snap AS (SELECT kind, to_timestamp(start) AS bucket_start, n"
        " FROM unnest($6::text[], $7::bigint[], $8::int[]) AS r(kind, start, n)),"
        # Deleted and upserted rows are disjoint (not in the snapshot / in it), as one statement needs.
        " gone AS (DELETE FROM hotspot_counts c WHERE EXISTS (SELECT FROM newer)"
        " AND c.level = $1 AND c.area = $2 AND c.category = $3"
        " AND NOT EXISTS (SELECT FROM snap s WHERE s.kind = c.kind AND s.bucket_start = c.bucket_start)),"
        " put AS (INSERT INTO hotspot_counts (level, area, category, kind, bucket_start, count)"
        " SELECT $1, $2, $3, kind, bucket_start, n FROM snap WHERE EXISTS (SELECT FROM newer)"
        " ON CONFLICT (level, area, category, kind, bucket_start) DO UPDATE SET count = EXCLUDED.count"
        " WHERE hotspot_counts.count <> EXCLUDED.count)"
        " SELECT EXISTS (SELECT FROM newer)",
        k.level,
        k.area,
        k.category,
        k.district,
        taken_at,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
    )
    return bool(applied)


@dataclass(frozen=True)
class Span:
    """Buckets of one kind from ``previous_start`` to ``end``; the current period starts at ``start``."""

    kind: str
    previous_start: datetime
    start: datetime
    end: datetime


async def ranked(
    conn: Conn,
    *,
    level: str,
    span: Span,
    order: str,
    limit: int,
    district: str | None,
    category_group: str | None,
) -> list[asyncpg.Record]:
    """Keys of ``level`` with their count in the period and in the period before, ranked by ``order``:
    ``count`` (most tickets first) or ``rise`` (largest increase first, only keys that rose)."""
    order_by = "count DESC" if order == "count" else "count - previous DESC, count DESC"
    rising = "AND count > previous" if order == "rise" else ""
    return await conn.fetch(
        "SELECT * FROM (SELECT c.area, c.category, k.district,"
        " coalesce(sum(c.count) FILTER (WHERE c.bucket_start >= $3), 0)::int AS count,"
        " coalesce(sum(c.count) FILTER (WHERE c.bucket_start < $3), 0)::int AS previous"
        " FROM hotspot_counts c JOIN hotspot_keys k USING (level, area, category)"
        " WHERE c.level = $1 AND c.kind = $2 AND c.bucket_start >= $4 AND c.bucket_start < $5"
        " AND ($6::text IS NULL OR k.district = $6)"
        " AND ($7::text IS NULL OR c.category = $7 OR c.category LIKE $7 || '.%')"
        " GROUP BY c.area, c.category, k.district) t"
        f" WHERE count > 0 {rising} ORDER BY {order_by}, area, category LIMIT $8",
        level,
        span.kind,
        span.start,
        span.previous_start,
        span.end,
        district,
        category_group,
        limit,
    )


async def buckets(
    conn: Conn, *, level: str, span: Span, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], dict[datetime, int]]:
    """The current period's counts per bucket for the given (area, category) keys."""
    if not keys:
        return {}
    rows = await conn.fetch(
        "SELECT c.area, c.category, c.bucket_start, c.count FROM hotspot_counts c"
        " JOIN unnest($3::text[], $4::text[]) AS k(area, category) USING (area, category)"
        " WHERE c.level = $1 AND c.kind = $2 AND c.bucket_start >= $5 AND c.bucket_start < $6",
        level,
        span.kind,
        [k[0] for k in keys],
        [k[1] for k in keys],
        span.start,
        span.end,
    )
    out: dict[tuple[str, str], dict[datetime, int]] = {}
    for r in rows:
        out.setdefault((r["area"], r["category"]), {})[r["bucket_start"].astimezone(UTC)] = r["count"]
    return out


async def district_totals(conn: Conn, *, span: Span) -> list[asyncpg.Record]:
    """Per district and category group: tickets in the period (for the gauges)."""
    return await conn.fetch(
        "SELECT area AS district, split_part(category, '.', 1) AS category_group, sum(count)::int AS count"
        " FROM hotspot_counts WHERE level = 'district' AND kind = $1 AND bucket_start >= $2 AND bucket_start < $3"
        " GROUP BY 1, 2",
        span.kind,
        span.start,
        span.end,
    )
