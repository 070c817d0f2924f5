"""NVIDIA GPUs through NVML (``pynvml``, shipped by the ``nvidia-ml-py`` distribution).

Volta and newer expose a total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``, mJ since
the driver loaded): a window is end minus start, whatever the sampling interval. Older GPUs only
report power (``nvmlDeviceGetPowerUsage``, mW); the sampler then integrates the samples it takes
at every tick and at window start and stop with the trapezoid rule.

Short windows: the energy counter is refreshed only every ~100 ms on many GPUs (Volta to Hopper),
and the power reading is a 1 s average on recent ones (Ampere and newer). Each source states the
smallest window it resolves (``resolution_s``); the ledger treats a shorter window as estimated
(recent power × time, flagged), never as a measured 0 J. ``benchmarks/gpu_check.py`` measures the
real refresh period of a given GPU.

Reading the counter is slow (milliseconds on an H200, against microseconds for the power:
docs/benchmarks.md): read at every window start and stop it would add milliseconds to every cell.
Since the counter only changes every ``resolution_s``, a read within that time of the last counter
read carries that reading forward with the power instead (last counter value + power × time since
it; never below a value already returned): back-to-back cells read the counter about once per
refresh period, and the error stays within the counter's own granularity (a window shorter than it
is an estimate anyway).

Counters that lie get the same rules as RAPL's, Intel's and AMD's
(:class:`~.counter.CounterTotal`): the 64-bit counter does not wrap, so going backwards is a
reset (the driver reloaded): it goes on from its new value; a step, or a power reading (e.g.
0xFFFFFFFF mW), beyond ``LIMIT_MARGIN`` × the card's enforced power limit (``MAX_POWER_W`` when
NVML gives none) is dropped and replaced by the last plausible power × time, counted in
``glitches``; the sampler flags the open windows and ``%carbon status`` lists them.

Only GPUs visible to this process count: ``CUDA_VISIBLE_DEVICES`` (indices or ``GPU-`` UUID
prefixes, truncated at the first invalid entry as CUDA does) selects them.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from types import ModuleType

from .base import EnergySource, PowerIntegral, Reading
from .counter import CounterTotal
from .discovery import DiscoveryContext, Found, Unavailable
from .visible import visible_indices

__all__ = ["NvmlSource", "discover", "NvmlUnavailable", "RESOLUTION_S", "MAX_POWER_W"]

#: Smallest window each method resolves: the counter's refresh period, the power reading's
#: averaging window.
RESOLUTION_S = {"nvml-energy": 0.1, "nvml-power": 1.0}
#: No NVIDIA GPU draws this much (a GB200's GPU: 1,200 W): the bound when NVML gives no power limit.
MAX_POWER_W = 2000.0
#: Above its enforced power limit by this factor a card's energy or power is implausible: the
#: limit holds on average, and a counter refreshed every ~0.1 s may show up to two periods' worth.
LIMIT_MARGIN = 2.0


class NvmlUnavailable(Unavailable):
    """Why NVML cannot be used, in one line."""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class NvmlSource:
    component = "gpu"
    measured = True

    def __init__(
        self, nvml: ModuleType, handle: object, index: int, name: str, now_s: float
    ) -> None:
        self._nvml = nvml
        self._handle = handle
        #: the GPU's index as the driver counts it (``CUDA_VISIBLE_DEVICES`` aside) and its model
        #: name
        self.index, self.model = index, name
        self.device = f"gpu{index} {name}"
        #: the most power the card can plausibly draw (W): beyond it a step or reading is dropped
        self.max_power_w = _max_power_w(nvml, handle)
        self._power_glitches = 0
        self._good_w = 0.0  # the last plausible power reading
        try:
            start_uj = nvml.nvmlDeviceGetTotalEnergyConsumption(handle) * 1000.0
            self.method = "nvml-energy"
            self._counter: CounterTotal | None = CounterTotal(
                start_uj, now_s, max_power_w=self.max_power_w
            )
        except nvml.NVMLError:
            self._counter = None
            self.method = "nvml-power"
            self._power = PowerIntegral(now_s, self._power_w())
        self.resolution_s = RESOLUTION_S[self.method]
        self._counter_s = now_s  # when the counter was last read …
        self._counter_j = 0.0  # … and its value then, since the start (J)
        self._last_j = 0.0  # the last energy returned: readings never go down

    @property
    def glitches(self) -> int:
        """Counter steps and power readings dropped as implausible (beyond the card's power)."""
        counted = self._counter.glitches if self._counter is not None else 0
        return counted + self._power_glitches

    @property
    def resets(self) -> int:
        """Times the energy counter went backwards: it restarted from zero (a driver reload)."""
        return self._counter.resets if self._counter is not None else 0

    def _power_w(self) -> float:
        """The power now (W); an implausible reading is dropped for the last plausible one."""
        power_w = self._nvml.nvmlDeviceGetPowerUsage(self._handle) / 1000.0
        if not 0.0 <= power_w <= self.max_power_w:
            self._power_glitches += 1
            return self._good_w
        self._good_w = power_w
        return power_w

    def read(self, now_s: float) -> Reading:
        if self._counter is None:
            energy_j = self._power.add(now_s, self._power_w())
        elif (
            now_s - self._counter_s < self.resolution_s
        ):  # the counter has changed at most once since
            power_w = self._power_w()
            energy_j = max(self._counter_j + power_w * (now_s - self._counter_s), self._last_j)
        else:
            raw_uj = self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle) * 1000.0
            counter_j = self._counter.step(raw_uj, now_s) / 1e6
            self._counter_s, self._counter_j = now_s, counter_j
            energy_j = max(counter_j, self._last_j)
        self._last_j = energy_j
        return Reading(energy_j, energy_j, energy_j)

    def held_by(self, pid: int) -> tuple[bool, float | None]:
        """Whether process ``pid`` holds memory on this GPU (NVML's list of compute processes,
        ``nvmlDeviceGetComputeRunningProcesses`` v3, v2 or v1), and how much (MiB; None when NVML
        does not say). (False, None) when the list cannot be read: never raises."""
        nvml = self._nvml
        for name in (
            "nvmlDeviceGetComputeRunningProcesses_v3",
            "nvmlDeviceGetComputeRunningProcesses_v2",
            "nvmlDeviceGetComputeRunningProcesses",
        ):
            query = getattr(nvml, name, None)
            if query is None:
                continue
            try:
                processes = query(self._handle)
            except Exception:  # NVMLError_FunctionNotFound on older drivers: the next version
                continue
            used = [getattr(p, "usedGpuMemory", None) for p in processes if p.pid == pid]
            if not used:
                return False, None
            known = [u for u in used if isinstance(u, int)]  # None: NVML_VALUE_NOT_AVAILABLE
            return True, (sum(known) / 2**20 if known else None)
        return False, None

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<NvmlSource {self.device!r} ({self.method})>"


