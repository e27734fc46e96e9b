"""The agency registry: which *OPD* handles what, and where — a data file kept in MongoDB.

An *OPD* (organisasi perangkat daerah) is a regional government agency: a provincial,
regency (*kabupaten*) or city (*kota*) office such as the Dinas Kesehatan. Each answers
through its liaison (*penghubung*) and is led by its head (*pimpinan*), the first rung of
the escalation ladder.

The file (YAML or JSON) lists the categories the deployment routes by and the agencies;
:func:`parse_registry` checks every entry and reports every problem at once, naming the
entry. :func:`save_registry` upserts the agencies into the ``agencies`` collection and
marks agencies missing from the file inactive (never deleted: old cases still name
them). Registry order is kept: it breaks ties between agencies of one region (see
:mod:`services.routing.rules`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from services.routing.rules import normalise_category, phrase
from shared import topology
from shared.contract import AgencyCode
from shared.storage import Store

Document = dict[str, Any]

REGION_CODE = r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$"
RegionCode = Annotated[str, Field(pattern=REGION_CODE, description="Kemendagri, e.g. 16.71")]
SAMPLE_FILE = "agencies-sumsel.yaml"


class Level(StrEnum):
    """The level of government an agency belongs to."""

    PROVINSI = "provinsi"
    KABUPATEN = "kabupaten"  # regency
    KOTA = "kota"  # city


class Liaison(BaseModel):
    """The agency's *penghubung*: who answers LAPOR cases (a role, never a reporter)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    role: str = Field(min_length=1, max_length=200)


class Category(BaseModel):
    """A category cases are routed by (the ones verification suggests)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=100)
    label: str = Field(min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=1000)

    @field_validator("code")
    @classmethod
    def _normalised(cls, value: str) -> str:
        code = normalise_category(value)
        if not code:
            raise ValueError("must contain letters or digits")
        return code


class Agency(BaseModel):
    """One agency (*OPD*) as the registry file describes it."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    code: AgencyCode
    name: str = Field(min_length=3, max_length=200)
    level: Level
    region_codes: tuple[RegionCode, ...] = Field(min_length=1)
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    liaison: Liaison
    #: The title of the agency head (*pimpinan*), e.g. "Kepala Dinas Kesehatan ...".
    head: str = Field(min_length=3, max_length=200)
    #: The agency's own zone for working days, when not the deployment's (WITA, WIT).
    timezone: str | None = None

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(normalise_category(c) for c in value if phrase(c)))

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(dict.fromkeys(phrase(k) for k in value))
        if "" in cleaned:
            raise ValueError("a keyword must contain letters or digits")
        return cleaned

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Jakarta)") from None
        return value

    @model_validator(mode="after")
    def _regions_fit_level(self) -> Agency:
        for code in self.region_codes:
            parts = code.split(".")
            if self.level is Level.PROVINSI:
                if len(parts) != 1:
                    raise ValueError(f"a provincial agency covers province codes (16), not {code}")
                continue
            if len(parts) < 2:
                raise ValueError(f"a {self.level} agency covers regency/city codes, not {code}")
            city = int(parts[1]) >= 70  # Kemendagri: regencies 01-69, cities 71-99
            if city != (self.level is Level.KOTA):
                kind = "city (NN.71-NN.99)" if self.level is Level.KOTA else "regency (NN.01-NN.69)"
                raise ValueError(f"a {self.level} agency needs {kind} codes, not {code}")
        return self


@dataclass(frozen=True)
class Registry:
    """A validated registry file."""

    categories: tuple[Category, ...]
    agencies: tuple[Agency, ...]


class RegistryError(ValueError):
    """The registry file cannot be used; ``problems`` names each entry and field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{listing}")


def _describe(errors: ValidationError) -> list[str]:
    problems = []
    for err in errors.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return problems


def _entries(data: dict[str, Any], key: str, problems: list[str]) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list) or not value:
        problems.append(f"'{key}' must be a non-empty list")
        return []
    return value


def _label(entry: Any) -> str:
    code = entry.get("code") if isinstance(entry, dict) else None
    return f" ({code})" if isinstance(code, str) else ""


def parse_registry(data: Any, source: str = "registry") -> Registry:
    """The registry in ``data`` (a loaded YAML/JSON document), or :class:`RegistryError`."""
    if not isinstance(data, dict):
        raise RegistryError(source, ["the file must be a mapping with 'categories' and 'agencies'"])
    problems: list[str] = []
    unknown = sorted(set(data) - {"version", "region", "categories", "agencies"})
    if unknown:
        problems.append(f"unknown top-level key(s): {', '.join(unknown)}")
    if data.get("version", 1) != 1:
        problems.append(f"version: {data.get('version')!r} is not supported (expected 1)")

    categories: list[Category] = []
    for i, entry in enumerate(_entries(data, "categories", problems)):
        try:
            categories.append(Category.model_validate(entry))
        except ValidationError as exc:
            problems += [f"categories[{i}]{_label(entry)}: {p}" for p in _describe(exc)]
    known = {c.code for c in categories}

    agencies: list[Agency] = []
    first_index: dict[str, int] = {}
    for i, entry in enumerate(_entries(data, "agencies", problems)):
        where = f"agencies[{i}]{_label(entry)}"
        raw = entry if isinstance(entry, dict) else {}
        # Cross-entry checks run on the raw entry too, so one bad field hides nothing else.
        code = raw.get("code")
        if isinstance(code, str):
            if code in first_index:
                problems.append(
                    f"{where}: code: duplicate, already used by agencies[{first_index[code]}]"
                )
            first_index.setdefault(code, i)
        raw_categories = raw.get("categories")
        if isinstance(raw_categories, list):
            unknown_categories = [
                c
                for c in raw_categories
                if isinstance(c, str) and normalise_category(c) not in known
            ]
            if unknown_categories:
                problems.append(
                    f"{where}: categories: unknown {', '.join(map(repr, unknown_categories))} "
                    f"(declared: {', '.join(sorted(known))})"
                )
        try:
            agencies.append(Agency.model_validate(entry))
        except ValidationError as exc:
            problems += [f"{where}: {p}" for p in _describe(exc)]
    if problems:
        raise RegistryError(source, problems)
    return Registry(tuple(categories), tuple(agencies))


def read_registry(path: str | Path) -> Registry:
    """Read and validate a registry file (JSON by suffix ``.json``, else YAML)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(str(file), [f"cannot read the file: {exc.strerror or exc}"]) from None
    try:
        data = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:
        raise RegistryError(str(file), [f"not valid {file.suffix or 'YAML'}: {exc}"]) from None
    return parse_registry(data, str(file))


