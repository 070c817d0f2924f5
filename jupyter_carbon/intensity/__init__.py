"""Carbon intensity of electricity, CO2e maths, equivalences and per-inference references.

Importing this package reads no file, starts no thread and needs no IPython.
"""
from __future__ import annotations

from .table import WORLD_AVERAGE, Region, UnknownRegionError, all_regions, lookup_region

__all__ = [
    "Region",
    "UnknownRegionError",
    "WORLD_AVERAGE",
    "all_regions",
    "lookup_region",
]