def _max_power_w(nvml: ModuleType, handle: object) -> float:
    """``LIMIT_MARGIN`` × the card's enforced power limit (W), else ``MAX_POWER_W``."""
    for name in ("nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetPowerManagementLimit"):
        getter = getattr(nvml, name, None)
        if getter is None:
            continue
        try:
            limit_w = getter(handle) / 1000.0
        except Exception:  # NVMLError (Not Supported), or a broken binding
            continue
        if 0.0 < limit_w <= MAX_POWER_W:
            return min(LIMIT_MARGIN * limit_w, MAX_POWER_W)
    return MAX_POWER_W


def _driver_library_present() -> bool:
    """Cheap probe before importing pynvml (itself slow to import): can the driver library load?"""
    if sys.platform.startswith("win") or "pynvml" in sys.modules:
        return (
            True  # Windows searches several folders; an already-imported (or stub) pynvml decides
        )
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


def discover(context: DiscoveryContext) -> Found:
    """Initialise NVML: one source per GPU visible under ``CUDA_VISIBLE_DEVICES``; ``close``
    shuts NVML down. Raises ``NvmlUnavailable``."""
    if "gpu" in context.power:
        raise NvmlUnavailable("GPU power set by the user (power=gpu:…)")
    if not _driver_library_present():
        raise NvmlUnavailable("no NVIDIA driver: libnvidia-ml.so.1 not found")
    try:
        import pynvml  # slow to import: only where the driver is
    except ImportError:
        raise NvmlUnavailable("nvidia-ml-py is not installed (pip install nvidia-ml-py)") from None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        raise NvmlUnavailable(
            f"no NVIDIA driver usable: {_text(exc) or type(exc).__name__}"
        ) from None
    except Exception as exc:  # ctypes/OS errors from a broken install
        raise NvmlUnavailable(f"NVML failed to initialise: {exc}") from None
    try:
        count = pynvml.nvmlDeviceGetCount()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        uuids = [_text(pynvml.nvmlDeviceGetUUID(h)) for h in handles]
        visible = visible_indices(context.environ.get("CUDA_VISIBLE_DEVICES"), uuids)
        sources: list[EnergySource] = []
        for i in visible:
            name = _text(pynvml.nvmlDeviceGetName(handles[i]))
            sources.append(NvmlSource(pynvml, handles[i], i, name, context.now_s))
    except pynvml.NVMLError as exc:
        pynvml.nvmlShutdown()
        raise NvmlUnavailable(f"NVML error while listing GPUs: {_text(exc)}") from None
    if not sources:
        pynvml.nvmlShutdown()
        why = "CUDA_VISIBLE_DEVICES hides every GPU" if count else "NVML reports no GPU"
        raise NvmlUnavailable(why)
    return Found(sources, close=lambda: _shutdown(pynvml))


def _shutdown(nvml: ModuleType) -> None:
    with contextlib.suppress(Exception):
        nvml.nvmlShutdown()
