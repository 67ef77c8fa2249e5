"""Reading an event into its registered model. A missing or wrong field raises ``SchemaError`` whose
reason names the field (``schema: detail.assignment_id: Field required``); the consumer
(kafka/consumer.py) sends such an event to the DLQ with that reason instead of retrying it."""

from typing import Any, TypeVar, overload

from pydantic import BaseModel, ValidationError

from cityloop.common.contract.lifecycle import Detail, Lifecycle
from cityloop.common.contract.registry import ContractError, spec_of
from cityloop.common.envelope import CloudEvent

M = TypeVar("M", bound=BaseModel)
DM = TypeVar("DM", bound=Detail)


class SchemaError(ValueError):
    """An event does not match its type's schema, or its type is unknown; ``reason`` names the field."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'data'}: {err['msg']}" for err in exc.errors())


def parse(event: CloudEvent) -> BaseModel:
    """The event's ``data`` as its registered model."""
    spec = spec_of(event.type)
    if spec is None:
        raise SchemaError(f"schema: unknown event type {event.type!r}")
    try:
        return spec.data.model_validate(event.data)
    except ValidationError as exc:
        raise SchemaError(f"schema: {problems(exc)}") from exc


def parse_as(event: CloudEvent, model: type[M]) -> M:
    """``parse`` for a consumer that knows which model the type carries."""
    data = parse(event)
    if not isinstance(data, model):
        raise ContractError(f"{event.type} carries {type(data).__name__}, not {model.__name__}")
    return data


@overload
def parse_lifecycle(event: CloudEvent) -> Lifecycle[Detail]: ...
@overload
def parse_lifecycle(event: CloudEvent, detail: type[DM]) -> Lifecycle[DM]: ...
def parse_lifecycle(event: CloudEvent, detail: type[Detail] = Detail) -> Lifecycle[Any]:
    """A ``ticket.lifecycle`` event; with ``detail``, also checks that its type carries that detail model."""
    data = parse(event)
    if not isinstance(data, Lifecycle):
        raise ContractError(f"{event.type} is not a ticket.lifecycle type")
    if not isinstance(data.detail, detail):
        raise ContractError(f"{event.type} carries {type(data.detail).__name__}, not {detail.__name__}")
    return data
