"""Which handler failures are waited out (outages) and which send the event to the DLQ."""

import asyncpg
import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
)

from cityloop.common.contract.parsing import SchemaError
from cityloop.common.kafka.consumer import Refused
from cityloop.common.kafka.failures import Failure, backoff, classify


def _postgres(cls: type[asyncpg.PostgresError], message: str = "boom") -> asyncpg.PostgresError:
    return cls(message)


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(),
        OSError("network unreachable"),
        TimeoutError(),
        _postgres(asyncpg.exceptions.SerializationError),
        _postgres(asyncpg.exceptions.DeadlockDetectedError),
        _postgres(asyncpg.exceptions.TooManyConnectionsError),
        _postgres(asyncpg.exceptions.CannotConnectNowError),
        _postgres(asyncpg.exceptions.AdminShutdownError),
        _postgres(asyncpg.exceptions.ConnectionFailureError),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        _postgres(
            asyncpg.exceptions.ObjectNotInPrerequisiteStateError,
            'database "cityloop_x" is not currently accepting connections',
        ),
        asyncpg.exceptions.InterfaceError("cannot call Transaction.__aexit__(): the underlying connection is closed"),
        asyncpg.exceptions.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
        KafkaConnectionError(),
        KafkaTimeoutError(),
        NotLeaderForPartitionError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_outages_are_waited_out(exc: BaseException) -> None:
    assert classify(exc, refused=Refused) is Failure.INFRASTRUCTURE


def test_an_outage_underneath_a_wrapper_is_still_an_outage() -> None:
    outer = RuntimeError("could not store the ticket")
    outer.__cause__ = ConnectionResetError("reset by peer")
    assert classify(outer) is Failure.INFRASTRUCTURE
    during = asyncpg.exceptions.InterfaceError("cannot use this")
    during.__context__ = asyncpg.exceptions.AdminShutdownError("terminating connection")
    assert classify(during) is Failure.INFRASTRUCTURE


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (Refused("dept does not hold assignment A-1"), Failure.REFUSED),
        (SchemaError("schema: detail.assignment_id: Field required"), Failure.SCHEMA),
        (KeyError("ticket_id"), Failure.UNEXPECTED),
        (
            asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress"),
            Failure.UNEXPECTED,
        ),
        (asyncpg.exceptions.InternalClientError("unexpected message type"), Failure.UNEXPECTED),
        (ValueError("bad"), Failure.UNEXPECTED),
        (_postgres(asyncpg.exceptions.UniqueViolationError), Failure.UNEXPECTED),
        (_postgres(asyncpg.exceptions.UndefinedColumnError), Failure.UNEXPECTED),
        (_postgres(asyncpg.exceptions.ObjectNotInPrerequisiteStateError, "cannot do that now"), Failure.UNEXPECTED),
        (MessageSizeTooLargeError(), Failure.UNEXPECTED),
    ],
    ids=lambda v: type(v).__name__,
)
def test_everything_else_is_about_the_event(exc: BaseException, expected: Failure) -> None:
    assert classify(exc, refused=Refused) is expected


def test_backoff_doubles_from_a_fifth_of_a_second_up_to_the_cap() -> None:
    assert [backoff(n) for n in range(1, 10)] == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0]
    assert backoff(500) == 30.0
    assert backoff(3, cap=0.5) == 0.5
