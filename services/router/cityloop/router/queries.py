"""Every SQL statement of router, in one place."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from cityloop.common.db.pool import Conn
from cityloop.router.data.files import CityFiles
from cityloop.router.masterdata import (
    Category,
    Community,
    Department,
    District,
    Grid,
    MasterData,
    Responsibility,
    Street,
)

# ---------------------------------------------------------------------------------------- master data


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


# ---------------------------------------------------------------------------------------- tickets


async def upsert_ticket(conn: Conn, ticket: dict[str, Any]) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO tickets (ticket_id, category, description, location, urgency, citizen, status, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (ticket_id) DO NOTHING RETURNING 1",
        ticket["ticket_id"],
        ticket["category"],
        ticket["description"],
        ticket["location"],
        ticket["urgency"],
        ticket["citizen"],
        ticket["status"],
        ticket["created_at"],
    )
    return inserted is not None


async def get_ticket(conn: Conn, ticket_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    sql = "SELECT * FROM tickets WHERE ticket_id = $1" + (" FOR UPDATE" if lock else "")
    return await conn.fetchrow(sql, ticket_id)


async def set_ticket_status(conn: Conn, ticket_id: str, status: str) -> None:
    await conn.execute("UPDATE tickets SET status = $2, updated_at = now() WHERE ticket_id = $1", ticket_id, status)


async def record_decision(
    conn: Conn,
    ticket_id: str,
    *,
    status: str,
    category: str | None,
    classification: dict[str, Any],
    resolved: dict[str, Any],
    decision: dict[str, Any],
    queue_reason: str | None,
) -> None:
    await conn.execute(
        "UPDATE tickets SET status = $2, category = COALESCE($3, category), classification = $4, resolved = $5,"
        " decision = $6, queue_reason = $7,"
        " queued_at = CASE WHEN $7::text IS NULL THEN NULL ELSE now() END, updated_at = now()"
        " WHERE ticket_id = $1",
        ticket_id,
        status,
        category,
        classification,
        resolved,
        decision,
        queue_reason,
    )


async def send_to_queue(conn: Conn, ticket_id: str, reason: str) -> None:
    await conn.execute(
        "UPDATE tickets SET status = 'needs_dispatcher', queue_reason = $2, queued_at = now(), updated_at = now()"
        " WHERE ticket_id = $1",
        ticket_id,
        reason,
    )


async def count_rejection(conn: Conn, ticket_id: str) -> int:
    return int(
        await conn.fetchval(
            "UPDATE tickets SET rejections = rejections + 1 WHERE ticket_id = $1 RETURNING rejections", ticket_id
        )
    )


async def queue(
    conn: Conn,
    *,
    reason: str | None,
    category: str | None,
    district: str | None,
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    where = (
        "status = 'needs_dispatcher' AND ($1::text IS NULL OR queue_reason = $1)"
        " AND ($2::text IS NULL OR category = $2) AND ($3::text IS NULL OR resolved->>'district' = $3)"
    )
    rows = await conn.fetch(
        f"SELECT * FROM tickets WHERE {where} ORDER BY queued_at, ticket_id LIMIT $4 OFFSET $5",
        reason,
        category,
        district,
        limit,
        offset,
    )
    total = await conn.fetchval(f"SELECT count(*) FROM tickets WHERE {where}", reason, category, district)
    return list(rows), int(total)


# ---------------------------------------------------------------------------------------- assignments


async def insert_assignment(
    conn: Conn,
    *,
    assignment_id: str,
    ticket_id: str,
    dept_code: str,
    role: str,
    reason: dict[str, Any],
    accept_by: datetime | None,
    resolve_by: datetime | None,
    final: bool = False,
) -> None:
    await conn.execute(
        "INSERT INTO assignments (id, ticket_id, dept_code, role, status, reason, accept_by, resolve_by, final)"
        " VALUES ($1, $2, $3, $4, 'assigned', $5, $6, $7, $8)",
        assignment_id,
        ticket_id,
        dept_code,
        role,
        reason,
        accept_by,
        resolve_by,
        final,
    )


async def lock_assignment(conn: Conn, assignment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM assignments WHERE id = $1 FOR UPDATE", assignment_id)


async def set_assignment_status(conn: Conn, assignment_id: str, status: str) -> None:
    await conn.execute("UPDATE assignments SET status = $2, updated_at = now() WHERE id = $1", assignment_id, status)


async def live_assignments(conn: Conn, ticket_id: str) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT * FROM assignments WHERE ticket_id = $1 AND status IN ('assigned', 'accepted')"
            " ORDER BY created_at FOR UPDATE",
            ticket_id,
        )
    )


async def withdraw_assignment(conn: Conn, assignment_id: str, reason: str) -> None:
    await conn.execute(
        "UPDATE assignments SET status = 'withdrawn', withdrawn_reason = $2, updated_at = now() WHERE id = $1",
        assignment_id,
        reason,
    )


async def assignments_of(conn: Conn, ticket_id: str) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT * FROM assignments WHERE ticket_id = $1 ORDER BY created_at", ticket_id))


# ---------------------------------------------------------------------------------------- cases (并单)


async def insert_case(
    conn: Conn,
    *,
    case_id: str,
    category: str,
    lead_ticket: str,
    point: tuple[float, float] | None,
    grid: str | None,
    opened_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO cases (id, category, lead_ticket, lat, lon, grid, opened_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        case_id,
        category,
        lead_ticket,
        point[0] if point else None,
        point[1] if point else None,
        grid,
        opened_at,
    )
    await set_ticket_case(conn, lead_ticket, case_id)


async def set_ticket_case(conn: Conn, ticket_id: str, case_id: str | None) -> None:
    await conn.execute("UPDATE tickets SET case_id = $2, updated_at = now() WHERE ticket_id = $1", ticket_id, case_id)


async def open_cases(conn: Conn, category: str, since: datetime) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            # Only cases someone is working on: a case whose lead ticket waits for a dispatcher takes no joiners.
            "SELECT c.* FROM cases c JOIN tickets t ON t.ticket_id = c.lead_ticket"
            " WHERE c.status = 'open' AND c.category = $1 AND c.opened_at >= $2"
            " AND t.status IN ('dispatched', 'accepted')",
            category,
            since,
        )
    )


async def get_case(conn: Conn, case_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM cases WHERE id = $1" + (" FOR UPDATE" if lock else ""), case_id)


async def case_of_ticket(conn: Conn, ticket_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT c.* FROM cases c JOIN tickets t ON t.case_id = c.id WHERE t.ticket_id = $1", ticket_id
    )


async def case_members(conn: Conn, case_id: str) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT * FROM tickets WHERE case_id = $1 ORDER BY created_at, ticket_id", case_id))


async def close_case(conn: Conn, case_id: str) -> None:
    await conn.execute("UPDATE cases SET status = 'closed' WHERE id = $1", case_id)


async def list_cases(conn: Conn, *, status: str | None, limit: int, offset: int) -> tuple[list[asyncpg.Record], int]:
    where = "($1::text IS NULL OR c.status = $1)"
    rows = await conn.fetch(
        "SELECT c.*, (SELECT count(*) FROM tickets t WHERE t.case_id = c.id) AS tickets FROM cases c"
        f" WHERE {where} AND (SELECT count(*) FROM tickets t WHERE t.case_id = c.id) > 1"
        " ORDER BY c.opened_at DESC, c.id LIMIT $2 OFFSET $3",
        status,
        limit,
        offset,
    )
    total = await conn.fetchval(
        f"SELECT count(*) FROM cases c WHERE {where} AND (SELECT count(*) FROM tickets t WHERE t.case_id = c.id) > 1",
        status,
    )
    return list(rows), int(total)


# ---------------------------------------------------------------------------------------- 退单


async def insert_rejection(
    conn: Conn,
    *,
    ticket_id: str,
    assignment_id: str,
    dept_code: str,
    reason: str,
    suggested_dept: str | None,
    outcome: str,
) -> None:
    await conn.execute(
        "INSERT INTO rejections (ticket_id, assignment_id, dept_code, reason, suggested_dept, outcome)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        ticket_id,
        assignment_id,
        dept_code,
        reason,
        suggested_dept,
        outcome,
    )


async def rejections_of(conn: Conn, ticket_id: str) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT * FROM rejections WHERE ticket_id = $1 ORDER BY id", ticket_id))


# ---------------------------------------------------------------------------------------- training data


async def insert_example(
    conn: Conn, *, text: str, category: str, source: str, ticket_id: str | None, created_by: str | None
) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO training_examples (text, category, source, ticket_id, created_by)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING id",
            text,
            category,
            source,
            ticket_id,
            created_by,
        )
    )


async def examples(conn: Conn) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT id, text, category FROM training_examples ORDER BY id"))


async def last_example_id(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT COALESCE(max(id), 0) FROM training_examples"))


async def latest_model(conn: Conn, *, with_blob: bool = True) -> asyncpg.Record | None:
    columns = "*" if with_blob else "id, trained_at, seed_examples, labelled_examples, last_example_id, trigger"
    return await conn.fetchrow(f"SELECT {columns} FROM classifier_models ORDER BY id DESC LIMIT 1")


async def latest_model_id(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT COALESCE(max(id), 0) FROM classifier_models"))


async def insert_model(
    conn: Conn, *, seed_examples: int, labelled_examples: int, last_example: int, trigger: str, blob: bytes
) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO classifier_models (seed_examples, labelled_examples, last_example_id, trigger, blob)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING id",
            seed_examples,
            labelled_examples,
            last_example,
            trigger,
            blob,
        )
    )


async def prune_models(conn: Conn, keep: int) -> None:
    await conn.execute(
        "DELETE FROM classifier_models WHERE id NOT IN (SELECT id FROM classifier_models ORDER BY id DESC LIMIT $1)",
        keep,
    )


# ---------------------------------------------------------------------------------------- corrections


async def insert_correction(
    conn: Conn, *, kind: str, payload: dict[str, Any], reason: str, submitted_by: str, submitter_dept: str | None
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "INSERT INTO corrections (kind, payload, reason, submitted_by, submitter_dept)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING *",
        kind,
        payload,
        reason,
        submitted_by,
        submitter_dept,
    )
    assert row is not None
    return row


async def get_correction(conn: Conn, correction_id: int, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM corrections WHERE id = $1" + (" FOR UPDATE" if lock else ""), correction_id
    )


async def list_corrections(
    conn: Conn, *, status: str | None, kind: str | None, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    where = "($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR kind = $2)"
    rows = await conn.fetch(
        f"SELECT * FROM corrections WHERE {where} ORDER BY submitted_at DESC, id DESC LIMIT $3 OFFSET $4",
        status,
        kind,
        limit,
        offset,
    )
    total = await conn.fetchval(f"SELECT count(*) FROM corrections WHERE {where}", status, kind)
    return list(rows), int(total)


async def review_correction(
    conn: Conn, correction_id: int, *, status: str, reviewed_by: str, note: str | None, before: dict[str, Any] | None
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "UPDATE corrections SET status = $2, reviewed_by = $3, review_note = $4, before = $5, reviewed_at = now()"
        " WHERE id = $1 RETURNING *",
        correction_id,
        status,
        reviewed_by,
        note,
        before,
    )
    assert row is not None
    return row


async def approved_category_corrections(conn: Conn) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT * FROM corrections WHERE status = 'approved' AND kind = 'category_owner' ORDER BY reviewed_at, id"
        )
    )


# ---------------------------------------------------------------------------------------- master data reads (API)


async def list_departments(
    conn: Conn,
    *,
    type_: str | None,
    level: str | None,
    district: str | None,
    street: str | None,
    q: str | None,
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    where = (
        "($1::text IS NULL OR type = $1) AND ($2::text IS NULL OR level = $2) AND ($3::text IS NULL OR district = $3)"
        " AND ($4::text IS NULL OR street = $4)"
        " AND ($5::text IS NULL OR name LIKE '%' || $5 || '%' OR code LIKE $5 || '%')"
    )
    args = (type_, level, district, street, q)
    rows = await conn.fetch(
        f"SELECT * FROM departments WHERE {where} ORDER BY code LIMIT $6 OFFSET $7", *args, limit, offset
    )
    return list(rows), int(await conn.fetchval(f"SELECT count(*) FROM departments WHERE {where}", *args))


async def list_categories(
    conn: Conn, *, parent: str | None, q: str | None, handover: bool | None, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    where = (
        "($1::text IS NULL OR parent = $1 OR code LIKE $1 || '.%')"
        " AND ($2::text IS NULL OR name LIKE '%' || $2 || '%' OR code LIKE '%' || $2 || '%')"
        " AND ($3::boolean IS NULL OR (handover_to IS NOT NULL) = $3)"
    )
    rows = await conn.fetch(
        f"SELECT * FROM categories WHERE {where} ORDER BY code LIMIT $4 OFFSET $5", parent, q, handover, limit, offset
    )
    return list(rows), int(await conn.fetchval(f"SELECT count(*) FROM categories WHERE {where}", parent, q, handover))


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
    conn: Conn, level: str, *, parent: str | None, q: str | None, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    base, parent_column = _JURISDICTION_SQL[level]
    name_column = "road" if level == "grids" else "name"
    clauses = [f"($1::text IS NULL OR {parent_column} = $1)" if parent_column else "($1::text IS NULL)"]
    clauses.append(f"($2::text IS NULL OR {name_column} LIKE '%' || $2 || '%' OR code LIKE $2 || '%')")
    where = " AND ".join(clauses)
    rows = await conn.fetch(f"{base} WHERE {where} ORDER BY code LIMIT $3 OFFSET $4", parent, q, limit, offset)
    total = await conn.fetchval(f"SELECT count(*) FROM ({base} WHERE {where}) x", parent, q)
    return list(rows), int(total)