def sample_registry_path() -> Path:
    """The packaged sample registry for South Sumatra (``lapor/data/agencies-sumsel.yaml``)."""
    return Path(str(resources.files("lapor") / "data" / SAMPLE_FILE))


# --- in MongoDB ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadReport:
    """What :func:`save_registry` changed, by agency code."""

    created: list[str]
    updated: list[str]
    deactivated: list[str]


def _document_of(agency: Agency) -> Document:
    return agency.model_dump(mode="json", exclude={"code"})


def agency_of(doc: Document) -> Agency:
    """An agency back from its ``agencies`` document."""
    fields = {name: doc[name] for name in Agency.model_fields if name in doc and name != "code"}
    return Agency.model_validate({"code": doc["_id"], **fields})


async def save_registry(store: Store, registry: Registry, now: datetime) -> LoadReport:
    """Upsert every agency of ``registry``; agencies not in it become inactive."""
    created: list[str] = []
    updated: list[str] = []
    for rank, agency in enumerate(registry.agencies):
        result = await store.agencies.update_one(
            {"_id": agency.code},
            {
                "$set": _document_of(agency) | {"rank": rank, "active": True, "loaded_at": now},
                "$setOnInsert": {"created_at": now},
                "$unset": {"deactivated_at": ""},
            },
            upsert=True,
        )
        (created if result.upserted_id is not None else updated).append(agency.code)
    codes = [a.code for a in registry.agencies]
    stale = await store.agencies.distinct("_id", {"_id": {"$nin": codes}, "active": True})
    if stale:
        await store.agencies.update_many(
            {"_id": {"$in": stale}, "active": True},
            {"$set": {"active": False, "deactivated_at": now}},
        )
    return LoadReport(created, updated, sorted(str(code) for code in stale))


async def active_agencies(store: Store) -> list[Agency]:
    """Every active agency, in registry order."""
    cursor = store.agencies.find({"active": True}).sort([("rank", 1), ("_id", 1)])
    return [agency_of(doc) async for doc in cursor]


@dataclass(frozen=True)
class AgencyRecord:
    """An agency as stored, with its state."""

    agency: Agency
    active: bool


async def all_agencies(store: Store) -> list[AgencyRecord]:
    """Every agency ever loaded, active first, in registry order."""
    cursor = store.agencies.find({}).sort([("active", -1), ("rank", 1), ("_id", 1)])
    return [AgencyRecord(agency_of(doc), bool(doc.get("active"))) async for doc in cursor]


# --- the agencies' queues -----------------------------------------------------------------


async def declare_agency_queues(
    amqp_url: str, delivery_limit: int, codes: Iterable[str], *, whole: bool = True
) -> None:
    """Declare each agency's durable quorum queues ``opd.<code>`` and ``penghubung.<code>``
    (and, if ``whole``, the rest of the topology first)."""
    specs = [spec for code in codes for spec in topology.agency_queues(code)]
    await topology.declare_at(amqp_url, delivery_limit, *specs, whole=whole)


class AgencyQueues:
    """Declares agency queues once per process, before anything is published to them.

    A Disposition published to ``lapor.opd`` with no bound queue would be dropped by the
    broker, so the queue of an agency loaded after this process started is declared
    before its first Disposition.
    """

    def __init__(self, amqp_url: str, delivery_limit: int, *, whole: bool = True) -> None:
        self._amqp_url = amqp_url
        self._delivery_limit = delivery_limit
        self._whole = whole
        self._declared: set[str] = set()
        self._lock = asyncio.Lock()

    async def ensure(self, codes: Iterable[str]) -> None:
        """Declare the queues of ``codes`` not yet declared by this process."""
        wanted = set(codes)
        if wanted <= self._declared:
            return
        async with self._lock:
            missing = sorted(wanted - self._declared)
            if missing:
                await declare_agency_queues(
                    self._amqp_url, self._delivery_limit, missing, whole=self._whole
                )
                self._declared.update(missing)
