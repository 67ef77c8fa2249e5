"""Which failures of a handler are worth waiting out, and which mean the event itself is bad.

An outage (the database restarting, a serialization conflict, the broker away) says nothing about the
event: consumer.py retries it for as long as the outage lasts, so a valid event is never dead-lettered and
nothing behind it on its partition overtakes it. Everything else is about the event (or a bug) and ends in
the DLQ with a reason.
"""

from enum import StrEnum

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

from cityloop.common.contract.parsing import SchemaError


class Failure(StrEnum):
    #: Wait and retry the same event, forever: the event is fine, the world is not.
    INFRASTRUCTURE = "infrastructure"
    #: The event breaks its type's schema: dead-letter at once.
    SCHEMA = "schema"
    #: A rule refused it (consumer.Refused): dead-letter at once.
    REFUSED = "refused"
    #: Anything else, most likely a bug: a few attempts, then the DLQ.
    UNEXPECTED = "unexpected"


# PostgreSQL error classes that mean "not now" rather than "not this": 08 connection exception,
# 40 transaction rollback (serialization failure, deadlock), 53 insufficient resources (too many
# connections), 57 operator intervention (admin shutdown, cannot connect now, statement cancelled).
_TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57")
# Raised when connecting to a database that is closed to connections (ALLOW_CONNECTIONS false, 55000).
_NOT_ACCEPTING = "not currently accepting connections"
# asyncpg's InterfaceError when a connection was terminated under a transaction.
_CLOSED = "connection is closed"
# asyncpg's InternalClientError for a connection still consuming the server's FATAL error (its protocol state 2,
# PROTOCOL_ERROR_CONSUME) when it is used again: the server terminated it and the socket's end is not read yet.
# Seen on every PostgreSQL restart of the 30-minute fault run. Not InterfaceError's "another operation is in
# progress", which is two callers on one connection: a bug.
_TERMINATING = "another operation (2) is in progress"


def classify(exc: BaseException, *, refused: type[BaseException] | None = None) -> Failure:
    """Sort a handler's exception; looks through its causes and context for an outage underneath (a
    terminated connection often surfaces as a later error about the closed connection)."""
    if refused is not None and isinstance(exc, refused):
        return Failure.REFUSED
    if isinstance(exc, SchemaError):
        return Failure.SCHEMA
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if _is_transient(current):
            return Failure.INFRASTRUCTURE
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return Failure.UNEXPECTED


def _is_transient(exc: BaseException) -> bool:
    # OSError covers ConnectionError (refused, reset) and TimeoutError (an alias of OSError's subclass in 3.11).
    if isinstance(exc, OSError):
        return True
    if isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.ConnectionDoesNotExistError):
        return True
    if isinstance(exc, asyncpg.InterfaceError) and _CLOSED in str(exc):
        return True
    if isinstance(exc, asyncpg.InternalClientError) and _TERMINATING in str(exc):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        if state[:2] in _TRANSIENT_SQLSTATE_CLASSES:
            return True
        return state == "55000" and _NOT_ACCEPTING in str(exc)
    if isinstance(exc, KafkaConnectionError | KafkaTimeoutError):
        return True
    return isinstance(exc, KafkaError) and bool(exc.retriable)


def backoff(attempt: int, *, first: float = 0.2, cap: float = 30.0) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): doubling from ``first``, capped."""
    return float(min(cap, first * 2 ** max(0, attempt - 1)))
