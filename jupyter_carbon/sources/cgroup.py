"""The Linux control group this kernel runs in: its CPU and memory limits and its usage counters.

Containers (Docker, Kubernetes pods, Binder, SageMaker) and batch jobs (SLURM's cgroup plugin)
run a kernel in a cgroup that may use only a slice of the host: a CPU quota, a cpuset or a memory
limit. The kernel still sees the host's CPUs in ``/proc``, so the machine-wide figures charge it
for its neighbours' work. This module finds the cgroup and reads what the ``container`` scope
needs: how many CPUs it may use, its CPU time and its memory in use.

Layouts (``root`` defaults to ``/sys/fs/cgroup`` and is a setting, so tests use fake trees):

* cgroup v2 (unified): ``root/cgroup.controllers`` exists; ``/proc/self/cgroup`` has one line
  ``0::/path``. Files: ``cpu.max`` (``max 100000`` or ``quota period``), ``cpuset.cpus.effective``,
  ``memory.max``, ``cpu.stat`` (``usage_usec``), ``memory.current``, ``memory.stat``.
* cgroup v1: one folder per controller, possibly co-mounted (``root/cpu,cpuacct``); lines
  ``4:cpu,cpuacct:/path``. Files: ``cpu.cfs_quota_us``/``cpu.cfs_period_us``, ``cpuset.cpus``,
  ``memory.limit_in_bytes``, ``cpuacct.usage`` (ns), ``memory.usage_in_bytes``, ``memory.stat``.

Inside a container with its own cgroup namespace (Docker's default on v2) the path reads ``/``
and the container's cgroup is mounted at ``root`` itself; without one (v1 Docker) the path names
the host's cgroup (``/docker/<id>``) that is not found under ``root``, where the container's own
cgroup is mounted: either way, a path not found under a mount means the mount is the cgroup.

Limits are the tightest along the path from the cgroup up to the mount (Kubernetes puts the
pod's limit on the parent of the container's cgroup). Memory in use is the working set: usage
minus inactive page cache, as ``kubectl top`` and ``docker stats`` count it.

Hostile or broken files are refused, never taken as limits: a quota or period that is not a
positive number (``cpu.max "-100000 100000"``, ``"0 100000"``, a period of 0), a cpuset that
is not a list of ascending ranges (``7-0``), a memory limit of 0 or below (``-1``). Each refusal
is kept in ``Cgroup.refused`` with its reason (shown by ``describe``). A ``/proc/self/cgroup``
path that leaves the cgroup mount (``/../../etc``) is refused: nothing outside it is read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .pread import read_small

__all__ = [
    "Cgroup",
    "find_cgroup",
    "CgroupUnavailable",
    "slurm_cpus",
    "parse_cpu_list",
    "parse_cpu_usage_s",
]

#: v1 reports "no limit" as a huge number (PAGE_COUNTER_MAX rounded to pages).
_V1_UNLIMITED = 2**60


class CgroupUnavailable(Exception):
    """Why no cgroup counters can be read, in one line."""


def _read(path: Path) -> str | None:
    """A small file's text, or None; a FIFO or device in its place is refused, never waited on."""
    try:
        return read_small(path, 8192).decode("ascii", "replace").strip()
    except (OSError, ValueError):
        return None


def parse_cpu_list(text: str) -> int:
    """Number of CPUs in a list such as ``0-3,8,10-11`` (cpuset format); raises ValueError for
    anything else (``7-0``, ``-3``)."""
    count = 0
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise ValueError(f"{part!r} is not a CPU number or range")
        if high and int(high) < int(low):
            raise ValueError(f"{part!r} is a range that runs backwards")
        count += int(high) - int(low) + 1 if high else 1
    return count


def parse_cpu_usage_s(data: bytes, version: int) -> float:
    """CPU seconds from ``cpu.stat`` (v2, ``usage_usec`` line) or ``cpuacct.usage`` (v1, ns)."""
    if version == 1:
        return int(data) / 1e9
    for line in data.splitlines():
        if line.startswith(b"usage_usec "):
            return int(line[11:]) / 1e6
    raise ValueError("cpu.stat has no usage_usec line")


def slurm_cpus(environ: Mapping[str, str]) -> int | None:
    """CPUs SLURM allocated to this job on this node, from its environment (``None`` outside a
    job)."""
    if "SLURM_JOB_ID" not in environ:
        return None
    for key in ("SLURM_CPUS_ON_NODE", "SLURM_JOB_CPUS_PER_NODE"):
        text = environ.get(key, "")
        digits = text.split("(")[0].split(",")[0].strip()  # "4(x2)" or "4,2": this node's first
        if digits.isdigit() and int(digits) > 0:
            return int(digits)
    return None


def _host_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


