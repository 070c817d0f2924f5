"""The one protocol every energy source follows.

A source reports a *cumulative* energy reading in joules, like a hardware counter, so the energy
of a window is ``end - start`` and the sampling interval never changes the total of a counter.
Model sources integrate their own power estimate between reads and carry an uncertainty band
(``low_j``/``high_j``); for measured sources the band is the reading itself.
"""

from __future__ import annotations

from typing import Protocol

from ..energy import Energy

__all__ = ["COMPONENTS", "Reading", "EnergySource", "IntegratingSource", "PowerIntegral"]

#: Components in display order.
COMPONENTS = ("cpu", "gpu", "ram")


#: A source's cumulative energy since it was created, with its band. Units: J.
Reading = Energy


class EnergySource(Protocol):
    """What the sampler needs from a source.

    Attributes: ``component`` (``cpu``/``gpu``/``ram``), ``device`` (e.g. ``package-0``,
    ``gpu0 NVIDIA A100``), ``method`` (``rapl``, ``nvml-energy``, ``nvml-power``, ``cpu-model``,
    ``ram-model``, ``constant``) and ``measured`` (True for a hardware counter or power sensor).
    ``read(now_s)`` takes the monotonic time of the read and may raise; the sampler catches it.
    """

    component: str
    device: str
    method: str
    measured: bool

    def read(self, now_s: float) -> Reading: ...

    def close(self) -> None: ...


class IntegratingSource:
    """Base for sources that know a power (and its band) and integrate it over time.

    Subclasses implement ``_power_band_w(now_s)`` returning ``(power_w, low_w, high_w)`` averaged
    over the interval since the previous read. Integration is a rectangle rule over that interval,
    which is exact when the model's input (e.g. CPU utilisation) is itself an interval average.
    """

    component = "cpu"
    device = ""
    method = ""
    measured = False

    def __init__(self, now_s: float) -> None:
        self._last_s = now_s
        self._energy = Energy.ZERO

    def _power_band_w(self, now_s: float) -> tuple[float, float, float]:
        raise NotImplementedError

    def read(self, now_s: float) -> Reading:
        dt = now_s - self._last_s
        if dt > 0:
            power_w, low_w, high_w = self._power_band_w(now_s)
            before = self._energy
            self._energy = Energy(
                before.energy_j + power_w * dt,
                before.low_j + low_w * dt,
                before.high_j + high_w * dt,
            )
            self._last_s = now_s
        return self._energy

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.component} {self.device!r} ({self.method})>"


class PowerIntegral:
    """Cumulative energy of a device that reports only its power: the trapezoid rule between
    reads (for GPUs without an energy counter). Units: W, s, J."""

    __slots__ = ("energy_j", "_last_s", "_last_w")

    def __init__(self, now_s: float, power_w: float) -> None:
        self.energy_j = 0.0
        self._last_s = now_s
        self._last_w = power_w

    def add(self, now_s: float, power_w: float) -> float:
        """Take the power read at ``now_s``; return the energy so far."""
        dt = now_s - self._last_s
        if dt > 0:
            self.energy_j += (self._last_w + power_w) * 0.5 * dt
            self._last_s = now_s
        self._last_w = power_w
        return self.energy_j
