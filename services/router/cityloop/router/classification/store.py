"""The classifier's SQL: labelled examples and trained models."""

import asyncpg

from cityloop.common.db.pool import Conn


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
