"""CPU power model for machines without a readable energy counter.

Shape: CPU package power is a straight line in machine-wide utilisation ``u`` (0..1)::

    power_w = tdp_w × (idle + (full − idle) × u)

with ``idle = 0.05`` and ``full = 0.75`` of TDP for the central estimate, fitted to measured RAPL
package power at 0–100 % load on four real CPUs (full load drew about half to nine tenths of TDP,
not the 102 % of the Teads/SPECpower curve used before), and a band from ``(0.00, 0.05)`` (low) to
``(0.25, 1.50)`` (high), calibrated leave-one-CPU-out: the narrowest band that holds every
measured point of the other CPUs, widened by 5 % of TDP, holds 85 % of the left-out CPU's points.
A CPU's spread around any TDP line is wide; the band says so. docs/cpu-model-validation.md has the
data, the method and the accuracy against that curve and CodeCarbon's ``TDP × load``
(``tools/cpu_model_validation.py``).

A straight line also keeps the container scope consistent: splitting a host's power on this line
by CPU count (idle part) and CPU time (the rest) gives a cgroup of ``n`` CPUs exactly the power of
an ``n``-CPU machine on the same line, whatever its neighbours do (see :mod:`.scope`).

TDP comes from the CPU model name (CodeCarbon's ``cpu_power.csv``, ~4,900 models) times the number
of sockets. On a recognised cloud VM (AWS, GCP, Azure, from DMI) the line is that provider's
per-vCPU minimum and maximum watts from Cloud Carbon Footprint (see :mod:`.cloud`). An unknown
CPU, or another virtual machine (where the host's TDP cannot be attributed to the guest's vCPUs),
uses ``DEFAULT_TDP_PER_THREAD_W`` per logical CPU: 3.5 W, the AWS average maximum per vCPU of the
Cloud Carbon Footprint coefficients.
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from .base import IntegratingSource
from .pread import PreadFile

__all__ = [
    "cpu_power_w",
    "cpu_power_band_w",
    "CpuCurve",
    "TDP_CURVE",
    "CpuModelSource",
    "CpuInfo",
    "read_cpu_info",
    "lookup_tdp_w",
    "DEFAULT_TDP_PER_THREAD_W",
]

DEFAULT_TDP_PER_THREAD_W = 3.5


@dataclass(frozen=True)
class CpuCurve:
    """Power as a fraction of ``tdp_w``: a line from ``idle`` (u = 0) to ``full`` (u = 1), with a
    band."""

    idle: float
    full: float
    low_idle: float
    low_full: float
    high_idle: float
    high_full: float

    def fractions(self, u: float) -> tuple[float, float, float]:
        """(central, low, high) fractions of TDP at utilisation ``u``; NaN and out-of-range ``u``
        are clamped."""
        u = 0.0 if u != u or u < 0.0 else (1.0 if u > 1.0 else u)
        return (
            self.idle + (self.full - self.idle) * u,
            self.low_idle + (self.low_full - self.low_idle) * u,
            self.high_idle + (self.high_full - self.high_idle) * u,
        )

    @property
    def idle_share(self) -> float:
        """Idle power as a share of full-load power: the part of a host's power split by CPU
        count."""
        return self.idle / self.full if self.full > 0 else 0.0


#: The TDP-based line fitted to measured RAPL load profiles (docs/cpu-model-validation.md).
TDP_CURVE = CpuCurve(
    idle=0.05, full=0.75, low_idle=0.0, low_full=0.05, high_idle=0.25, high_full=1.50
)


def cpu_power_w(utilisation: float, tdp_w: float, curve: CpuCurve = TDP_CURVE) -> float:
    """Estimated CPU power in W at machine-wide ``utilisation`` (0..1) for a total ``tdp_w``."""
    return tdp_w * curve.fractions(utilisation)[0]


def cpu_power_band_w(
    utilisation: float, tdp_w: float, curve: CpuCurve = TDP_CURVE
) -> tuple[float, float]:
    """(low, high) bounds in W around :func:`cpu_power_w`."""
    _, low, high = curve.fractions(utilisation)
    return tdp_w * low, tdp_w * high


# --- which CPU is this ------------------------------------------------------------------------

_NOISE = re.compile(
    r"\(r\)|\(tm\)|®|™|\bcpu\b|\bprocessor\b|@.*$|"
    r"\b\d+-core\b|\bwith radeon.*$|,"
)


def _tokens(name: str) -> tuple[str, ...]:
    return tuple(_NOISE.sub(" ", name.lower()).split())


@functools.lru_cache(maxsize=1)
def _tdp_lines() -> tuple[tuple[str, str], ...]:
    """(lower-cased line, line) pairs of the TDP table, read once."""
    with (
        resources.files("jupyter_carbon").joinpath("data/cpu_power.csv").open(encoding="utf-8") as f
    ):
        return tuple((line.lower(), line) for line in f.read().splitlines()[1:])


def _has_digit(token: str) -> bool:
    return any(c.isdigit() for c in token)


@functools.lru_cache(maxsize=64)
def lookup_tdp_w(model_name: str) -> tuple[float, str] | None:
    """TDP of one socket for a CPU model name, and the table entry it matched.

    An entry matches when all its tokens are tokens of the model name (so ``i7-8700`` does not
    match ``i7-8700K``); among matches the longest entry wins. Only lines that contain one of the
    name's model-number tokens are tokenised, which keeps a lookup around a millisecond.
    """
    tokens = set(_tokens(model_name))
    numbers = [t for t in tokens if _has_digit(t)]
    if not numbers:
        return None  # "AMD EPYC" alone (masked by a hypervisor) names no model
    best = None
    for lowered, line in _tdp_lines():
        if not any(n in lowered for n in numbers):
            continue
        name, _, tdp = line.rpartition(",")
        entry = set(_tokens(name.strip('"')))
        if entry and entry <= tokens and any(_has_digit(t) for t in entry):
            try:
                tdp_w = float(tdp)
            except ValueError:
                continue  # a few upstream rows are malformed (e.g. "27.29.5")
            if best is None or len(name) > best[0]:
                best = (len(name), tdp_w, name.strip('"'))
    return (best[1], best[2]) if best else None


@dataclass(frozen=True)
class CpuInfo:
    model_name: str
    sockets: int
    threads: int
    virtual: bool


def read_cpu_info(cpuinfo_path: str = "/proc/cpuinfo") -> CpuInfo:
    model, sockets, virtual = "", set(), False
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not model:
                    model = value.strip()
                elif key == "physical id":
                    sockets.add(value.strip())
                elif key == "flags" and " hypervisor" in value:
                    virtual = True
    except OSError:
        pass
    return CpuInfo(model or "unknown CPU", max(1, len(sockets)), os.cpu_count() or 1, virtual)


def tdp_for(info: CpuInfo) -> tuple[float, str]:
    """Total TDP in W for the machine and a one-line note saying where it came from."""
    found = None if info.virtual else lookup_tdp_w(info.model_name)
    if found:
        tdp_w, entry = found
        return tdp_w * info.sockets, f"TDP {tdp_w:g} W × {info.sockets} socket(s) for {entry}"
    why = "virtual machine" if info.virtual else f"{info.model_name!r} not in the TDP table"
    return (
        DEFAULT_TDP_PER_THREAD_W * info.threads,
        f"{why}: {DEFAULT_TDP_PER_THREAD_W:g} W × {info.threads} threads",
    )


# --- the source -------------------------------------------------------------------------------


def psutil_cpu_s() -> tuple[float, float]:
    """(busy, total) CPU seconds summed over all CPUs, from psutil's ``cpu_times`` (non-Linux)."""
    import psutil  # ~10 ms: loaded where it is used (off Linux, process scope), not at %load_ext

    t = psutil.cpu_times()
    idle = t.idle + getattr(t, "iowait", 0.0)
    # On Linux guest time is already inside user; steal is time the hypervisor took: neither ours.
    total = (
        sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0) - getattr(t, "steal", 0.0)
    )
    return total - idle, total


