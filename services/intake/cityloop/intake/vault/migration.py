"""Moving personal data stored before the vault into it (run by intake's migration 0007_vault.sql).

Every ticket gets its vault row: the plain citizen columns and the full description are sealed, the
stored description is replaced by its redacted form; 0008 then drops the plain columns."""

from typing import Any

from cityloop.common.db.pool import Conn
from cityloop.intake.settings import IntakeSettings
from cityloop.intake.vault.flows import seal_ticket
from cityloop.intake.vault.personal import Personal, keep_text


async def seal_plain_citizens(conn: Conn, settings: Any) -> None:
    rows = await conn.fetch(
        "SELECT t.id, t.description, t.direct_answer, c.name, c.phone, c.id_number, c.address, c.email"
        " FROM tickets t LEFT JOIN ticket_citizens c ON c.ticket_id = t.id"
        " WHERE NOT EXISTS (SELECT 1 FROM ticket_vault v WHERE v.ticket_id = t.id) ORDER BY t.id"
    )
    if not rows:
        return
    # Callers without settings (bootstrap of a fresh schema has no rows) read the keys from the environment.
    keyring = (settings if isinstance(settings, IntakeSettings) else IntakeSettings()).keyring()
    for row in rows:
        personal = Personal(
            name=row["name"], phone=row["phone"], id_number=row["id_number"], address=row["address"], email=row["email"]
        )
        description = keep_text(personal, "description", row["description"])
        answer = keep_text(personal, "direct_answer", row["direct_answer"])
        await seal_ticket(conn, keyring, row["id"], personal)
        if personal.texts:
            await conn.execute(
                "UPDATE tickets SET description = $2, direct_answer = $3 WHERE id = $1", row["id"], description, answer
            )
