"""Every SQL statement of hot spots."""

from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from cityloop.common.db.pool import Conn
from cityloop.feedback.signals.snapshots import HotspotSnapshot


async def replace(conn: Conn, snapshot: HotspotSnapshot, *, taken_at: datetime) -> bool:
    """Make the key's counts those of the snapshot, unless a newer snapshot is applied already."""
    k = snapshot.key
    newer = await conn.fetchval(
        "INSERT INTO hotspot_keys (level, area, category, district, snapshot_at) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (level, area, category) DO UPDATE SET district = EXCLUDED.district,"
        " snapshot_at = EXCLUDED.snapshot_at WHERE hotspot_keys.snapshot_at <= EXCLUDED.snapshot_at RETURNING 1",
        k.level,
        k.area,
        k.category,
        k.district,
        taken_at,
    )
    if newer is None:
        return False
    await conn.execute(
        "DELETE FROM hotspot_counts WHERE level = $1 AND area = $2 AND category = $3", k.level, k.area, k.category
    )
    rows = [("hour", start, n) for start, n in snapshot.counts.hours.items() if n > 0]
    rows += [("day", start, n) for start, n in snapshot.counts.days.items() if n > 0]
    await conn.execute(
        "INSERT INTO hotspot_counts (level, area, category, kind, bucket_start, count)"
        " SELECT $1, $2, $3, kind, to_timestamp(start), n FROM unnest($4::text[], $5::bigint[], $6::int[])"
        " AS r(kind, start, n)",
        k.level,
        k.area,
        k.category,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
    )
    return True


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
