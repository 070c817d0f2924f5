"""Test doubles for hardware this machine lacks: a powercap sysfs tree, a pynvml module, a clock.

Only hardware is faked; everything else in the tests is real.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from pathlib import Path


class FakeClock:
    """A monotonic clock the test advances by hand."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, dt_s: float) -> None:
        self.now_s += dt_s


class FakePowercap:
    """A powercap tree in a temp folder whose counters follow a known power profile.

    Zones: ``intel-rapl:N`` (package-N) per socket, ``intel-rapl:N:0`` (core, must be ignored),
    ``intel-rapl:N:1`` (dram) when ``dram``. ``advance(dt, power_w)`` integrates exactly and
    writes the wrapped counters; ``true_energy_j`` keeps the exact, unwrapped integral per zone.
    """

    def __init__(
        self,
        root: Path,
        sockets: int = 1,
        dram: bool = True,
        max_range_uj: int = 262_143_328_850,
        start_uj: int = 0,
    ) -> None:
        self.root = Path(root)
        self.max_range_uj = max_range_uj
        self.zones: dict[str, Path] = {}
        self.counter_uj: dict[str, float] = {}
        self.true_energy_j: dict[str, float] = {}
        for s in range(sockets):
            self._zone(f"intel-rapl:{s}", f"package-{s}", start_uj)
            self._zone(f"intel-rapl:{s}:0", "core", start_uj)
            if dram:
                self._zone(f"intel-rapl:{s}:1", "dram", start_uj)
        # a psys zone overlaps the packages and must be ignored too
        self._zone(f"intel-rapl:{sockets}", "psys", start_uj)

    def _zone(self, entry: str, name: str, start_uj: int) -> None:
        zone = self.root / entry
        zone.mkdir(parents=True)
        (zone / "name").write_text(name + "\n")
        (zone / "max_energy_range_uj").write_text(f"{self.max_range_uj}\n")
        key = self._key(entry, name)
        self.zones[key] = zone
        self.counter_uj[key] = float(start_uj)
        self.true_energy_j[key] = 0.0
        self._write(key)

    @staticmethod
    def _key(entry: str, name: str) -> str:
        socket = entry.split(":")[1]
        return {"dram": f"dram-{socket}", "core": f"core-{socket}"}.get(
            name, name
        )  # package-N, psys

    def _write(self, key: str) -> None:
        (self.zones[key] / "energy_uj").write_text(f"{int(self.counter_uj[key])}\n")

    def advance(self, dt_s: float, power_w: dict[str, float]) -> None:
        for key, watts in power_w.items():
            energy_j = watts * dt_s
            self.true_energy_j[key] += energy_j
            self.counter_uj[key] = (self.counter_uj[key] + energy_j * 1e6) % self.max_range_uj
            self._write(key)


class NVMLError(Exception):
    pass


class NVMLError_GpuIsLost(NVMLError):
    pass


