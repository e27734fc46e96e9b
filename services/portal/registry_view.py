"""The agency registry as the portal's forms and Open311 show it: categories and regions."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from services.portal.regions import Region, regions_served
from services.portal.store import PortalStore
from services.routing.registry import read_registry, sample_registry_path


@dataclass(frozen=True)
class Category:
    """A category citizens can choose, with its stable Open311 ``service_code``."""

    code: str
    label: str

    @property
    def service_code(self) -> str:
        """Stable: derived from the registry code only (``air bersih`` → ``air-bersih``)."""
        return re.sub(r"[^a-z0-9]+", "-", self.code.lower()).strip("-")


@functools.cache
def _sample_labels() -> dict[str, str]:
    # The registry in MongoDB keeps agencies (with their category codes) but not the
    # categories' labels; the sample file's labels name the codes they share with it.
    return {c.code: c.label for c in read_registry(sample_registry_path()).categories}


async def categories(store: PortalStore) -> list[Category]:
    """The categories active agencies handle, in label order."""
    codes = await store.agencies.distinct("categories", {"active": True})
    labels = _sample_labels()
    found = [Category(str(code), labels.get(str(code), str(code).capitalize())) for code in codes]
    return sorted(found, key=lambda c: c.label)


async def category_labels(store: PortalStore) -> dict[str, str]:
    """Category code → label."""
    return {c.code: c.label for c in await categories(store)}


async def regions(store: PortalStore) -> list[Region]:
    """The regencies and cities the active agencies serve."""
    codes = await store.agencies.distinct("region_codes", {"active": True})
    return regions_served({str(code) for code in codes})