class ProcUptimeCpu:
    """Machine-wide (busy, total) CPU seconds from ``/proc/uptime``, read with ``pread`` on a file
    descriptor kept open.

    ``/proc/uptime`` holds the uptime and the idle CPU-seconds summed over all CPUs (10 ms
    resolution), so busy = uptime × online CPUs − idle: the same utilisation as psutil's
    ``cpu_times`` deltas, except that iowait and steal count as busy. It is read at every window
    start and stop, and it is cheap where ``/proc/stat`` is not (the kernel formats every CPU's and
    every IRQ's counters for that one, more so on a server with many CPUs: docs/benchmarks.md).
    """

    #: The file counts in 10 ms steps, so a read within 10 ms of the previous one tells nothing new
    #: (at most one step): it returns the previous value. Cells run back to back then cost no read
    #: at all.
    REUSE_S = 0.01

    def __init__(self, path: str = "/proc/uptime") -> None:
        self._file = PreadFile(path)
        self._cpus = os.sysconf("SC_NPROCESSORS_ONLN")
        self._read_s = float("-inf")
        self._value: tuple[float, float] = (0.0, 0.0)
        self()  # fail now, not on the first window, if the format is unexpected

    def __call__(self) -> tuple[float, float]:
        now = time.monotonic()
        if (
            now - self._read_s < self.REUSE_S
        ):  # back-to-back cells: one cell's end is the next one's start
            return self._value
        uptime, idle = self._file.read(64).split()[:2]
        total = float(uptime) * self._cpus
        self._read_s, self._value = now, (total - float(idle), total)
        return self._value

    def close(self) -> None:
        self._file.close()


