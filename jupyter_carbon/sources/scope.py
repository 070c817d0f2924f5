"""Process and container scopes: attribute machine energy to this kernel, or to its cgroup.

Process scope
-------------

Attribution rule, per read interval: CPU energy × (CPU seconds of the process tree / busy CPU
seconds of the machine), RAM energy × (resident memory of the process tree / memory in use).
GPU energy stays whole-device: NVML reports no per-process energy. Children that have exited and
been waited for (multiprocessing pools, subprocess) keep counting through ``children_user`` and
``children_system``; live children are listed at most once per ``refresh_s``.

A :class:`ScopedSource` is a *view* of a machine source. It costs nothing while no window needs
it: it is enabled (reference-counted) by the sampler for the lifetime of process-scope windows,
and only then reads the process tree.

Container scope
---------------
When the kernel runs in a cgroup (:mod:`.cgroup`), the cgroup is charged as if it were a machine
of its own size: ``n`` CPUs (its quota, cpuset or SLURM allocation) and its working-set memory.

* CPU model: a :class:`~.cpu_model.CpuModelSource` sized to ``n`` CPUs (the host's TDP per CPU
  × ``n``) whose utilisation is the cgroup's CPU time over ``n`` × wall time.
* RAM model: a :class:`~.ram_model.RamModelSource` over the cgroup's memory in use.
* Measured sources (RAPL, user-set watts): the host's energy split the same way, per read
  interval: CPU × (``i``·n·dt + (1−i)·cgroup CPU s) / (``i``·N·dt + (1−i)·host busy
  CPU s), with ``i`` the model's idle share of full-load power and ``N`` the host's CPUs (idle
  power split by CPU count, the rest by CPU time); RAM × cgroup memory / host memory in use. When
  the host's power follows the model's line, this equals the sized model exactly, so a sleeping
  cell costs the same whatever the neighbours run.
* GPU: whole visible devices, as in every scope.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .base import EnergySource, Reading
from .cgroup import Cgroup, CgroupUnavailable, find_cgroup, parse_cpu_usage_s
from .cpu_model import TDP_CURVE, CpuModelSource, machine_cpu_s, psutil_cpu_s
from .pread import PreadFile
from .ram_model import BYTES_PER_GB, RamModelSource, machine_ram_used_gb

if TYPE_CHECKING:
    import psutil

    from .detect import Detection

__all__ = [
    "ProcessShare",
    "ScopedSource",
    "ContainerShare",
    "CgroupCpu",
    "container_sources",
    "meters",
]


class _Share(Protocol):
    """What a :class:`ScopedSource` asks of its share (:class:`ProcessShare`,
    :class:`ContainerShare`)."""

    def restart(self) -> None: ...

    def shares(self, now_s: float) -> tuple[float, float]: ...


class ProcessShare:
    def __init__(self, refresh_s: float = 1.0) -> None:
        self.refresh_s = refresh_s
        self._proc: psutil.Process | None = None
        self._children: list[psutil.Process] = []
        self._children_s = float("-inf")
        self._cache_s: float | None = None
        self._cache: tuple[float, float] = (1.0, 1.0)
        self._last: tuple[float, float, float, float] | None = None

    def _tree(self, now_s: float) -> list[psutil.Process]:
        import psutil  # ~10 ms: loaded in process scope only, not at %load_ext

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
        import psutil  # see _tree

        cpu_s = rss = 0.0
        for i, proc in enumerate(self._tree(now_s)):
            try:
                t = proc.cpu_times()
                cpu_s += (
                    t.user + t.system + (t.children_user + t.children_system if i == 0 else 0.0)
                )
                rss += proc.memory_info().rss
            except psutil.Error:
                continue
        # the machine's busy CPU seconds, as the CPU model's fallback reads them
        busy_s, _ = psutil_cpu_s()
        return cpu_s, busy_s, rss, machine_ram_used_gb() * BYTES_PER_GB

    def restart(self) -> None:
        """Forget the previous counters: the next call starts a fresh interval."""
        self._last, self._cache_s = None, None

    def relist_children(self) -> None:
        """List the live children again at the next call, however recent the last listing."""
        self._children_s = float("-inf")

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
    """The share of a machine source attributed to the process tree (or cgroup), as a cumulative
    reading."""

    def __init__(self, inner: EnergySource, share: _Share, scope: str = "process") -> None:
        self.inner = inner
        self.scope = scope
        self.component = inner.component
        self.device = inner.device
        self.method = f"{inner.method}+{'process' if scope == 'process' else 'cgroup'}-share"
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
            self._total += (reading - self._last) * share
        self._last = reading
        return self._total

    def close(self) -> None:
        """The share's open files (a container's counters), if it has any; the machine source
        beside it is closed on its own."""
        close = getattr(self._share, "close", None)
        if close is not None:
            close()

    def __repr__(self) -> str:
        return f"<ScopedSource {self.scope} share of {self.inner!r}>"


def process_views(sources: list[EnergySource], refresh_s: float) -> list[ScopedSource]:
    """One process-scope view per CPU and RAM source, sharing one ProcessShare."""
    share = ProcessShare(refresh_s)
    return [ScopedSource(s, share) for s in sources if s.component in ("cpu", "ram")]


# --- container scope --------------------------------------------------------------------------


class CgroupCpu:
    """(busy, total) CPU seconds of a cgroup sized ``cpus``: its CPU time, and ``cpus`` × wall
    time.

    ``takes_time``: the model passes the time of its read, so the wall time is the sampler's clock.
    """

    takes_time = True

    def __init__(self, cgroup: Cgroup, cpus: float, now_s: float | None = None) -> None:
        self.cgroup, self.cpus = cgroup, cpus
        self.usage_s = CgroupUsage(cgroup)
        self(now_s)  # fail at detection, not at the first window

    def __call__(self, now_s: float | None = None) -> tuple[float, float]:
        return self.usage_s(), self.cpus * (time.monotonic() if now_s is None else now_s)

    def close(self) -> None:
        self.usage_s.close()


class CgroupUsage:
    """The cgroup's CPU seconds, its counter file kept open and re-read with ``pread`` (window
    path)."""

    def __init__(self, cgroup: Cgroup) -> None:
        if cgroup.cpu_usage_file is None:
            cgroup.cpu_usage_s()  # raises, saying why
        assert cgroup.cpu_usage_file is not None
        self.version = cgroup.version
        self._file = PreadFile(cgroup.cpu_usage_file)

    def __call__(self) -> float:
        return parse_cpu_usage_s(self._file.read(1024), self.version)

    def close(self) -> None:
        self._file.close()


class ContainerShare:
    """(cpu share, ram share) of the host's measured energy that belongs to a cgroup, per
    interval."""

    def __init__(
        self,
        cgroup: Cgroup,
        idle_share: float = TDP_CURVE.idle_share,
        host_cpu_s: Callable[[], tuple[float, float]] | None = None,
        ram_used_gb: Callable[[], float] = machine_ram_used_gb,
        refresh_s: float = 1.0,
    ) -> None:
        self.cgroup = cgroup
        #: memory in use changes slowly: the RAM share (three file reads) is re-read at most this
        #: often
        self.refresh_s = refresh_s
        self._ram_read_s = float("-inf")
        self.idle_share = idle_share
        self._usage_s = CgroupUsage(cgroup)
        self._host_cpu_s = host_cpu_s or machine_cpu_s()
        self._ram_used_gb = ram_used_gb
        self._cache_s: float | None = None
        self._cache = (0.0, 0.0)
        self._last: tuple[float, float, float] | None = None

    def restart(self) -> None:
        self._last, self._cache_s, self._ram_read_s = None, None, float("-inf")

    def close(self) -> None:
        """Close the cgroup's CPU counter and the machine's CPU reader (idempotent: shared by the
        CPU and RAM views)."""
        self._usage_s.close()
        close = getattr(self._host_cpu_s, "close", None)
        if close is not None:
            close()

    def shares(self, now_s: float) -> tuple[float, float]:
        if now_s == self._cache_s:
            return self._cache
        cg = self.cgroup
        counters = (now_s, self._usage_s(), self._host_cpu_s()[0])
        cpu_share = self._cache[0]
        if self._last is not None:
            dt, d_cg, d_busy = (now - then for now, then in zip(counters, self._last))
            i = self.idle_share
            whole = i * cg.host_cpus * dt + (1 - i) * d_busy
            if whole > 0:
                cpu_share = min(1.0, max(0.0, (i * cg.cpus * dt + (1 - i) * d_cg) / whole))
        ram_share = self._cache[1]
        if cg.memory_dir is not None and now_s - self._ram_read_s >= self.refresh_s:
            used_bytes = self._ram_used_gb() * BYTES_PER_GB
            ram_share = min(1.0, cg.memory_used_bytes() / used_bytes) if used_bytes > 0 else 0.0
            self._ram_read_s = now_s
        self._last = counters
        self._cache_s, self._cache = now_s, (cpu_share, ram_share)
        return self._cache


def container_sources(
    sources: list[EnergySource], cgroup: Cgroup, now_s: float, refresh_s: float = 1.0
) -> tuple[list[EnergySource], list[str]]:
    """Container-scope sources for the CPU and RAM ``sources`` of the machine, and notes on how.

    Raises when the cgroup's CPU counter cannot be read (the caller reports why).
    """
    cpus = cgroup.cpus
    out: list[EnergySource] = []
    notes: list[str] = []
    share: ContainerShare | None = None
    for source in sources:
        if source.component not in ("cpu", "ram"):
            continue
        if isinstance(source, CpuModelSource):
            tdp_w = source.tdp_w * cpus / cgroup.host_cpus
            scoped: Any = CpuModelSource(
                tdp_w,
                now_s,
                device=f"{cpus:g} of {cgroup.host_cpus} CPUs",
                cpu_s=CgroupCpu(cgroup, cpus, now_s),
                curve=source.curve,
            )
            notes.append(
                f"container CPU model sized to {cpus:g} of the host's {cgroup.host_cpus} CPUs "
                f"({tdp_w:.3g} W at the model's full scale)"
            )
        elif isinstance(source, RamModelSource) and cgroup.memory_dir is not None:
            cgroup.memory_used_bytes()  # fail now if unreadable
            scoped = RamModelSource(
                now_s,
                used_gb=lambda: cgroup.memory_used_bytes() / BYTES_PER_GB,
                refresh_s=refresh_s,
            )
            scoped.device = "cgroup memory"
        elif source.component == "ram" and cgroup.memory_dir is None:
            scoped = ScopedSource(source, ProcessShare(refresh_s), scope="container")
            scoped.enable()
            notes.append(
                "no cgroup memory counter: container RAM is the kernel's process tree share"
            )
        else:
            share = share or ContainerShare(cgroup, refresh_s=refresh_s)
            scoped = ScopedSource(source, share, scope="container")
            scoped.enable()  # always on: container views are the default scope's sources
        scoped.scope = "container"
        out.append(scoped)
    return out, notes


def probe_container(
    found: Detection, root: str, scope: str, refresh_s: float, now_s: float
) -> None:
    """Find the kernel's cgroup under ``root`` and add its container-scope sources to a Detection
    (when it limits the kernel, or ``scope`` is ``container``); never raises."""
    try:
        cgroup = find_cgroup(root)
        found.cgroup = cgroup
        if not cgroup.limited and scope != "container":
            return  # nothing to attribute: no container sources to read at every window
        scoped, notes = container_sources(found.sources, cgroup, now_s, refresh_s=refresh_s)
    except CgroupUnavailable as exc:
        found.cgroup, found.skipped["cgroup"] = None, str(exc)
        return
    except Exception as exc:  # unreadable counters: no container scope, say why
        found.cgroup, found.skipped["cgroup"] = (
            None,
            f"cgroup counters under {root} unreadable ({type(exc).__name__}: {exc})",
        )
        return
    found.scoped = scoped
    found.notes.extend(notes)


def meters(cgroup: Cgroup | None) -> dict[str, str]:
    """What a window of each scope measures, as a path (the record's ``meter``): the machine
    (its host name), a container on it (its cgroup), a process with its children on it (its pid,
    taken when the session starts: a forked worker's windows are inside its parent's process).
    Windows of one meter measure the same energy, and a meter's energy includes that of the
    meters below it; windows of other meters (two kernels in process scope) measure different
    energy (``jupyter_carbon.totals``)."""
    host = socket.gethostname().replace("/", "_")
    out = {"machine": host, "process": f"{host}/pid:{os.getpid()}"}
    if cgroup is not None:
        out["container"] = f"{host}/cgroup:{cgroup.path}"
    return out


def resolve_scope(
    requested: str | None, cgroup: Cgroup | None, has_container: bool
) -> tuple[str, str]:
    """(scope used, why) for a requested scope: ``auto`` (or None), ``machine``, ``process`` or
    ``container``."""
    if requested in (None, "", "auto"):
        if cgroup is not None and cgroup.limited and has_container:
            return "container", f"auto: the kernel runs in a limiting cgroup ({cgroup.describe()})"
        if cgroup is None:
            return "machine", "auto: no cgroup found"
        return "machine", f"auto: no CPU or memory limit on {cgroup.where}"
    if requested == "container":
        if has_container:
            assert cgroup is not None  # container sources come from a cgroup
            return "container", f"set by the user ({cgroup.describe()})"
        if cgroup is not None and not cgroup.limited:
            return (
                "machine",
                f"container scope asked for, but {cgroup.describe()}: "
                "the whole machine (set scope=container to charge the cgroup)",
            )
        return (
            "machine",
            "container scope asked for, but no readable cgroup counters: whole machine",
        )
    return requested, "set by the user"
