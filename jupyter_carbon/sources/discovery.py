"""The one contract every hardware backend follows: ``discover(context) -> Found``.

A backend module (:mod:`.rapl`, :mod:`.nvml`, :mod:`.amd`, :mod:`.intel_gpu`, :mod:`.apple`)
has a function ``discover`` that takes a :class:`DiscoveryContext` and either

* returns a :class:`Found`: its sources, the devices it saw but does not measure (with why),
  notes worth showing, and ``close``, which releases the backend's library (NVML, amdsmi, the
  IOReport monitor) once its sources are closed; or
* raises :class:`Unavailable` (each backend has its subclass) with one line saying why the
  backend cannot be used, and ``fix`` when the user can do something about it.

The backend owns its library's lifetime: it initialises the library in ``discover``, shuts it
down itself when it raises, and otherwise only in ``Found.close``. ``detect()`` tries the
backends in order, never raises, and closes what they found in :meth:`Detection.close`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .base import EnergySource
from .paths import HWMON_ROOT, POWERCAP_ROOT

__all__ = [
    "DiscoveryContext",
    "Found",
    "Unavailable",
]


@dataclass(frozen=True, kw_only=True)
class DiscoveryContext:
    """What a backend may look at. Units: s (``now_s``), W (``power``)."""

    #: the monotonic time of the first reading (the sampler's clock)
    now_s: float = field(default_factory=time.monotonic)
    #: the process environment (``CUDA_VISIBLE_DEVICES``, ``HIP_VISIBLE_DEVICES``, …)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    #: component → wattage set by the user, which replaces measuring it
    power: Mapping[str, float] = field(default_factory=dict)
    #: components the sources found before this backend already cover (the user's included)
    measured: frozenset[str] = frozenset()
    powercap_root: str | os.PathLike[str] = POWERCAP_ROOT
    hwmon_root: str | os.PathLike[str] = HWMON_ROOT


def _nothing() -> None:
    pass


@dataclass
class Found:
    """What one backend measures, and what it saw but does not."""

    sources: list[EnergySource] = field(default_factory=list)
    #: device → why it is not measured (``detect()`` prefixes the backend's name)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: releases the backend's library; called once, after its sources are closed
    close: Callable[[], None] = _nothing


class Unavailable(Exception):
    """Why a backend cannot be used, in one line.

    ``fix``: what the user can do to use it (the backend is there but locked, e.g. RAPL readable
    by root only); told once, unlike the other reasons, which only ``%carbon status`` lists.
    """

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix
