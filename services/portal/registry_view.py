"""The agency registry as the portal's forms and Open311 show it: categories and regions."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from services.portal.regions import Region, regions_served
from services.portal.store import PortalStore
from services.routing.registry import read_registry, sample_registry_path
from services.verification.policy import CATEGORY_RULES, category_slug


@dataclass(frozen=True)
class Category:
    """A category citizens can choose, with its stable Open311 ``service_code``."""

    code: str
    label: str

    @property
    def service_code(self) -> str:
        """Stable: derived from the registry code only (``air bersih`` → ``air-bersih``)."""
        return re.sub(r"[^a-z0-9]+", "-", self.code.lower()).strip("-")


def category_key(code: str) -> str:
    """One spelling of a category code: the registry says ``air bersih``, verification's
    stored form is ``air_bersih``; both are the same category."""
    return re.sub(r"[^a-z0-9]+", " ", code.lower()).strip()


def category_variants(codes: list[str]) -> list[str]:
    """Every stored spelling of ``codes`` (for queries on ``category``/``category_hint``)."""
    variants: dict[str, None] = {}
    for code in codes:
        key = category_key(code)
        for spelling in (code, key, key.replace(" ", "_"), key.replace(" ", "-")):
            variants[spelling] = None
    return list(variants)


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


class CategoryLabels(dict[str, str]):
    """Category code → label, whichever way the code is spelled."""

    def get(self, code: str, default: str | None = None) -> str | None:  # type: ignore[override]
        """The label of ``code`` (any spelling), else ``default``."""
        return super().get(category_key(code), default)


async def category_labels(store: PortalStore) -> CategoryLabels:
    """Category code → label."""
    return CategoryLabels({category_key(c.code): c.label for c in await categories(store)})


async def verification_categories(store: PortalStore) -> list[Category]:
    """The categories an admin may verify a case with: those verification's rules know and
    those the active agencies handle, each once, in the form verification stores
    (``air_bersih``), in label order."""
    labels = await category_labels(store)
    codes = {category_slug(code) for code in CATEGORY_RULES}
    codes |= {category_slug(c.code) for c in await categories(store)}
    found = [
        Category(code, labels.get(code) or code.replace("_", " ").capitalize()) for code in codes
    ]
    return sorted(found, key=lambda c: c.label)


async def regions(store: PortalStore) -> list[Region]:
    """The regencies and cities the active agencies serve."""
    codes = await store.agencies.distinct("region_codes", {"active": True})
    return regions_served({str(code) for code in codes})
