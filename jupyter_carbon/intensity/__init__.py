"""Carbon intensity of electricity and the CO2e maths that uses it.

Importing this package reads no file, starts no thread and needs no IPython. The live providers
are in :mod:`.providers`, imported only when a live source is configured (they import urllib,
http and ssl). Everyday comparisons live in :mod:`jupyter_carbon.display.equivalents`, the
per-inference references in :mod:`jupyter_carbon.reference`.
"""

from __future__ import annotations

from .emissions import check_g_per_kwh, check_pue, co2e_g
from .table import WORLD_AVERAGE, Region, UnknownRegionError, all_regions, lookup_region
from .value import Intensity

__all__ = [
    "Intensity",
    "Region",
    "UnknownRegionError",
    "WORLD_AVERAGE",
    "all_regions",
    "check_g_per_kwh",
    "check_pue",
    "co2e_g",
    "lookup_region",
]