def stub_pynvml(gpus: list[dict], clock: Callable[[], float]) -> types.ModuleType:
    """A stand-in ``pynvml`` module. Each GPU dict: name, uuid, power_w (callable of time),
    counter (bool: total-energy counter supported), fail_at (time from which reads raise
    GpuIsLost), init_error (NVMLError raised by nvmlInit), processes ({pid: MiB} on the GPU),
    update_s (the driver refreshes the energy counter only this often, as many GPUs do every
    ~100 ms; 0: always current), limit_w (the enforced power limit NVML reports; absent: "Not
    Supported"). ``state["energy_mj"][i]`` is the counter: a test may set it (a reset, a jump)."""
    mod = types.ModuleType("pynvml")
    mod.NVMLError = NVMLError
    mod.NVMLError_GpuIsLost = NVMLError_GpuIsLost
    state = {
        "energy_mj": [0.0] * len(gpus),
        "t": [clock()] * len(gpus),
        "init": 0,
        "shutdown": 0,
        "t0": clock(),
    }

    def _advance(i: int) -> None:
        # exact integral of the power trace since the last query (midpoint rule on fine steps)
        t0, t1 = state["t"][i], clock()
        steps = max(1, int((t1 - t0) / 0.001))
        h = (t1 - t0) / steps
        f = gpus[i]["power_w"]
        state["energy_mj"][i] += sum(f(t0 + (k + 0.5) * h) for k in range(steps)) * h * 1000
        state["t"][i] = t1

    def _check(i: int) -> None:
        fail_at = gpus[i].get("fail_at")
        if fail_at is not None and clock() >= fail_at:
            raise NVMLError_GpuIsLost("GPU is lost")

    def nvmlInit() -> None:
        for gpu in gpus:
            if gpu.get("init_error"):
                raise NVMLError(gpu["init_error"])
        state["init"] += 1

    def nvmlShutdown() -> None:
        state["shutdown"] += 1

    def nvmlDeviceGetTotalEnergyConsumption(i: int) -> int:
        _check(i)
        state["energy_reads"] = state.get("energy_reads", 0) + 1
        if not gpus[i].get("counter", True):
            raise NVMLError("Not Supported")
        _advance(i)
        update_s = gpus[i].get("update_s", 0.0)
        if update_s:  # the value of the last refresh: a multiple of update_s since the stub began
            shown = state.setdefault("shown", {})
            period = int((clock() - state["t0"]) / update_s)
            if shown.get(i, (None,))[0] != period:
                shown[i] = (period, int(state["energy_mj"][i]))
            return shown[i][1]
        return int(state["energy_mj"][i])

    def nvmlDeviceGetPowerUsage(i: int) -> int:
        _check(i)
        return int(gpus[i]["power_w"](clock()) * 1000)

    def nvmlDeviceGetEnforcedPowerLimit(i: int) -> int:
        if "limit_w" not in gpus[i]:
            raise NVMLError("Not Supported")
        return int(gpus[i]["limit_w"] * 1000)

    def nvmlDeviceGetComputeRunningProcesses_v3(i: int) -> list:
        # "processes": {pid: MiB held (None: NVML cannot say)}, read when asked (tests change it)
        _check(i)
        state["process_queries"] = state.get("process_queries", 0) + 1
        return [
            types.SimpleNamespace(pid=pid, usedGpuMemory=None if mib is None else int(mib * 2**20))
            for pid, mib in gpus[i].get("processes", {}).items()
        ]

    mod.nvmlInit = nvmlInit
    mod.nvmlDeviceGetEnforcedPowerLimit = nvmlDeviceGetEnforcedPowerLimit
    mod.nvmlShutdown = nvmlShutdown
    mod.nvmlDeviceGetCount = lambda: len(gpus)
    mod.nvmlDeviceGetHandleByIndex = lambda i: i
    mod.nvmlDeviceGetUUID = lambda i: gpus[i].get("uuid", f"GPU-{i:08d}-aaaa")
    mod.nvmlDeviceGetName = lambda i: gpus[i].get("name", "Stub GPU").encode()
    mod.nvmlDeviceGetTotalEnergyConsumption = nvmlDeviceGetTotalEnergyConsumption
    mod.nvmlDeviceGetPowerUsage = nvmlDeviceGetPowerUsage
    mod.nvmlDeviceGetComputeRunningProcesses_v3 = nvmlDeviceGetComputeRunningProcesses_v3
    mod.state = state
    return mod


def sine_power(base_w: float, amp_w: float, period_s: float) -> Callable[[float], float]:
    return lambda t: base_w + amp_w * math.sin(2 * math.pi * t / period_s)


def session_with(sources_fn, clock=None, *, wall_clock=None, **config):
    """A CarbonSession whose sources are ``sources_fn(now_s)`` (synthetic hardware), no thread."""
    import time

    from jupyter_carbon.carbon_session import CarbonSession
    from jupyter_carbon.config import Config
    from jupyter_carbon.sources.detect import Detection

    options = {"wall_clock": wall_clock} if wall_clock is not None else {}
    return CarbonSession(
        Config(**config),
        clock=clock or time.monotonic,
        threaded=False,
        detect=lambda now_s, **_: Detection(sources=sources_fn(now_s)),
        **options,
    )


def constant_session(clock=None, *, wall_clock=None, **watts_and_config):
    """A session with one constant-power source per component given as ``cpu=…, gpu=…,
    ram=…`` (W)."""
    from jupyter_carbon.sources.constant import ConstantPowerSource

    watts = {k: watts_and_config.pop(k) for k in ("cpu", "gpu", "ram") if k in watts_and_config}
    return session_with(
        lambda t: [ConstantPowerSource(c, w, t) for c, w in watts.items()],
        clock,
        wall_clock=wall_clock,
        **watts_and_config,
    )


def exact_energy_j(
    power: Callable[[float], float], t0: float, t1: float, steps: int = 100_000
) -> float:
    """The integral of ``power`` (W) from ``t0`` to ``t1`` (s), by the midpoint rule: the truth a
    power-integrating source is compared with."""
    h = (t1 - t0) / steps
    return sum(power(t0 + (k + 0.5) * h) for k in range(steps)) * h


def run_window(session, clock, seconds: float, tick_s: float, label: str = "gpu"):
    """One window of ``seconds`` on the fake clock, the sampler ticked every ``tick_s``:
    (its record, start time, end time)."""
    m = session.open(label)
    t0 = clock.now_s
    for _ in range(round(seconds / tick_s)):
        clock.advance(tick_s)
        session.sampler.tick()
    return session.stop(m), t0, clock.now_s
