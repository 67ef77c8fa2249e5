"""Master data's SQL: the city model, departments and catalogue, their revision, and the reads the
master-data views list."""

from collections.abc import Sequence
from typing import Any

import asyncpg

from cityloop.common.db import like
from cityloop.common.db.pool import Conn
from cityloop.common.paging import Keyset
from cityloop.router.data.files import CityFiles
from cityloop.router.masterdata.model import (
    Category,
    Community,
    Department,
    District,
    Grid,
    MasterData,
    Responsibility,
    Street,
)


async def master_meta(conn: Conn) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT data_version, revision FROM master_meta")
    assert row is not None  # inserted by the migration
    return row


async def master_revision(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT revision FROM master_meta"))


async def bump_revision(conn: Conn, data_version: str | None = None) -> int:
    return int(
        await conn.fetchval(
            "UPDATE master_meta SET revision = revision + 1, data_version = COALESCE($1, data_version)"
            " RETURNING revision",
            data_version,
        )
    )


async def lock_master(conn: Conn) -> None:
    """Serialises seeding and corrections (several router replicas may start at once)."""
    await conn.execute("SELECT 1 FROM master_meta FOR UPDATE")


async def replace_city(conn: Conn, city: CityFiles) -> None:
    await conn.execute("TRUNCATE streets, communities, grids")
    await conn.executemany(
        "INSERT INTO districts (code, name, short_name) VALUES ($1, $2, $3)"
        " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, short_name = EXCLUDED.short_name",
        [(d.code, d.name, d.short_name) for d in city.districts],
    )
    await conn.copy_records_to_table(
        "streets", records=[(s.code, s.name, s.district) for s in city.streets], columns=["code", "name", "district"]
    )
    await conn.copy_records_to_table(
        "communities",
        records=[(c.code, c.name, c.street) for c in city.communities],
        columns=["code", "name", "street"],
    )
    await conn.copy_records_to_table(
        "grids",
        records=[(g.code, g.community, g.row, g.col, g.road, g.num_lo, g.num_hi) for g in city.grids],
        columns=["code", "community", "row", "col", "road", "num_lo", "num_hi"],
    )
    codes = [d.code for d in city.departments]
    await conn.executemany(
        "INSERT INTO departments (code, name, type, level, district, street) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, type = EXCLUDED.type, level = EXCLUDED.level,"
        " district = EXCLUDED.district, street = EXCLUDED.street",
        [(d.code, d.name, d.type, d.level, d.district, d.street) for d in city.departments],
    )
    # A department that left the files but still has assignments stays, so their history keeps its owner.
    await conn.execute(
        "DELETE FROM departments d WHERE d.code <> ALL($1::text[])"
        " AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.dept_code = d.code)",
        codes,
    )
    await conn.execute("DELETE FROM districts WHERE code <> ALL($1::text[])", [d.code for d in city.districts])


def _category_row(c: Category) -> tuple[Any, ...]:
    return (
        c.code,
        c.name,
        c.lead.type if c.lead else None,
        c.lead.level if c.lead else None,
        c.handover_to,
        c.accept_days,
        c.resolve_days,
        c.parent,
        False,
        [str(a) for a in c.assists],
        c.urgency,
        c.merge_metres,
        c.merge_hours,
        list(c.keywords),
    )


_CATEGORY_COLUMNS = (
    "code, name, dept_type, dept_level, handover_to, accept_days, resolve_days, parent, is_group, assists,"
    " urgency, merge_metres, merge_hours, keywords"
)


async def replace_catalogue(conn: Conn, groups: dict[str, str], categories: Sequence[Category]) -> None:
    await conn.execute("DELETE FROM categories")
    await conn.executemany(
        f"INSERT INTO categories ({_CATEGORY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
        " $13, $14)",
        [_category_row(c) for c in categories]
        + [
            (code, name, None, None, None, 1, 5, code.rpartition(".")[0] or None, True, [], "normal", 0, 0, [])
            for code, name in groups.items()
        ],
    )


async def set_category_owner(conn: Conn, code: str, lead: Responsibility, assists: Sequence[str] | None) -> None:
    await conn.execute(
        "UPDATE categories SET dept_type = $2, dept_level = $3, assists = COALESCE($4, assists) WHERE code = $1",
        code,
        lead.type,
        lead.level,
        list(assists) if assists is not None else None,
    )


async def upsert_address_override(conn: Conn, key: str, grid: str, correction_id: int) -> None:
    await conn.execute(
        "INSERT INTO address_overrides (address_key, grid, correction_id) VALUES ($1, $2, $3)"
        " ON CONFLICT (address_key) DO UPDATE SET grid = EXCLUDED.grid, correction_id = EXCLUDED.correction_id",
        key,
        grid,
        correction_id,
    )


async def load_master(conn: Conn) -> MasterData:
    revision = await master_revision(conn)
    categories = []
    groups = {}
    for r in await conn.fetch("SELECT * FROM categories ORDER BY code"):
        if r["is_group"]:
            groups[r["code"]] = r["name"]
            continue
        categories.append(
            Category(
                code=r["code"],
                name=r["name"],
                parent=r["parent"],
                lead=Responsibility(r["dept_level"], r["dept_type"]) if r["dept_type"] else None,
                assists=tuple(Responsibility.parse(a) for a in r["assists"]),
                handover_to=r["handover_to"],
                urgency=r["urgency"],
                accept_days=r["accept_days"],
                resolve_days=r["resolve_days"],
                merge_metres=r["merge_metres"],
                merge_hours=r["merge_hours"],
                keywords=tuple(r["keywords"]),
            )
        )
    return MasterData.build(
        revision=revision,
        districts=[
            District(r["code"], r["name"], r["short_name"] or r["name"])
            for r in await conn.fetch("SELECT code, name, short_name FROM districts")
        ],
        streets=[Street(*r) for r in await conn.fetch("SELECT code, name, district FROM streets")],
        communities=[Community(*r) for r in await conn.fetch("SELECT code, name, street FROM communities")],
        grids=[Grid(*r) for r in await conn.fetch("SELECT code, community, row, col, road, num_lo, num_hi FROM grids")],
        departments=[
            Department(*r)
            for r in await conn.fetch("SELECT code, name, type, level, district, street FROM departments")
        ],
        categories=categories,
        address_overrides={r["address_key"]: r["grid"] for r in await conn.fetch("SELECT * FROM address_overrides")},
        groups=groups,
    )


async def department_codes(conn: Conn) -> list[str]:
    return [r["code"] for r in await conn.fetch("SELECT code FROM departments ORDER BY code")]


#: Master data lists: by code (each table's primary key).
BY_CODE = Keyset(("code", "text"))


async def list_departments(
    conn: Conn,
    *,
    type_: str | None,
    level: str | None,
    district: str | None,
    street: str | None,
    q: str | None,
    limit: int,
    cursor: str | None,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM departments WHERE ($1::text IS NULL OR type = $1) AND ($2::text IS NULL OR level = $2)"
        " AND ($3::text IS NULL OR district = $3) AND ($4::text IS NULL OR street = $4)"
        " AND ($5::text IS NULL OR name LIKE $8 OR code LIKE $9)"
        f" AND {BY_CODE.where(7)} ORDER BY {BY_CODE.order_by()} LIMIT $6",
        type_,
        level,
        district,
        street,
        q,
        limit,
        *BY_CODE.args(cursor),
        like.contains(q),
        like.starts_with(q),
    )


async def list_categories(
    conn: Conn, *, parent: str | None, q: str | None, handover: bool | None, limit: int, cursor: str | None
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM categories WHERE ($1::text IS NULL OR parent = $1 OR code LIKE $6)"
        " AND ($2::text IS NULL OR name LIKE $7 OR code LIKE $7)"
        " AND ($3::boolean IS NULL OR (handover_to IS NOT NULL) = $3)"
        f" AND {BY_CODE.where(5)} ORDER BY {BY_CODE.order_by()} LIMIT $4",
        parent,
        q,
        handover,
        limit,
        *BY_CODE.args(cursor),
        like.starts_with(None if parent is None else f"{parent}."),
        like.contains(q),
    )


async def get_category(conn: Conn, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM categories WHERE code = $1", code)


async def get_department(conn: Conn, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM departments WHERE code = $1", code)


_JURISDICTION_SQL = {
    "districts": ("SELECT code, name, short_name FROM districts", None),
    "streets": ("SELECT code, name, district FROM streets", "district"),
    "communities": ("SELECT code, name, street FROM communities", "street"),
    "grids": ("SELECT code, community, road, num_lo, num_hi, row, col FROM grids", "community"),
}


async def list_jurisdictions(
    conn: Conn, level: str, *, parent: str | None, q: str | None, limit: int, cursor: str | None
) -> list[asyncpg.Record]:
    base, parent_column = _JURISDICTION_SQL[level]
    name_column = "road" if level == "grids" else "name"
    clauses = [f"($1::text IS NULL OR {parent_column} = $1)" if parent_column else "($1::text IS NULL)"]
    clauses.append(f"($2::text IS NULL OR {name_column} LIKE $5 OR code LIKE $6)")
    clauses.append(BY_CODE.where(4))
    where = " AND ".join(clauses)
    return await conn.fetch(
        f"{base} WHERE {where} ORDER BY {BY_CODE.order_by()} LIMIT $3",
        parent,
        q,
        limit,
        *BY_CODE.args(cursor),
        like.contains(q),
        like.starts_with(q),
    )
