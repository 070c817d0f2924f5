"""Carbon intensity of electricity and the CO2e maths that uses it.

Importing this package reads no file, starts no thread and needs no IPython. The live providers
(which import urllib, http and ssl) load on first use of their names, so ``%load_ext`` does not
pay for them. Everyday comparisons live in :mod:`jupyter_carbon.display.equivalents`, the
per-inference references in :mod:`jupyter_carbon.reference`.
"""
from __future__ import annotations

from .emissions import check_g_per_kwh, check_pue, co2e_g, kwh_from_j
from .table import WORLD_AVERAGE, Region, UnknownRegionError, all_regions, lookup_region
from .value import Intensity

__all__ = [
    "ElectricityMapsProvider",
    "Intensity",
    "IntensityProvider",
    "LiveIntensity",
    "ProviderError",
    "Region",
    "UKCarbonIntensityProvider",
    "UnknownRegionError",
    "WORLD_AVERAGE",
    "all_regions",
    "check_g_per_kwh",
    "check_pue",
    "co2e_g",
    "kwh_from_j",
    "lookup_region",
]


# Loaded on first use of one of their names: the live providers (network imports), not needed
# to load the extension or measure a cell.
_PROVIDERS = ("ElectricityMapsProvider", "IntensityProvider", "LiveIntensity", "ProviderError", "UKCarbonIntensityProvider")


def __getattr__(name: str) -> object:
    if name in _PROVIDERS:
        from . import providers

        return getattr(providers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
