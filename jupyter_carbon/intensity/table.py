"""The shipped table of grid carbon intensities (gCO2e/kWh) and region lookup.

The table (``jupyter_carbon/data/intensity.csv``, rebuilt by
``tools/build_intensity_table.py``) is read on the first lookup, never at import.
"""

from __future__ import annotations

import csv
import difflib
import io
import threading
from dataclasses import dataclass
from importlib import resources

__all__ = [
    "Region",
    "UnknownRegionError",
    "WORLD_AVERAGE",
    "all_regions",
    "lookup_region",
]

_TABLE_PACKAGE = "jupyter_carbon"
_TABLE_PATH = ("data", "intensity.csv")
_ALIAS_SEPARATOR = "|"
_MAX_SUGGESTIONS = 5


@dataclass(frozen=True)
class Region:
    """One row of the intensity table."""

    key: str  # e.g. "FR", "US-CA", "CA-QC", "gcp:europe-west1", "WORLD"
    kind: str  # "world", "country", "us-state", "ca-province" or "cloud"
    name: str
    g_per_kwh: float
    year: int | None
    source: str  # short label, e.g. "OWID/Ember"
    licence: str
    aliases: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Provenance label, e.g. ``table:FR (OWID/Ember 2022)``."""
        detail = self.source if self.year is None else f"{self.source} {self.year}"
        return f"table:{self.key} ({detail})"


# Same figure as the WORLD row of the table (CodeCarbon carbon_intensity_per_source.json);
# defined here so that using it never reads the table.
WORLD_AVERAGE = Region(
    key="WORLD",
    kind="world",
    name="World average",
    g_per_kwh=475.0,
    year=2019,
    source="IEA",
    licence="MIT",
    aliases=("global", "world average"),
)


class UnknownRegionError(ValueError):
    """Raised by :func:`lookup_region` for a region not in the table."""

    def __init__(self, value: object, suggestions: tuple[str, ...] = ()):
        self.value = value
        self.suggestions = tuple(suggestions)
        if self.suggestions:
            hint = "closest: " + ", ".join(self.suggestions)
        else:
            hint = "use a key such as 'FR', 'US-CA', 'CA-QC' or 'gcp:europe-west1'"
        super().__init__(
            f"unknown region {value!r} ({hint}); "
            "or set an explicit intensity with intensity=G (gCO2e/kWh)"
        )


class _Table:
    def __init__(self, regions: tuple[Region, ...]):
        self.regions = regions
        self.by_name: dict[str, Region] = {}
        for region in regions:
            for name in (region.key, *region.aliases):
                self.by_name.setdefault(_normalise(name), region)


_lock = threading.Lock()
_table: _Table | None = None


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def _parse(text: str) -> tuple[Region, ...]:
    regions = []
    for row in csv.DictReader(io.StringIO(text)):
        aliases = tuple(a for a in row["aliases"].split(_ALIAS_SEPARATOR) if a)
        regions.append(
            Region(
                key=row["key"],
                kind=row["kind"],
                name=row["name"],
                g_per_kwh=float(row["g_per_kwh"]),
                year=int(row["year"]) if row["year"] else None,
                source=row["source"],
                licence=row["licence"],
                aliases=aliases,
            )
        )
    return tuple(regions)


def _get_table() -> _Table:
    global _table
    table = _table
    if table is None:
        with _lock:
            if _table is None:
                ref = resources.files(_TABLE_PACKAGE).joinpath("/".join(_TABLE_PATH))
                _table = _Table(_parse(ref.read_text(encoding="utf-8")))
            table = _table
    return table


def all_regions() -> tuple[Region, ...]:
    """Every region of the shipped table, in table order (world, countries, US, CA, cloud)."""
    return _get_table().regions


def _suggest(norm: str, table: _Table) -> tuple[str, ...]:
    matches = difflib.get_close_matches(
        norm, list(table.by_name), n=_MAX_SUGGESTIONS * 3, cutoff=0.6
    )
    seen: set[str] = set()
    shown: list[str] = []
    for match in matches:
        region = table.by_name[match]
        if region.key in seen:
            continue
        seen.add(region.key)
        same = _normalise(region.key) == _normalise(region.name) or region.kind == "cloud"
        shown.append(region.key if same else f"{region.key} ({region.name})")
        if len(shown) == _MAX_SUGGESTIONS:
            break
    return tuple(shown)


def lookup_region(text: str) -> Region:
    """Find a region by key or alias, case-insensitively.

    Accepts ISO alpha-2 / alpha-3 codes and country names (``FR``, ``fra``, ``France``),
    ``US-CA`` / ``California``, ``CA-QC`` / ``Quebec``, cloud regions
    (``gcp:europe-west1``) and ``world``. Raises :class:`UnknownRegionError`.
    """
    if not isinstance(text, str):
        raise UnknownRegionError(text)
    table = _get_table()
    norm = _normalise(text)
    region = table.by_name.get(norm)
    if region is None:
        raise UnknownRegionError(text, _suggest(norm, table) if norm else ())
    return region
