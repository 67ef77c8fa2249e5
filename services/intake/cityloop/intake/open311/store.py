"""Open311's SQL: its clients, its service list and attributes, and the requests made through it."""

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from cityloop.common.catalogue import CatalogueService
from cityloop.common.db.pool import Conn

Record = asyncpg.Record


async def insert_open311_client(conn: Conn, *, key_hash: str, name: str) -> None:
    await conn.execute(
        "INSERT INTO open311_clients (key_hash, name) VALUES ($1, $2) ON CONFLICT (key_hash) DO NOTHING",
        key_hash,
        name,
    )


async def open311_client(conn: Conn, key_hash: str) -> str | None:
    value = await conn.fetchval("SELECT name FROM open311_clients WHERE key_hash = $1 AND active", key_hash)
    return None if value is None else str(value)


async def offer_service(conn: Conn, service: CatalogueService) -> None:
    """Keep one category's latest offer and its attributes (replaced whole: the event is the whole offer)."""
    await conn.execute(
        "INSERT INTO open311_services (service_code, service_name, description, group_name, keywords, type, sort,"
        " catalogue_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (service_code) DO UPDATE SET service_name = EXCLUDED.service_name,"
        " description = EXCLUDED.description, group_name = EXCLUDED.group_name, keywords = EXCLUDED.keywords,"
        " type = EXCLUDED.type, sort = EXCLUDED.sort, catalogue_version = EXCLUDED.catalogue_version",
        service.code,
        service.name,
        service.description,
        service.group_name,
        ",".join(service.keywords),
        service.type,
        service.sort,
        service.version,
    )
    await conn.execute("DELETE FROM open311_attributes WHERE service_code = $1", service.code)
    await conn.executemany(
        "INSERT INTO open311_attributes (service_code, code, variable, datatype, required, datatype_description,"
        ' ord, description, "values") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
        [
            (
                service.code,
                a.code,
                a.variable,
                a.datatype,
                a.required,
                a.datatype_description,
                a.order,
                a.description,
                [v.model_dump() for v in a.values],
            )
            for a in service.attributes
        ],
    )


async def withdraw_service(conn: Conn, service_code: str) -> None:
    await conn.execute("DELETE FROM open311_attributes WHERE service_code = $1", service_code)
    await conn.execute("DELETE FROM open311_services WHERE service_code = $1", service_code)


async def open311_services(conn: Conn) -> list[Record]:
    return await conn.fetch(
        "SELECT s.*, EXISTS (SELECT 1 FROM open311_attributes a WHERE a.service_code = s.service_code) AS metadata"
        " FROM open311_services s ORDER BY sort, service_code"
    )


async def open311_service(conn: Conn, service_code: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT s.*, EXISTS (SELECT 1 FROM open311_attributes a WHERE a.service_code = s.service_code) AS metadata"
        " FROM open311_services s WHERE service_code = $1",
        service_code,
    )


async def open311_attributes(conn: Conn, service_code: str) -> list[Record]:
    return await conn.fetch("SELECT * FROM open311_attributes WHERE service_code = $1 ORDER BY ord", service_code)


async def insert_open311_request(
    conn: Conn, *, token: str, ticket_id: str, client: str, account_id: str | None, device_id: str | None
) -> None:
    await conn.execute(
        "INSERT INTO open311_requests (token, ticket_id, client, account_id, device_id) VALUES ($1, $2, $3, $4, $5)",
        token,
        ticket_id,
        client,
        account_id,
        device_id,
    )


async def open311_token(conn: Conn, token: str) -> Record | None:
    return await conn.fetchrow("SELECT token, ticket_id FROM open311_requests WHERE token = $1", token)


_OPEN311_COLUMNS = (
    "t.id, t.status, t.status_notes, t.category, s.service_name, t.description, t.agency, t.resolve_by,"
    " t.created_at, t.updated_at, t.location, t.attachments"
)


_OPEN311_FROM = (
    " FROM open311_requests r JOIN tickets t ON t.id = r.ticket_id"
    " LEFT JOIN open311_services s ON s.service_code = t.category"
)


#: Open311's two statuses: closed once the loop is closed (or handed to 110/119/120/122), open before.
OPEN311_CLOSED = ("closed", "handed_over")


async def open311_requests_by_id(conn: Conn, ids: Sequence[str]) -> list[Record]:
    return await conn.fetch(
        f"SELECT {_OPEN311_COLUMNS}{_OPEN311_FROM} WHERE t.id = ANY($1::text[]) ORDER BY t.created_at DESC, t.id DESC",
        list(ids),
    )


async def open311_requests(
    conn: Conn,
    *,
    service_codes: Sequence[str],
    statuses: Sequence[str],
    start: datetime,
    end: datetime,
    limit: int,
) -> list[Record]:
    """Requests made through Open311 in [start, end], newest first; statuses are open/closed."""
    return await conn.fetch(
        f"SELECT {_OPEN311_COLUMNS}{_OPEN311_FROM}"
        " WHERE t.created_at BETWEEN $1 AND $2"
        " AND (cardinality($3::text[]) = 0 OR t.category = ANY($3::text[]))"
        " AND (cardinality($4::text[]) = 0"
        "      OR (CASE WHEN t.status = ANY($5::text[]) THEN 'closed' ELSE 'open' END) = ANY($4::text[]))"
        " ORDER BY t.created_at DESC, t.id DESC LIMIT $6",
        start,
        end,
        list(service_codes),
        list(statuses),
        list(OPEN311_CLOSED),
        limit,
    )