@dataclass(frozen=True)
class Cgroup:
    """A cgroup found for this process, with its limits (``None``: no limit) and counter files."""

    version: int
    path: str
    cpu_usage_file: Path | None
    memory_dir: Path | None
    host_cpus: int
    quota_cpus: float | None = None
    cpuset_cpus: int | None = None
    memory_limit_bytes: int | None = None
    slurm_cpus: int | None = None
    slurm_job: str | None = None
    limits: tuple[str, ...] = field(default=())
    #: values in the cgroup's files that are not limits, each with why (``memory.max -1: …``)
    refused: tuple[str, ...] = field(default=())

    @property
    def limited(self) -> bool:
        """True when something restricts the kernel to a slice of the host."""
        return bool(self.limits)

    @property
    def cpus(self) -> float:
        """CPUs the cgroup may use: the tightest of quota, cpuset and SLURM allocation, else the
        host's."""
        known = [c for c in (self.quota_cpus, self.cpuset_cpus, self.slurm_cpus) if c]
        return min([*known, float(self.host_cpus)])

    @property
    def where(self) -> str:
        """``cgroup v2 /kubepods/pod1/c1`` (``SLURM job 42, cgroup v1 …`` in a job)."""
        where = f"cgroup v{self.version} {self.path}"
        return f"SLURM job {self.slurm_job}, {where}" if self.slurm_job else where

    def describe(self) -> str:
        """``cgroup v2 /kubepods/pod1/c1: CPU quota 2, memory limit 4 GiB``"""
        text = (
            f"{self.where}: {', '.join(self.limits) if self.limits else 'no CPU or memory limit'}"
        )
        return f"{text} (ignored: {'; '.join(self.refused)})" if self.refused else text

    # --- counters ----------------------------------------------------------------------------

    def cpu_usage_s(self) -> float:
        """CPU seconds used by every process in the cgroup since it was created."""
        if self.cpu_usage_file is None:
            raise CgroupUnavailable("no CPU usage counter for this cgroup")
        text = _read(self.cpu_usage_file)
        if text is None:
            raise OSError(f"cannot read {self.cpu_usage_file}")
        return parse_cpu_usage_s(text.encode(), self.version)

    def memory_used_bytes(self) -> int:
        """Working set of the cgroup: memory in use minus inactive page cache."""
        if self.memory_dir is None:
            raise CgroupUnavailable("no memory controller for this cgroup")
        name, inactive_key = (
            ("memory.current", "inactive_file")
            if self.version == 2
            else ("memory.usage_in_bytes", "total_inactive_file")
        )
        text = _read(self.memory_dir / name)
        if text is None:
            raise OSError(f"cannot read {self.memory_dir / name}")
        used = int(text)
        for line in (_read(self.memory_dir / "memory.stat") or "").splitlines():
            key, _, value = line.partition(" ")
            if key == inactive_key:
                used -= int(value)
                break
        return max(0, used)


# --- finding it -----------------------------------------------------------------------------


def _own_paths(proc_cgroup: str) -> tuple[str | None, dict[str, str]]:
    """(v2 path, {v1 controller: path}) from ``/proc/self/cgroup``."""
    v2, v1 = None, {}
    text = _read(Path(proc_cgroup))
    if text is None:
        raise CgroupUnavailable(f"cannot read {proc_cgroup} (not Linux?)")
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            v2 = path
        else:
            for controller in controllers.split(","):
                v1[controller] = path
    return v2, v1


def _v1_mount(root: Path, controller: str) -> Path | None:
    """The folder where a v1 controller is mounted: ``root/cpu`` or a co-mount
    ``root/cpu,cpuacct``."""
    direct = root / controller
    if direct.is_dir():
        return direct
    try:
        for entry in sorted(os.listdir(root)):
            if controller in entry.split(",") and (root / entry).is_dir():
                return root / entry
    except OSError:
        pass
    return None


def _cgroup_dir(mount: Path, path: str) -> Path:
    mount = Path(os.path.normpath(mount))
    own = Path(os.path.normpath(mount / path.lstrip("/")))
    if own != mount and mount not in own.parents:
        raise CgroupUnavailable(
            f"/proc/self/cgroup names {path!r}, which leaves the cgroup mount {mount}: refused"
        )
    return own if own.is_dir() else mount  # namespaced: the mount is the cgroup


def _ancestors(directory: Path, mount: Path) -> list[Path]:
    """``directory`` and its parents up to and including ``mount``."""
    chain = [directory]
    while chain[-1] != mount and mount in chain[-1].parents:
        chain.append(chain[-1].parent)
    return chain


def _positive(text: str) -> int | None:
    return int(text) if text.isdigit() and int(text) > 0 else None


def _quota_v2(directory: Path, refused: list[str]) -> float | None:
    text = _read(directory / "cpu.max")
    if not text:
        return None
    quota, _, period = text.partition(" ")
    if quota == "max":
        return None
    cpus, periods = _positive(quota), _positive(period or "100000")
    if cpus is None or periods is None:
        refused.append(f"cpu.max {text!r}: not a positive quota and period")
        return None
    return cpus / periods


def _quota_v1(directory: Path, refused: list[str]) -> float | None:
    quota, period = _read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")
    if not quota or not period or quota == "-1":  # -1: no quota
        return None
    cpus, periods = _positive(quota), _positive(period)
    if cpus is None or periods is None:
        refused.append(f"cpu.cfs_quota_us {quota!r} / cpu.cfs_period_us {period!r}: not positive")
        return None
    return cpus / periods


