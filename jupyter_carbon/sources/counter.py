"""Turn a raw hardware energy counter into a total that only ever goes up by plausible steps.

Vendor counters misbehave in three ways this guards against:

- **wrap**: a fixed-width register rolls over (``wrap_uj`` given): the step is
  ``raw + wrap - last``;
- **reset** (the driver reloaded, the device was reset): the counter goes backwards with no known
  width; the energy since the reset is the new raw value, as the counter restarted from 0
  (when plausible), counted in ``resets`` so that the source can say so;
- **jump**: a step that implies more power than the device can draw (``max_power_w``), e.g. a
  firmware glitch or a unit mix-up. The step is dropped and replaced by the last plausible
  power × time, and counted in ``glitches`` so that the source can say so.

A wrap is only recognised when at most one can happen between two reads: the counter must be
read at least every ``max_gap_s`` (its range at its largest plausible power, with a margin), which
the sampler does whatever its ``interval`` (``Sampler.tick_s``).
"""

from __future__ import annotations

import errno
from pathlib import Path

from .base import Reading
from .pread import PreadFile

__all__ = ["CounterTotal", "MicrojouleFileSource"]


class CounterTotal:
    """Cumulative µJ since the first reading, from successive raw readings (µJ)."""

    __slots__ = (
        "wrap_uj",
        "max_power_w",
        "total_uj",
        "glitches",
        "resets",
        "_last_uj",
        "_last_s",
        "_power_w",
    )

    def __init__(
        self, raw_uj: float, now_s: float, *, max_power_w: float, wrap_uj: float | None = None
    ) -> None:
        self.wrap_uj = wrap_uj
        self.max_power_w = max_power_w
        self.total_uj = 0.0
        self.glitches = 0
        self.resets = 0
        self._last_uj = raw_uj
        self._last_s = now_s
        self._power_w = 0.0

    def step(self, raw_uj: float, now_s: float) -> float:
        """Account one new raw reading; return the total in µJ."""
        delta_uj = raw_uj - self._last_uj
        reset = False
        if delta_uj < 0:
            # a wrap only while the last value fits the register; past it (a 64-bit count that
            # went beyond 32 bits) going back is a reset, counted from 0
            wrapped = (
                raw_uj + self.wrap_uj - self._last_uj
                if self.wrap_uj and self._last_uj < self.wrap_uj
                else -1.0
            )
            reset = wrapped < 0
            delta_uj = raw_uj if reset else wrapped
        dt_s = now_s - self._last_s
        # a counter may tick between two reads taken at the same clock time: allow 1 ms of slack
        if delta_uj > self.max_power_w * max(dt_s, 1e-3) * 1e6:
            self.glitches += 1
            delta_uj = self._power_w * max(dt_s, 0.0) * 1e6
        else:
            self.resets += reset
            if dt_s > 0:
                self._power_w = delta_uj / dt_s / 1e6
        self.total_uj += delta_uj
        self._last_uj = raw_uj
        self._last_s = now_s
        return self.total_uj

    @property
    def max_gap_s(self) -> float:
        """The longest time between reads for which at most one wrap can happen, at half the
        range (a thread may wake late); unbounded without a known width."""
        if not self.wrap_uj or self.max_power_w <= 0:
            return float("inf")
        return 0.5 * self.wrap_uj / 1e6 / self.max_power_w


class MicrojouleFileSource:
    """Base of the sources that read a cumulative µJ counter from one sysfs file (RAPL's
    ``energy_uj``, hwmon's ``energyN_input``): the file kept open and re-read with one ``pread``,
    each step checked by :class:`CounterTotal`. Subclasses set ``component``, ``device``,
    ``method``."""

    measured = True
    component = ""
    device = ""
    method = ""

    def _open_counter(
        self, path: Path, now_s: float, *, max_power_w: float, wrap_uj: float | None
    ) -> None:
        """Open ``path`` once and take its first reading; unreadable (e.g. root-only): raises here,
        at detection."""
        self._path = path
        self._file = PreadFile(path)
        try:
            first_uj = int(self._file.read(32))
        except BaseException:
            self._file.close()
            raise
        self._counter = CounterTotal(first_uj, now_s, max_power_w=max_power_w, wrap_uj=wrap_uj)

    @property
    def glitches(self) -> int:
        """Counter steps dropped as implausible (resets far from the range, jumps beyond the
        device's power)."""
        return self._counter.glitches

    @property
    def resets(self) -> int:
        """Times the counter went backwards with no plausible wrap: it restarted from zero."""
        return self._counter.resets

    @property
    def max_gap_s(self) -> float:
        """Read at least this often for a wrap to be recognised (:attr:`CounterTotal.max_gap_s`)."""
        return self._counter.max_gap_s

    def read(self, now_s: float) -> Reading:
        data = self._file.read(32)
        if not data:  # a counter that went away reads empty or fails (ENODEV)
            raise OSError(errno.ENODEV, f"{self._path} returned nothing")
        energy_j = self._counter.step(int(data), now_s) / 1e6
        return Reading.exact(energy_j)

    def close(self) -> None:
        self._file.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.component} {self.device!r} {self._path}>"