def machine_cpu_s() -> Callable[[], tuple[float, float]]:
    """The fastest working reader of machine-wide (busy, total) CPU seconds."""
    try:
        return ProcUptimeCpu()
    except (OSError, ValueError, IndexError):
        return psutil_cpu_s


class CpuModelSource(IntegratingSource):
    """Integrates :func:`cpu_power_w` over utilisation measured from (busy, total) CPU-second deltas
    (the machine's by default; a cgroup's for the container scope).

    ``cpu_times`` ticks every 10 ms per CPU: over a shorter interval no tick may land, and the
    previous utilisation is reused instead of reading a meaningless 0 % (or 100 %).
    """

    component = "cpu"
    method = "cpu-model"
    measured = False

    def __init__(
        self,
        tdp_w: float,
        now_s: float,
        device: str = "cpu",
        cpu_s: Callable[..., tuple[float, float]] | None = None,
        curve: CpuCurve = TDP_CURVE,
    ) -> None:
        super().__init__(now_s)
        self.tdp_w = tdp_w
        self.curve = curve
        self.device = device
        self._cpu_s: Callable[..., tuple[float, float]] = cpu_s or machine_cpu_s()
        self._takes_time = getattr(
            self._cpu_s, "takes_time", False
        )  # a cgroup's: total from the read's time
        self._busy_s, self._total_s = self._read_cpu_s(now_s)
        self.utilisation = 0.0
        self._band_w: tuple[float, float, float] | None = None

    def _read_cpu_s(self, now_s: float) -> tuple[float, float]:
        return self._cpu_s(now_s) if self._takes_time else self._cpu_s()

    def _power_band_w(self, now_s: float) -> tuple[float, float, float]:
        busy_s, total_s = self._read_cpu_s(now_s)
        d_total = total_s - self._total_s
        if d_total > 0:
            self.utilisation = min(1.0, max(0.0, (busy_s - self._busy_s) / d_total))
            self._busy_s, self._total_s = busy_s, total_s
        elif self._band_w is not None:  # no tick since the last read: the same power (most reads)
            return self._band_w
        central, low, high = self.curve.fractions(self.utilisation)
        tdp_w = self.tdp_w
        self._band_w = central * tdp_w, low * tdp_w, high * tdp_w
        return self._band_w

    def close(self) -> None:
        close = getattr(self._cpu_s, "close", None)
        if close is not None:
            close()