def _bytes_limit(text: str | None, name: str, refused: list[str]) -> int | None:
    if not text or text == "max":
        return None
    value = _positive(text)
    if value is None:
        refused.append(f"{name} {text!r}: not a positive number of bytes")
        return None
    return None if value >= _V1_UNLIMITED else value


def _cpuset(text: str | None, name: str, refused: list[str]) -> int | None:
    if not text:
        return None
    try:
        count = parse_cpu_list(text)
    except ValueError as exc:
        refused.append(f"{name} {text!r}: {exc}")
        return None
    return count or None


def _tightest(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def find_cgroup(
    root: str | os.PathLike[str] = "/sys/fs/cgroup",
    proc_cgroup: str = "/proc/self/cgroup",
    environ: Mapping[str, str] | None = None,
    host_cpus: int | None = None,
    host_memory_bytes: int | None = None,
) -> Cgroup:
    """The cgroup of this process under ``root``, or raise :class:`CgroupUnavailable` saying why."""
    root = Path(root)
    environ = os.environ if environ is None else environ
    host_cpus = host_cpus or os.cpu_count() or 1
    host_memory_bytes = _host_memory_bytes() if host_memory_bytes is None else host_memory_bytes
    v2_path, v1_paths = _own_paths(proc_cgroup)
    quotas: list = []
    cpusets: list = []
    memory_limits: list = []
    refused: list[str] = []

    if (root / "cgroup.controllers").is_file() and v2_path is not None:
        version, path = 2, v2_path
        directory = _cgroup_dir(root, path)
        chain = _ancestors(directory, root)
        cpu_usage_file = directory / "cpu.stat" if (directory / "cpu.stat").is_file() else None
        memory_dir = directory if (directory / "memory.current").is_file() else None
        for d in chain:
            quotas.append(_quota_v2(d, refused))
            memory_limits.append(_bytes_limit(_read(d / "memory.max"), "memory.max", refused))
        name = "cpuset.cpus.effective"
        cpusets.append(_cpuset(_read(directory / name), name, refused))
    elif v1_paths:
        version = 1
        path = (
            v1_paths.get("cpuacct")
            or v1_paths.get("cpu")
            or v1_paths.get("memory")
            or next(iter(v1_paths.values()))
        )
        cpu_usage_file = memory_dir = None
        mounts = {
            c: _v1_mount(root, c) for c in ("cpu", "cpuacct", "cpuset", "memory") if c in v1_paths
        }
        if not any(mounts.values()):
            raise CgroupUnavailable(f"no cgroup controller of this process mounted under {root}")
        for controller, mount in mounts.items():
            if mount is None:
                continue
            directory = _cgroup_dir(mount, v1_paths[controller])
            chain = _ancestors(directory, mount)
            if controller == "cpu":
                quotas.extend(_quota_v1(d, refused) for d in chain)
            elif controller == "cpuacct" and (directory / "cpuacct.usage").is_file():
                cpu_usage_file = directory / "cpuacct.usage"
            elif controller == "cpuset":
                cpusets.append(_cpuset(_read(directory / "cpuset.cpus"), "cpuset.cpus", refused))
            elif controller == "memory":
                memory_dir = directory if (directory / "memory.usage_in_bytes").is_file() else None
                name = "memory.limit_in_bytes"
                memory_limits.extend(_bytes_limit(_read(d / name), name, refused) for d in chain)
    else:
        raise CgroupUnavailable(f"no cgroup of this process found under {root}")

    quota, tightest_cpuset, tightest_memory = (
        _tightest(quotas),
        _tightest(cpusets),
        _tightest(memory_limits),
    )
    cpuset = None if tightest_cpuset is None else int(tightest_cpuset)
    memory_limit = None if tightest_memory is None else int(tightest_memory)
    if cpuset is not None and cpuset >= host_cpus:
        cpuset = None  # every CPU: no restriction
    if memory_limit is not None and host_memory_bytes and memory_limit >= host_memory_bytes:
        memory_limit = None
    slurm = slurm_cpus(environ)
    limits = []
    if quota is not None and quota < host_cpus:
        limits.append(f"CPU quota {quota:g}")
    else:
        quota = None
    if cpuset is not None:
        limits.append(f"cpuset of {cpuset} CPUs")
    if slurm is not None and slurm < host_cpus:
        limits.append(f"{slurm} CPUs allocated by SLURM")
    if memory_limit is not None:
        limits.append(f"memory limit {memory_limit / 1024**3:.3g} GiB")
    return Cgroup(
        version=version,
        path=path,
        cpu_usage_file=cpu_usage_file,
        memory_dir=memory_dir,
        host_cpus=host_cpus,
        quota_cpus=quota,
        cpuset_cpus=cpuset,
        memory_limit_bytes=memory_limit,
        slurm_cpus=slurm if slurm is not None and slurm < host_cpus else None,
        slurm_job=environ.get("SLURM_JOB_ID") if slurm is not None else None,
        limits=tuple(limits),
        refused=tuple(dict.fromkeys(refused)),
    )
