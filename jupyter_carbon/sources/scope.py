"""Process scope: attribute machine energy to this kernel process and its children.

Attribution rule, per read interval: CPU energy × (CPU seconds of the process tree / busy CPU
seconds of the machine), RAM energy × (resident memory of the process tree / memory in use).
GPU energy stays whole-device: NVML reports no per-process energy. Children that have exited and
been waited for (multiprocessing pools, subprocess) keep counting through ``children_user`` and
``children_system``; live children are listed at most once per ``refresh_s``.
"""

from __future__ import annotations

from typing import Any, Callable

from .base import Reading

__all__ = ["ProcessShare", "ScopedSource"]


class ProcessShare:
    def __init__(self, refresh_s: float = 1.0, process: Any = None) -> None:
        import psutil

        self._psutil = psutil
        self._proc = process or psutil.Process()
        self.refresh_s = refresh_s
        self._children: list[Any] = []
        self._children_s = float("-inf")
        self._cache_s = None
        self._cache: tuple[float, float] = (1.0, 1.0)
        self._last = self._counters(0.0)

    def _tree(self, now_s: float) -> list[Any]:
        if now_s - self._children_s >= self.refresh_s:
            try:
                self._children = self._proc.children(recursive=True)
            except self._psutil.Error:
                self._children = []
            self._children_s = now_s
        return [self._proc, *self._children]

    def _counters(self, now_s: float) -> tuple[float, float, float, float]:
        """(tree CPU s, machine busy CPU s, tree RSS bytes, machine used bytes)."""
        cpu_s = rss = 0.0
        for i, proc in enumerate(self._tree(now_s)):
            try:
                t = proc.cpu_times()
                cpu_s += t.user + t.system + (t.children_user + t.children_system if i == 0 else 0.0)
                rss += proc.memory_info().rss
            except self._psutil.Error:
                continue
        m = self._psutil.cpu_times()
        busy_s = m.user + m.system + getattr(m, "nice", 0.0) + getattr(m, "irq", 0.0) + getattr(m, "softirq", 0.0)
        vm = self._psutil.virtual_memory()
        return cpu_s, busy_s, rss, float(vm.total - vm.available)

    def shares(self, now_s: float) -> tuple[float, float]:
        """(cpu share, ram share) over the interval since the previous call, each 0..1."""
        if now_s == self._cache_s:
            return self._cache
        cpu_s, busy_s, rss, used = self._counters(now_s)
        d_cpu, d_busy = cpu_s - self._last[0], busy_s - self._last[1]
        cpu_share = min(1.0, max(0.0, d_cpu / d_busy)) if d_busy > 0 else self._cache[0]
        ram_share = min(1.0, rss / used) if used > 0 else 0.0
        self._last = (cpu_s, busy_s, rss, used)
        self._cache_s, self._cache = now_s, (cpu_share, ram_share)
        return self._cache


class ScopedSource:
    """Wraps a machine-wide source and keeps a cumulative, attributed reading."""

    def __init__(self, inner: Any, share: Callable[[float], float]) -> None:
        self.inner = inner
        self.component = inner.component
        self.device = inner.device
        self.method = f"{inner.method}+process-share"
        self.measured = inner.measured
        self._share = share
        self._last: Reading | None = None
        self._total = [0.0, 0.0, 0.0]

    def read(self, now_s: float) -> Reading:
        reading = self.inner.read(now_s)
        share = self._share(now_s)
        if self._last is not None:
            for k in range(3):
                self._total[k] += (reading[k] - self._last[k]) * share
        self._last = reading
        return Reading(*self._total)

    def close(self) -> None:
        self.inner.close()
