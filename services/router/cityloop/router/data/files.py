"""Reading the versioned master-data files, validated at this boundary (a typo fails the start, loudly)."""

import csv
import hashlib
import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cityloop.common.catalogue import CatalogueService, ServiceAttribute
from cityloop.router.masterdata.model import (
    Category,
    Community,
    Department,
    District,
    Grid,
    MasterData,
    Responsibility,
    Street,
)

HERE = Path(__file__).parent
CATALOGUE_FILE = HERE / "catalogue.toml"
CITY_DIR = HERE / "city"
#: more ways citizens put each category, for the request generator
PHRASINGS_FILE = HERE / "phrasings.toml"
#: requests written by hand in citizens' own words, labelled; for evaluation only (see README, "Router")
REALISTIC_FILE = HERE / "realistic_requests.jsonl"
#: more of the same, written before the last round of training-side changes and measured only after it
REALISTIC_BLIND_FILE = HERE / "realistic_requests_blind.jsonl"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategoryEntry(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9.-]*$")
    name: str
    route: str | None = None
    assist: list[str] = Field(default_factory=list)
    handover: Literal["110", "119", "120", "122"] | None = None
    urgency: Literal["normal", "urgent", "critical"] = "normal"
    days: tuple[int, int] = (1, 5)
    merge: tuple[int, int] = (0, 0)
    kw: list[str] = Field(default_factory=list)
    say: list[str] = Field(min_length=3)
    #: How Open311 answers a report of it, and the typed extra fields a report may carry.
    open311: Literal["realtime", "batch"] = "realtime"
    attribute: list[ServiceAttribute] = Field(default_factory=list)

    @field_validator("route")
    @classmethod
    def _route(cls, value: str | None) -> str | None:
        if value is not None:
            Responsibility.parse(value)
        return value

    def to_category(self) -> Category:
        if (self.route is None) == (self.handover is None):
            raise ValueError(f"{self.code}: exactly one of route and handover")
        return Category(
            code=self.code,
            name=self.name,
            parent=self.code.rsplit(".", 1)[0],
            lead=Responsibility.parse(self.route) if self.route else None,
            assists=tuple(Responsibility.parse(a) for a in self.assist),
            handover_to=self.handover,
            urgency=self.urgency,
            accept_days=self.days[0],
            resolve_days=self.days[1],
            merge_metres=self.merge[0],
            merge_hours=self.merge[1],
            keywords=tuple(self.kw),
        )


class GroupEntry(_Strict):
    code: str
    name: str


class CatalogueFile(_Strict):
    version: str
    group: list[GroupEntry]
    category: list[CategoryEntry]

    def categories(self) -> list[Category]:
        return [entry.to_category() for entry in self.category]

    def phrasings(self) -> dict[str, list[str]]:
        return {entry.code: list(entry.say) for entry in self.category}

    def services(self) -> list[CatalogueService]:
        """Every category as the public sees it (Open311's services), in catalogue order: its group, its
        keywords, a description in citizens' words, its typed attributes; a handover is not reportable."""
        groups = {g.code: g.name for g in self.group}
        offered = []
        for sort, entry in enumerate(self.category, start=1):
            group = entry.code.split(".", 1)[0]
            offered.append(
                CatalogueService(
                    code=entry.code,
                    name=entry.name,
                    group=group,
                    group_name=groups.get(group, group),
                    keywords=list(entry.kw),
                    description=f"{entry.name}，例如：" + "；".join(p.replace("{n}", "几") for p in entry.say[:2]),
                    reportable=entry.handover is None,
                    type=entry.open311,
                    sort=sort,
                    attributes=sorted(entry.attribute, key=lambda a: a.order),
                    version=self.version,
                )
            )
        return offered


@cache
def catalogue_file() -> CatalogueFile:
    with CATALOGUE_FILE.open("rb") as fh:
        parsed = CatalogueFile.model_validate(tomllib.load(fh))
    groups = {g.code for g in parsed.group}
    for entry in parsed.category:
        if entry.code.rsplit(".", 1)[0] not in groups:
            raise ValueError(f"{entry.code}: its group is not declared")
    return parsed


class PhrasingsFile(_Strict):
    say: dict[str, list[str]]


@cache
def training_phrasings() -> dict[str, list[str]]:
    """How citizens put each category: the catalogue's ``say`` first, then phrasings.toml's."""
    catalogue = catalogue_file().phrasings()
    with PHRASINGS_FILE.open("rb") as fh:
        extra = PhrasingsFile.model_validate(tomllib.load(fh)).say
    if unknown := sorted(set(extra) - set(catalogue)):
        raise ValueError(f"{PHRASINGS_FILE.name}: no catalogue category {unknown}")
    return {code: say + extra.get(code, []) for code, say in catalogue.items()}


def _rows(name: str) -> list[dict[str, str]]:
    with (CITY_DIR / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


class CityFiles(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    districts: list[District]
    streets: list[Street]
    communities: list[Community]
    grids: list[Grid]
    departments: list[Department]


@cache
def city_files() -> CityFiles:
    return CityFiles(
        districts=[District(r["code"], r["name"], r["short_name"]) for r in _rows("districts")],
        streets=[Street(r["code"], r["name"], r["district"]) for r in _rows("streets")],
        communities=[Community(r["code"], r["name"], r["street"]) for r in _rows("communities")],
        grids=[
            Grid(r["code"], r["community"], int(r["row"]), int(r["col"]), r["road"], int(r["num_lo"]), int(r["num_hi"]))
            for r in _rows("grids")
        ],
        departments=[
            Department(r["code"], r["name"], r["type"], r["level"], r["district"] or None, r["street"] or None)
            for r in _rows("departments")
        ],
    )


def data_version() -> str:
    """The files' version: the catalogue's version and the city files' content hash."""
    digest = hashlib.sha256()
    for path in sorted(CITY_DIR.glob("*.csv")):
        digest.update(path.read_bytes())
    return f"{catalogue_file().version}+{digest.hexdigest()[:12]}"


def master_from_files(address_overrides: dict[str, str] | None = None) -> MasterData:
    """Master data straight from the files (no database): for the evaluation, demos and unit tests."""
    city = city_files()
    catalogue = catalogue_file()
    return MasterData.build(
        revision=0,
        districts=city.districts,
        streets=city.streets,
        communities=city.communities,
        grids=city.grids,
        departments=city.departments,
        categories=catalogue.categories(),
        address_overrides=address_overrides,
        groups={g.code: g.name for g in catalogue.group},
    )
