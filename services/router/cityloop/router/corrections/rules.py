"""What a data correction may say, and whether it is valid against the master data. Pure."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cityloop.common.errors import Invalid
from cityloop.router.dispatch.location import address_key, normalise, parse_road_number
from cityloop.router.masterdata.model import MasterData, Responsibility


class AddressGrid(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["address_grid"]
    address: str = Field(min_length=2, max_length=200, description="an address with road and house number")
    grid: str = Field(min_length=1, description="the grid it really belongs to")


class CategoryOwner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["category_owner"]
    category: str
    lead: str = Field(description="level:type of the responsible department, e.g. street:street")
    assists: list[str] | None = Field(default=None, description="level:type of assisting departments")


Change = Annotated[AddressGrid | CategoryOwner, Field(discriminator="kind")]


class CorrectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    change: Change
    reason: str = Field(min_length=2, max_length=2000)


def _bad(message: str, field: str) -> Invalid:
    return Invalid(message, field)


def validate(change: AddressGrid | CategoryOwner, master: MasterData) -> dict[str, Any]:
    """Pure: the stored payload of a valid correction, or Invalid naming the field."""
    if isinstance(change, AddressGrid):
        parsed = parse_road_number(normalise(change.address), master)
        if parsed is None or parsed[1] is None:
            raise _bad("the address must name a known road and a house number", "change.address")
        if change.grid not in master.grids:
            raise _bad(f"no grid {change.grid!r}", "change.grid")
        return {"address": change.address, "address_key": address_key(parsed[0], parsed[1]), "grid": change.grid}
    if change.category not in master.categories:
        raise _bad(f"no catalogue category {change.category!r}", "change.category")
    for field, value in [("change.lead", change.lead), *[("change.assists", a) for a in change.assists or []]]:
        try:
            resp = Responsibility.parse(value)
        except ValueError as exc:
            raise _bad(str(exc), field) from exc
        if not any(d.type == resp.type and d.level == resp.level for d in master.departments.values()):
            raise _bad(f"no department of type {resp.type} at {resp.level} level", field)
    return {"category": change.category, "lead": change.lead, "assists": change.assists}
