"""A stand-in for ``zeus_apple_silicon`` (the nanobind module of ml-energy/zeus-apple-silicon).

``AppleEnergyMonitor().get_cumulative_energy()`` returns an ``AppleEnergyMetrics`` whose fields are
integer **mJ** since an arbitrary origin, or None where the chip lacks the channel:
``cpu_total_mj``, ``efficiency_cores_mj``/``performance_cores_mj`` (lists), ``dram_mj``, ``gpu_mj``,
``gpu_sram_mj``, ``ane_mj``. ``configure(power_w, clock)`` sets each field's true power (W, a
callable of time, or None for "not reported"); ``legacy=True`` names the CPU field ``cpu_mj`` as
early releases did; ``init_error`` makes the constructor raise RuntimeError as the real one
does when IOReport is unavailable.
"""

from __future__ import annotations

from collections.abc import Callable

FIELDS = ("cpu_total_mj", "dram_mj", "gpu_mj", "gpu_sram_mj", "ane_mj")

power_w: dict[str, Callable[[float], float] | None] = {}
clock: Callable[[], float] = lambda: 0.0
state: dict = {}


def configure(
    power: dict[str, Callable[[float], float] | None],
    clock_fn: Callable[[], float],
    *,
    legacy: bool = False,
    init_error: str | None = None,
    origin_mj: int = 123_456_789,
) -> None:
    global power_w, clock, state
    power_w = power
    clock = clock_fn
    state = {
        "legacy": legacy,
        "init_error": init_error,
        "t": clock_fn(),
        "mj": {f: float(origin_mj) for f in FIELDS},
        "monitors": 0,
        "samples": 0,
    }


class AppleEnergyMetrics:
    def __init__(self) -> None:
        self.cpu_total_mj = None
        self.efficiency_cores_mj = None
        self.performance_cores_mj = None
        self.dram_mj = None
        self.gpu_mj = None
        self.gpu_sram_mj = None
        self.ane_mj = None


def _advance() -> None:
    t0, t1 = state["t"], clock()
    steps = max(1, int((t1 - t0) / 0.001))
    h = (t1 - t0) / steps
    for name, fn in power_w.items():
        if fn is not None:
            state["mj"][name] += sum(fn(t0 + (k + 0.5) * h) for k in range(steps)) * h * 1000.0
    state["t"] = t1


class AppleEnergyMonitor:
    def __init__(self) -> None:
        if state.get("init_error"):
            raise RuntimeError(state["init_error"])
        state["monitors"] += 1
        self._windows: dict[str, AppleEnergyMetrics] = {}

    def get_cumulative_energy(self) -> AppleEnergyMetrics:
        _advance()
        state["samples"] += 1
        metrics = AppleEnergyMetrics()
        for name in FIELDS:
            if power_w.get(name) is not None:
                value = int(state["mj"][name])
                if name == "cpu_total_mj" and state["legacy"]:
                    del metrics.cpu_total_mj
                    metrics.cpu_mj = value
                else:
                    setattr(metrics, name, value)
        return metrics

    def begin_window(self, key: str, restart: bool = False) -> None:
        if key in self._windows and not restart:
            raise RuntimeError("Measurement with specified key already exists.")
        self._windows[key] = self.get_cumulative_energy()

    def end_window(self, key: str) -> AppleEnergyMetrics:
        if key not in self._windows:
            raise RuntimeError("No measurement with provided key had been started.")
        start, end = self._windows.pop(key), self.get_cumulative_energy()
        result = AppleEnergyMetrics()
        for name in FIELDS:
            a, b = getattr(start, name, None), getattr(end, name, None)
            if a is not None and b is not None:
                setattr(result, name, b - a)
        return result
