"""The immutable record of one measured window (a notebook cell, a ``track()`` block).

Energy is stored per device with its method; per-component and total figures, CO2e and the
uncertainty band are derived on demand so a record stays small (10,000 cells fit in a few MB).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from .intensity.emissions import co2e_g
from .sources.base import COMPONENTS

__all__ = ["DeviceEnergy", "ComponentEnergy", "SessionTotals", "CellRecord", "Timeline"]

class FrozenDict(dict):
    """A dict that refuses changes: records are immutable, and one empty instance is shared."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a record's mappings are read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        return (FrozenDict, (dict(self),))


NO_EXTRA = FrozenDict()


@dataclass(frozen=True, slots=True)
class DeviceEnergy:
    component: str
    device: str
    method: str
    measured: bool
    energy_j: float
    low_j: float
    high_j: float


@dataclass(frozen=True, slots=True)
class ComponentEnergy:
    component: str
    energy_j: float
    low_j: float
    high_j: float
    methods: tuple[str, ...]
    measured: bool

    @property
    def how(self) -> str:
        """'measured (rapl)' or 'estimated (cpu-model)', for badges and text."""
        return f"{'measured' if self.measured else 'estimated'} ({', '.join(self.methods)})"


@dataclass(frozen=True, slots=True)
class SessionTotals:
    cells: int
    energy_j: float
    low_j: float
    high_j: float
    co2e_g: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class Timeline:
    """Power over a window, downsampled to a bounded number of points. Units: s and W."""

    t_s: tuple[float, ...] = ()
    power_w: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.t_s)


@dataclass(frozen=True, slots=True)
class CellRecord:
    id: int
    label: str | None
    cell: int | None
    kind: str  # "cell" (%%carbon), "auto" (%carbon on), "script" (track())
    start_utc: datetime
    end_utc: datetime
    start_s: float  # monotonic clock
    end_s: float
    devices: tuple[DeviceEnergy, ...]
    status: str  # "ok", "error", "interrupted"
    flags: tuple[str, ...]
    intensity_g_per_kwh: float
    intensity_source: str
    intensity_utc: datetime | None
    pue: float
    scope: str
    totals: SessionTotals
    items: int | None = None
    task: str | None = None
    timeline: Timeline = Timeline()
    baseline_w: Mapping[str, float] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def components(self) -> dict[str, ComponentEnergy]:
        out: dict[str, ComponentEnergy] = {}
        for name in COMPONENTS:
            devs = [d for d in self.devices if d.component == name]
            if devs:
                out[name] = ComponentEnergy(
                    name,
                    sum(d.energy_j for d in devs),
                    sum(d.low_j for d in devs),
                    sum(d.high_j for d in devs),
                    tuple(dict.fromkeys(d.method for d in devs)),
                    all(d.measured for d in devs),
                )
        return out

    @property
    def energy_j(self) -> float:
        return sum(d.energy_j for d in self.devices)

    @property
    def energy_band_j(self) -> tuple[float, float]:
        return sum(d.low_j for d in self.devices), sum(d.high_j for d in self.devices)

    @property
    def measured(self) -> bool:
        return all(d.measured for d in self.devices)

    def co2e_g_of(self, energy_j: float) -> float:
        return co2e_g(energy_j, self.intensity_g_per_kwh, self.pue)

    @property
    def co2e_g(self) -> float:
        return self.co2e_g_of(self.energy_j)

    @property
    def co2e_band_g(self) -> tuple[float, float]:
        low_j, high_j = self.energy_band_j
        return self.co2e_g_of(low_j), self.co2e_g_of(high_j)

    @property
    def marginal_energy_j(self) -> float | None:
        """Energy above the idle baseline (``%carbon baseline``), or None without one."""
        if not self.baseline_w:
            return None
        return max(0.0, self.energy_j - sum(self.baseline_w.values()) * self.duration_s)

    def to_dict(self) -> dict[str, Any]:
        from .serialize import record_to_dict

        return record_to_dict(self)
