"""``Intensity``: a carbon intensity with its provenance (no network code here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from .emissions import check_g_per_kwh
from .table import WORLD_AVERAGE, Region

__all__ = ["Intensity", "NO_REGION_NOTE", "WORLD_AVERAGE_SOURCE"]

#: The ``source`` of the world-average intensity (used when no region is set).
WORLD_AVERAGE_SOURCE = "world average"

#: Shown with every figure computed at the world average (a session-level fact, not stored per
#: record).
NO_REGION_NOTE = (
    "no region set: world average used — "
    "set one with %carbon config region=FR (or JUPYTER_CARBON_REGION)"
)


def _now_utc() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Intensity:
    """A carbon intensity with its provenance."""

    g_per_kwh: float
    #: 'table:FR (OWID/Ember 2023)', 'electricitymaps:FR', 'uk-carbon-intensity', 'user',
    #: 'world average'
    source: str
    region: str | None = None
    obtained_utc: datetime = field(default_factory=_now_utc)
    note: str | None = None
    #: a region's value from the bundled table (``source`` then names the table row)
    from_table: bool = False

    @classmethod
    def from_region(cls, region: Region) -> Intensity:
        """The table value of ``region`` (see :func:`jupyter_carbon.intensity.lookup_region`)."""
        if region.kind == "world":
            return cls(region.g_per_kwh, WORLD_AVERAGE_SOURCE, None)
        return cls(region.g_per_kwh, region.label, region.key, from_table=True)

    @classmethod
    def user(cls, g_per_kwh: float, region: str | None = None) -> Intensity:
        """An explicit intensity given by the user (validated: finite, >= 0)."""
        return cls(check_g_per_kwh(g_per_kwh), "user", region)

    @classmethod
    def world_average(cls) -> Intensity:
        return cls.from_region(WORLD_AVERAGE)
