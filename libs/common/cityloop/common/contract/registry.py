"""The event registry: every CloudEvent type CityLoop produces or accepts, with its ``data`` model,
the topic it travels on, its direction and one line saying what it means.

A contract module registers its types with one call at import time::

    register(types.TASK_WITHDRAWN, TaskWithdrawn, topics=DEPT_TASKS, description="...")

Every module of this package is imported before the registry is read (``_discover``), so a new module
registers its types without editing a list here; the generator (``publish.py``), the emitter and the
parser all see the same set.
"""

import builtins
import importlib
import pkgutil
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

# Topic families, as the contract names them (the prefix of a deployment is not part of the contract).
LIFECYCLE = "ticket.lifecycle"
DEPT_TASKS = "dept.{dept_code}.tasks"
DEPT_UPDATES = "dept.{dept_code}.updates"
#: The first release's shared inbound topic, readable during the transition to ``dept.{dept_code}.updates``.
SHARED_DEPT_UPDATES = "dept.updates"
CONTROL_MODE = "control.mode"
TOPIC_FAMILIES = (LIFECYCLE, DEPT_TASKS, DEPT_UPDATES, SHARED_DEPT_UPDATES, CONTROL_MODE)

Direction = Literal["produced", "accepted"]


@dataclass(frozen=True)
class EventSpec:
    type: str
    #: The model of the CloudEvent's ``data``.
    data: builtins.type[BaseModel]
    topics: tuple[str, ...]
    #: produced: CityLoop writes it; accepted: outside systems write it and CityLoop reads it.
    direction: Direction
    description: str
    #: For ``ticket.lifecycle`` types: the model of ``data.detail``.
    detail: builtins.type[BaseModel] | None = None


class ContractError(TypeError):
    """Code tried to build an event the contract does not describe (a programming error, not bad input)."""


_SPECS: dict[str, EventSpec] = {}
_discovered = False


def register(
    type_: str,
    data: type[BaseModel],
    *,
    topics: str | tuple[str, ...],
    description: str,
    direction: Direction = "produced",
    detail: type[BaseModel] | None = None,
) -> EventSpec:
    """Declare one event type; a second, different declaration of the same type is refused."""
    family = (topics,) if isinstance(topics, str) else topics
    unknown = [t for t in family if t not in TOPIC_FAMILIES]
    if unknown:
        raise ContractError(f"{type_}: unknown topic family {unknown}; known: {TOPIC_FAMILIES}")
    spec = EventSpec(type_, data, family, direction, description, detail)
    known = _SPECS.get(type_)
    if known is not None and known != spec:
        raise ContractError(f"{type_} is registered twice, differently: {known} and {spec}")
    _SPECS[type_] = spec
    return spec


def _discover() -> None:
    """Import every module of this package, so each one's ``register`` calls have run."""
    global _discovered  # noqa: PLW0603 - a once-per-process flag
    if _discovered:
        return
    package = importlib.import_module(__package__ or "cityloop.common.contract")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    _discovered = True


def spec_of(type_: str) -> EventSpec | None:
    if type_ not in _SPECS:
        _discover()
    return _SPECS.get(type_)


def all_specs() -> list[EventSpec]:
    """Every registered type, sorted by name."""
    _discover()
    return [_SPECS[t] for t in sorted(_SPECS)]
