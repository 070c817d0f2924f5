"""Apple Silicon through ``zeus-apple-silicon`` (extra ``apple``): no ``sudo`` needed.

The library reads the SoC's "Energy Model" channels of IOReport, the ones ``powermetrics`` shows,
without root. ``AppleEnergyMonitor().get_cumulative_energy()`` returns an ``AppleEnergyMetrics``
whose fields are **mJ** since an arbitrary origin, ``None`` where the chip does not report them:
``cpu_total_mj`` (``cpu_mj`` in early releases), ``gpu_mj``, ``gpu_sram_mj``, ``ane_mj``,
``dram_mj``. These are Apple's own *model-based* counters (activity × per-unit energy, computed by
the SoC), not a power meter: each source's method says so ("apple-energy-model").

Sources: CPU (cpu_total_mj), GPU (gpu_mj + gpu_sram_mj), ANE (ane_mj, counted as an accelerator
under the ``gpu`` component) and RAM (dram_mj), each only where reported. One sample is taken per
sampler tick and shared by the four sources.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import TYPE_CHECKING

from .base import EnergySource, Reading
from .counter import CounterTotal
from .discovery import DiscoveryContext, Found, Unavailable

if TYPE_CHECKING:
    from zeus_apple_silicon import AppleEnergyMetrics, AppleEnergyMonitor

__all__ = ["AppleSource", "AppleUnavailable", "discover", "PARTS"]

#: component, device, metric fields summed (mJ); the first CPU field found is used.
PARTS = (
    ("cpu", "Apple SoC CPU", ("cpu_total_mj",)),
    ("gpu", "Apple SoC GPU", ("gpu_mj", "gpu_sram_mj")),
    ("gpu", "Apple SoC ANE (Neural Engine)", ("ane_mj",)),
    ("ram", "Apple SoC DRAM", ("dram_mj",)),
)
#: No Apple SoC part draws more (M3 Ultra: ~300 W for the whole machine).
MAX_POWER_W = 500.0
#: Smallest window the counters resolve (assumed; IOReport's energy channels update every few ms).
RESOLUTION_S = 0.05


class AppleUnavailable(Unavailable):
    """Why Apple Silicon cannot be measured, in one line that says what to do."""


def _field_mj(metrics: AppleEnergyMetrics, name: str) -> float | None:
    value = getattr(metrics, name, None)
    if value is None and name == "cpu_total_mj":
        value = getattr(metrics, "cpu_mj", None)  # early zeus-apple-silicon releases
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class _SharedSample:
    """One ``get_cumulative_energy()`` per tick for every Apple source."""

    def __init__(self, monitor: AppleEnergyMonitor) -> None:
        self._monitor: AppleEnergyMonitor | None = monitor
        self._lock = threading.Lock()
        self._time_s: float | None = None
        self._metrics: AppleEnergyMetrics | None = None

    def at(self, now_s: float) -> AppleEnergyMetrics:
        with self._lock:
            if self._metrics is None or self._time_s != now_s:
                if self._monitor is None:
                    raise RuntimeError("the Apple energy monitor is closed")
                self._metrics = self._monitor.get_cumulative_energy()
                self._time_s = now_s
            return self._metrics

    def close(self) -> None:
        with self._lock:
            self._monitor = None  # the monitor frees its IOReport subscription when collected


class AppleSource:
    measured = True  # read from the SoC's counters, though the SoC computes them from a model
    method = "apple-energy-model"
    resolution_s = RESOLUTION_S

    def __init__(
        self,
        shared: _SharedSample,
        component: str,
        device: str,
        fields: tuple[str, ...],
        now_s: float,
    ) -> None:
        self.component = component
        self.device = device
        #: a part of the SoC, not a numbered GPU: no index; its name is the device
        self.index: int | None = None
        self.model = device
        self._shared = shared
        self._fields = fields
        self._counter = CounterTotal(self._raw_uj(now_s), now_s, max_power_w=MAX_POWER_W)

    def _raw_uj(self, now_s: float) -> float:
        metrics = self._shared.at(now_s)
        values = [_field_mj(metrics, f) for f in self._fields]
        if values[0] is None:
            raise RuntimeError(f"{self._fields[0]} is no longer reported")
        return sum(v for v in values if v is not None) * 1000.0  # mJ → µJ

    @property
    def glitches(self) -> int:
        """Counter steps dropped as implausible (beyond ``MAX_POWER_W``): the sampler flags them."""
        return self._counter.glitches

    def read(self, now_s: float) -> Reading:
        energy_j = self._counter.step(self._raw_uj(now_s), now_s) / 1e6
        return Reading(energy_j, energy_j, energy_j)

    def close(self) -> None:
        pass  # the monitor is dropped by the Found's close, after every source

    def __repr__(self) -> str:
        return f"<AppleSource {self.component} {self.device!r}>"


def _is_apple_silicon() -> bool:
    # an already-imported (or stub) zeus_apple_silicon decides, as pynvml does for NVML
    return "zeus_apple_silicon" in sys.modules or (
        sys.platform == "darwin" and os.uname().machine == "arm64"
    )


def discover(context: DiscoveryContext) -> Found:
    """One source per SoC part that reports energy, among the components not measured yet
    (RAPL or a user-set wattage wins); ``close`` drops the monitor. Raises ``AppleUnavailable``."""
    if not _is_apple_silicon():
        raise AppleUnavailable("not an Apple Silicon Mac")
    components = {"cpu", "gpu", "ram"} - context.measured
    if not components:
        raise AppleUnavailable("CPU, GPU and RAM are already measured or set by the user")
    try:
        import zeus_apple_silicon  # only on Apple Silicon
    except ImportError:
        raise AppleUnavailable(
            "zeus-apple-silicon is not installed (pip install 'jupyter-carbon[apple]')"
        ) from None
    try:
        monitor = zeus_apple_silicon.AppleEnergyMonitor()
        metrics = monitor.get_cumulative_energy()
    except Exception as exc:
        raise AppleUnavailable(f"IOReport energy counters unavailable: {exc}") from None
    parts = [
        (c, d, f) for c, d, f in PARTS if c in components and _field_mj(metrics, f[0]) is not None
    ]
    if not parts:
        raise AppleUnavailable(
            "the SoC reports no energy channel (IOReport 'Energy Model' group empty)"
        )
    shared = _SharedSample(monitor)
    sources: list[EnergySource] = [
        AppleSource(shared, c, device, fields, context.now_s) for c, device, fields in parts
    ]
    return Found(sources, close=shared.close)
