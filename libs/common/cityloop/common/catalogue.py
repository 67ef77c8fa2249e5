"""The catalogue as router offers it to the public (Open311's services), on the internal, compacted topic
``catalogue.services``: one event per category, keyed by its code, so the latest offer of every category
survives and a new intake reads the whole catalogue from the beginning. Router owns the catalogue (its
master data); intake keeps what it serves from these events, never from a copy of router's tables."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cityloop.common.envelope import CloudEvent

#: Internal to router -> intake (not a department-facing contract type).
CATALOGUE_SERVICE = "cityloop.catalogue.service"

Datatype = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AttributeChoice(_Model):
    key: str
    name: str


class ServiceAttribute(_Model):
    """A typed extra field of a category (Open311's service definition attribute)."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    datatype: Datatype
    description: str
    order: int = Field(ge=1)
    required: bool = False
    #: False: an informational line for the citizen, not an input.
    variable: bool = True
    datatype_description: str | None = None
    values: list[AttributeChoice] = Field(default_factory=list)


class CatalogueService(_Model):
    """One category as the public sees it."""

    code: str
    name: str
    #: The catalogue group (the code's first part) and its name.
    group: str
    group_name: str
    keywords: list[str] = Field(default_factory=list)
    description: str
    #: False for matters handed to 110/119/120/122: not reported through the hotline's apps.
    reportable: bool = True
    #: Open311's service type: realtime answers with the request id, batch with a token.
    type: Literal["realtime", "batch", "blackbox"] = "realtime"
    sort: int = 0
    attributes: list[ServiceAttribute] = Field(default_factory=list)
    #: The catalogue version that offered it.
    version: str


def service_event(service: CatalogueService, *, source: str = "/cityloop/router") -> CloudEvent:
    return CloudEvent(
        source=source,
        type=CATALOGUE_SERVICE,
        subject=service.code,
        data=service.model_dump(mode="json"),
    )


def service_of(event: CloudEvent) -> CatalogueService:
    return CatalogueService.model_validate(event.data)
