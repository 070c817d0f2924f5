"""Carbon intensity of electricity, CO2e maths, equivalences and per-inference references.

Importing this package reads no file, starts no thread and needs no IPython. The live providers
(which import urllib, http and ssl) and the per-inference references load on first use of their
names, so ``%load_ext`` does not pay for them.
"""
from __future__ import annotations

from .emissions import (
    CarDistance,
    Equivalent,
    car_distance,
    check_g_per_kwh,
    check_pue,
    co2e_g,
    equivalents,
    kwh_from_j,
    smartphone_charges,
)
from .value import Intensity
from .table import WORLD_AVERAGE, Region, UnknownRegionError, all_regions, lookup_region

__all__ = [
    "CarDistance",
    "Comparison",
    "ElectricityMapsProvider",
    "Equivalent",
    "Intensity",
    "IntensityProvider",
    "LiveIntensity",
    "PerItem",
    "ProviderError",
    "REFERENCE_KWH_PER_1000",
    "Region",
    "UKCarbonIntensityProvider",
    "UnknownRegionError",
    "WORLD_AVERAGE",
    "all_regions",
    "car_distance",
    "check_g_per_kwh",
    "check_pue",
    "co2e_g",
    "compare_to_reference",
    "equivalents",
    "kwh_from_j",
    "lookup_region",
    "per_item",
    "reference_tasks",
    "smartphone_charges",
]


# Loaded on first use of one of their names: the live providers (network imports) and
# the per-inference references (not needed to load the extension or measure a cell).
_LAZY = {
    **dict.fromkeys(("ElectricityMapsProvider", "IntensityProvider", "LiveIntensity", "ProviderError", "UKCarbonIntensityProvider"), "providers"),
    **dict.fromkeys(("REFERENCE_KWH_PER_1000", "Comparison", "PerItem", "compare_to_reference", "per_item", "reference_tasks"), "reference"),
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is not None:
        from importlib import import_module

        return getattr(import_module(f".{module}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
