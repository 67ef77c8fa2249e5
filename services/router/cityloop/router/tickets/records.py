"""Router's stored ticket read back as the values the flows work with: the snapshot as it arrived, the
location and the classification router resolved when it first routed it."""

import asyncpg

from cityloop.common.contract.models import MaskedContact, TicketLocation, TicketSnapshot, Urgency
from cityloop.router.dispatch.location import Location
from cityloop.router.dispatch.rules import Classification


def snapshot_of(row: asyncpg.Record) -> TicketSnapshot:
    """Router's stored copy of the ticket, as it arrived (masked)."""
    return TicketSnapshot(
        channel="stored",
        category=row["category"],
        description=row["description"],
        location=TicketLocation.model_validate(row["location"]),
        urgency=Urgency(row["urgency"]),
        citizen=MaskedContact.model_validate(row["citizen"]),
        created_at=row["created_at"],
    )


def stored_location(row: asyncpg.Record) -> Location:
    """The location router resolved when it first routed the ticket (tickets.resolved)."""
    resolved = row["resolved"] or {}
    chain = resolved.get("chain") or {}
    point = resolved.get("point")
    return Location(
        resolved.get("level"),
        chain.get("district"),
        chain.get("street"),
        chain.get("community"),
        chain.get("grid"),
        how=resolved.get("how") or "",
        problem=resolved.get("problem"),
        point=(point[0], point[1]) if point else None,
    )


def stored_classification(row: asyncpg.Record) -> Classification:
    c = row["classification"] or {}
    return Classification(
        c.get("category"),
        float(c.get("confidence") or 0.0),
        c.get("source") or "none",
        tuple((str(a), float(b)) for a, b in c.get("candidates") or []),
        tuple(c.get("keywords") or []),
        margin=float(c.get("margin", 1.0)),
        bar=(float(c["bar"][0]), float(c["bar"][1])) if c.get("bar") else None,
    )
