"""Energy with its uncertainty band as one value, and the CO2e it makes.

``Energy(energy_j, low_j, high_j)`` is a figure in joules with the band around it: a model's
estimate carries its own band, a measured reading is its own band (``Energy.exact``). Bands
add and subtract field by field (the devices of a window, end minus start of cumulative
readings) and scale by a factor (a window's share of a host, the fraction of a window counted
once); CO2e is linear in energy, so ``Energy.co2e`` scales each end to a :class:`Co2e`, the
same value in grams. Pure: no I/O, no dependencies beyond :mod:`.units`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from .units import co2e_g_from_j

__all__ = ["Energy", "Co2e", "EnergyFields"]


@dataclass(frozen=True, slots=True)
class Energy:
    """An energy and its uncertainty band. Units: J."""

    energy_j: float
    low_j: float
    high_j: float

    ZERO: ClassVar[Energy]

    @classmethod
    def exact(cls, energy_j: float) -> Energy:
        """A measured energy: the band is the figure itself."""
        return cls(energy_j, energy_j, energy_j)

    @classmethod
    def from_power(
        cls, power_w: float, dt_s: float, low_w: float | None = None, high_w: float | None = None
    ) -> Energy:
        """``power_w`` (with its band ``low_w``–``high_w``, default: exact) held for ``dt_s``."""
        return cls(
            power_w * dt_s,
            (power_w if low_w is None else low_w) * dt_s,
            (power_w if high_w is None else high_w) * dt_s,
        )

    @classmethod
    def total(cls, bands: Iterable[Energy]) -> Energy:
        """The sum of ``bands`` (one object made, however many: reports sum 100,000 records)."""
        energy_j = low_j = high_j = 0.0
        for band in bands:
            energy_j += band.energy_j
            low_j += band.low_j
            high_j += band.high_j
        return cls(energy_j, low_j, high_j)

    def __add__(self, other: Energy) -> Energy:
        if not isinstance(other, Energy):
            return NotImplemented
        return Energy(
            self.energy_j + other.energy_j, self.low_j + other.low_j, self.high_j + other.high_j
        )

    def __sub__(self, other: Energy) -> Energy:
        if not isinstance(other, Energy):
            return NotImplemented
        return Energy(
            self.energy_j - other.energy_j, self.low_j - other.low_j, self.high_j - other.high_j
        )

    def __mul__(self, factor: float) -> Energy:
        if not isinstance(factor, (int, float)):
            return NotImplemented
        return Energy(self.energy_j * factor, self.low_j * factor, self.high_j * factor)

    __rmul__ = __mul__

    def co2e(self, g_per_kwh: float, pue: float = 1.0) -> Co2e:
        """Grams CO2e of the figure and of each end of its band (:func:`.units.co2e_g_from_j`)."""
        return Co2e(
            co2e_g_from_j(self.energy_j, g_per_kwh, pue),
            co2e_g_from_j(self.low_j, g_per_kwh, pue),
            co2e_g_from_j(self.high_j, g_per_kwh, pue),
        )


@dataclass(frozen=True, slots=True)
class Co2e:
    """A mass of CO2e and its uncertainty band. Units: g."""

    co2e_g: float
    low_g: float
    high_g: float

    ZERO: ClassVar[Co2e]

    def __add__(self, other: Co2e) -> Co2e:
        if not isinstance(other, Co2e):
            return NotImplemented
        return Co2e(
            self.co2e_g + other.co2e_g, self.low_g + other.low_g, self.high_g + other.high_g
        )

    def __mul__(self, factor: float) -> Co2e:
        if not isinstance(factor, (int, float)):
            return NotImplemented
        return Co2e(self.co2e_g * factor, self.low_g * factor, self.high_g * factor)

    __rmul__ = __mul__


class EnergyFields:
    """``energy_j``/``low_j``/``high_j`` of a class whose ``energy`` field is an :class:`Energy`
    (records keep their flat names for readers and the dict form)."""

    __slots__ = ()
    energy: Energy

    @property
    def energy_j(self) -> float:
        return self.energy.energy_j

    @property
    def low_j(self) -> float:
        return self.energy.low_j

    @property
    def high_j(self) -> float:
        return self.energy.high_j


Energy.ZERO = Energy(0.0, 0.0, 0.0)
Co2e.ZERO = Co2e(0.0, 0.0, 0.0)
