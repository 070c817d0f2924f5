"""Process scope: attribute machine energy to this kernel process and its children.

Attribution rule, per read interval: CPU energy × (CPU seconds of the process tree / busy CPU
seconds of the machine), RAM energy × (resident memory of the process tree / memory in use).
GPU energy stays whole-device: NVML reports no per-process energy. Children that have exited and
been waited for (multiprocessing pools, subprocess) keep counting through ``children_user`` and
``children_system``; live children are listed at most once per ``refresh_s``.

A :class:`ScopedSource` is a *view* of a machine source. It costs nothing while no window needs
it: it is enabled (reference-counted) by the sampler for the lifetime of process-scope windows,
and only then reads the process tree.
"""

from __future__ import annotations

from typing import Any

from .base import Reading
from .cpu_model import psutil_cpu_s
from .ram_model import BYTES_PER_GB, machine_ram_used_gb

__all__ = ["ProcessShare", "ScopedSource"]


class ProcessShare:
    def __init__(self, refresh_s: float = 1.0) -> None:
        self.refresh_s = refresh_s
        self._proc: Any = None
        self._children: list[Any] = []
        self._children_s = float("-inf")
        self._cache_s: float | None = None
        self._cache: tuple[float, float] = (1.0, 1.0)
        self._last: tuple[float, float, float, float] | None = None

    def _tree(self, now_s: float) -> list[Any]:
        import psutil

        if self._proc is None:
            self._proc = psutil.Process()
        if now_s - self._children_s >= self.refresh_s:
            try:
                self._children = self._proc.children(recursive=True)
            except psutil.Error:
                self._children = []
            self._children_s = now_s
        return [self._proc, *self._children]

    def _counters(self, now_s: float) -> tuple[float, float, float, float]:
        """(tree CPU s, machine busy CPU s, tree RSS bytes, machine used bytes)."""
        import psutil

        cpu_s = rss = 0.0
        for i, proc in enumerate(self._tree(now_s)):
            try:
                t = proc.cpu_times()
                cpu_s += t.user + t.system + (t.children_user + t.children_system if i == 0 else 0.0)
                rss += proc.memory_info().rss
            except psutil.Error:
                continue
        busy_s, _ = psutil_cpu_s()  # the machine's busy CPU seconds, as the CPU model's fallback reads them
        return cpu_s, busy_s, rss, machine_ram_used_gb() * BYTES_PER_GB

    def restart(self) -> None:
        """Forget the previous counters: the next call starts a fresh interval."""
        self._last, self._cache_s = None, None

    def shares(self, now_s: float) -> tuple[float, float]:
        """(cpu share, ram share) over the interval since the previous call, each 0..1."""
        if now_s == self._cache_s:
            return self._cache
        counters = self._counters(now_s)
        cpu_s, busy_s, rss, used = counters
        cpu_share = self._cache[0]
        if self._last is not None:
            d_cpu, d_busy = cpu_s - self._last[0], busy_s - self._last[1]
            if d_busy > 0:
                cpu_share = min(1.0, max(0.0, d_cpu / d_busy))
        ram_share = min(1.0, rss / used) if used > 0 else 0.0
        self._last = counters
        self._cache_s, self._cache = now_s, (cpu_share, ram_share)
        return self._cache


class ScopedSource:
    """The share of a machine source attributed to the process tree, as a cumulative reading."""

    scope = "process"

    def __init__(self, inner: Any, share: ProcessShare) -> None:
        self.inner = inner
        self.component = inner.component
        self.device = inner.device
        self.method = f"{inner.method}+process-share"
        self.measured = inner.measured
        self._share = share
        self._index = 0 if inner.component == "cpu" else 1
        self._users = 0
        self._last: Reading | None = None
        self._total = Reading(0.0, 0.0, 0.0)

    def enable(self) -> None:
        self._users += 1
        if self._users == 1:
            self._last = None
            self._share.restart()

    def disable(self) -> None:
        self._users = max(0, self._users - 1)

    def read(self, now_s: float) -> Reading:
        if not self._users:
            return self._total
        reading = self.inner.read(now_s)
        share = self._share.shares(now_s)[self._index]
        if self._last is not None:
            self._total = Reading(*(t + (r - l) * share for t, r, l in zip(self._total, reading, self._last)))
        self._last = reading
        return self._total

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<ScopedSource process share of {self.inner!r}>"


def process_views(sources: list[Any], refresh_s: float) -> list[ScopedSource]:
    """One process-scope view per CPU and RAM source, sharing one ProcessShare."""
    share = ProcessShare(refresh_s)
    return [ScopedSource(s, share) for s in sources if s.component in ("cpu", "ram")]
