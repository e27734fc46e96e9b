"""Region names and rough centres (Kemendagri codes) for what the registry's agencies serve.

The registry stores region codes only; the portal names them for citizens and gives
Open311 clients a point for reports that carry no coordinates (FixMyStreet skips a
request without ``lat``/``long``). Centres are approximate town centres, never a
reporter's position.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    """A province, regency (kabupaten) or city (kota)."""

    code: str
    name: str
    lat: float
    lon: float


_REGIONS = (
    Region("16", "Provinsi Sumatera Selatan", -3.3194, 104.9147),
    Region("16.01", "Kabupaten Ogan Komering Ulu", -4.1330, 104.1700),
    Region("16.02", "Kabupaten Ogan Komering Ilir", -3.3960, 104.8290),
    Region("16.03", "Kabupaten Muara Enim", -3.6560, 103.7700),
    Region("16.04", "Kabupaten Lahat", -3.7860, 103.5420),
    Region("16.05", "Kabupaten Musi Rawas", -3.0900, 103.0300),
    Region("16.06", "Kabupaten Musi Banyuasin", -2.8650, 103.8260),
    Region("16.07", "Kabupaten Banyuasin", -2.8920, 104.7090),
    Region("16.08", "Kabupaten Ogan Komering Ulu Selatan", -4.6580, 104.0060),
    Region("16.09", "Kabupaten Ogan Komering Ulu Timur", -3.8560, 104.7660),
    Region("16.10", "Kabupaten Ogan Ilir", -3.2380, 104.6470),
    Region("16.11", "Kabupaten Empat Lawang", -3.7260, 102.8960),
    Region("16.12", "Kabupaten Penukal Abab Lematang Ilir", -3.2150, 104.0800),
    Region("16.13", "Kabupaten Musi Rawas Utara", -2.4850, 102.9520),
    Region("16.71", "Kota Palembang", -2.9761, 104.7754),
    Region("16.72", "Kota Prabumulih", -3.4320, 104.2350),
    Region("16.73", "Kota Pagar Alam", -4.0170, 103.2500),
    Region("16.74", "Kota Lubuklinggau", -3.2970, 102.8610),
)
KNOWN: dict[str, Region] = {region.code: region for region in _REGIONS}


def region_name(code: str | None) -> str | None:
    """The region's name, or its code when it is not known."""
    if not code:
        return None
    known = KNOWN.get(code)
    return known.name if known else code


def centre_of(code: str | None) -> tuple[float, float] | None:
    """The rough centre of a region (or of its nearest known parent)."""
    while code:
        if code in KNOWN:
            return KNOWN[code].lat, KNOWN[code].lon
        code = code.rpartition(".")[0]
    return None


def regions_served(agency_region_codes: set[str]) -> list[Region]:
    """The regencies and cities a report can name: those under any served region."""
    chosen = {
        code: region
        for code, region in KNOWN.items()
        if code.count(".") == 1
        and any(code.startswith(f"{c}.") or code == c for c in agency_region_codes)
    }
    for code in agency_region_codes:
        if code.count(".") == 1 and code not in chosen:
            chosen[code] = Region(code, code, 0.0, 0.0)
    return sorted(chosen.values(), key=lambda r: (not r.name.startswith("Kota"), r.name))
