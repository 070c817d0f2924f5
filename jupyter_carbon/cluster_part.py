"""The cluster part of a record: what a window was charged on each host of a Dask cluster.

Plain frozen dataclasses with ``to_dict``/``from_dict`` (JSON-able): ``record.cluster`` holds
one, and it travels through the log and exports unchanged. Units are in the names. Measuring the
cluster (:mod:`jupyter_carbon.cluster`) builds them; the record only carries them.

Per host, the window's host energy ``host_j`` is split by task thread-seconds (see
:mod:`jupyter_carbon.cluster.attribute`): ``energy_j`` is this window's share (charged),
``others_j`` the share of other clients' tasks, ``idle_j`` the unused threads' share (shown,
never charged to a cell). ``energy_j + others_j + idle_j == host_j``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .energy import Energy, EnergyFields
from .units import finite_number

__all__ = ["HostPart", "ClusterPart"]

_BAND = ("energy_j", "low_j", "high_j")  # an Energy's fields in the dict form


@dataclass(frozen=True)
class HostPart(EnergyFields):
    """One host's part of one window. Units: J, s."""

    host: str
    energy: Energy  # charged to the window: its tasks' share of the host's energy
    measured: bool  # every source of the host is a hardware counter or sensor
    methods: tuple[str, ...]  # e.g. ("rapl",) or ("cpu-model", "ram-model")
    host_j: float = 0.0  # the host's whole energy over the interval
    idle_j: float = 0.0  # energy of the host's unused threads (not charged)
    others_j: float = 0.0  # energy of other clients' tasks on the host (not charged)
    task_s: float = 0.0  # thread-seconds of the window's own tasks on the host
    busy_share: float = 0.0  # all tasks' thread-seconds / the host's thread capacity, 0..1
    workers: int = 0
    late: bool = False  # work that completed after the window closed
    flags: tuple[str, ...] = ()
    #: the flags that report a worker or meter event (a worker died, a meter started mid-window),
    #: for the cluster's status; known while the session runs, not stored (they are in ``flags``)
    incidents: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        e = self.energy
        out: dict[str, Any] = {
            "host": self.host,
            "energy_j": e.energy_j,
            "low_j": e.low_j,
            "high_j": e.high_j,
        }
        for f in fields(self):
            if f.name not in ("host", "energy", "incidents"):
                out[f.name] = getattr(self, f.name)
        out["methods"], out["flags"] = list(self.methods), list(self.flags)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HostPart:
        """The part of ``to_dict``'s form; ValueError naming the first bad field (logs may be
        damaged)."""
        if not isinstance(data, Mapping):
            raise ValueError("cluster.hosts[]: expected an object")
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "energy":
                band = [finite_number(data[n], f"cluster.hosts[].{n}") for n in _BAND if n in data]
                if len(band) == len(_BAND):
                    values["energy"] = Energy(*band)
                continue
            if f.name not in data or f.name == "incidents":
                continue
            value = data[f.name]
            if f.name in ("methods", "flags"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"cluster.hosts[].{f.name}: expected a list of text")
                value = tuple(value)
            elif f.name == "host":
                if not isinstance(value, str):
                    raise ValueError("cluster.hosts[].host: expected text")
            elif f.name in ("measured", "late"):
                if not isinstance(value, bool):
                    raise ValueError(f"cluster.hosts[].{f.name}: expected true or false")
            elif f.name == "workers":
                if type(value) is not int or value < 0:
                    raise ValueError("cluster.hosts[].workers: expected a whole number")
            else:
                value = finite_number(value, f"cluster.hosts[].{f.name}")
            values[f.name] = value
        return cls(**values)

    @property
    def how(self) -> str:
        kind = "measured" if self.measured else "estimated"
        return f"{kind} ({'/'.join(self.methods) or 'no source'})"


@dataclass(frozen=True)
class ClusterPart:
    """All hosts' parts of one window, and what is still outstanding."""

    hosts: tuple[HostPart, ...] = ()
    #: the cell's futures not finished when it closed: charged later, to this record's cell
    pending_futures: int = 0
    #: the record this part completes (a "completed later" part, or the share of a record whose
    #: part ``follows``), else None
    late_for: int | None = None
    #: measured after the window ended: no hosts here, the window's share is the part of the
    #: record whose ``late_for`` is this record's id
    follows: bool = False
    flags: tuple[str, ...] = ()
    scheduler: str = ""

    @property
    def energy(self) -> Energy:
        """Charged to the window, all hosts, with its band."""
        return Energy.total(h.energy for h in self.hosts)

    @property
    def energy_j(self) -> float:
        return self.energy.energy_j

    @property
    def low_j(self) -> float:
        return self.energy.low_j

    @property
    def high_j(self) -> float:
        return self.energy.high_j

    @property
    def idle_j(self) -> float:
        return sum(h.idle_j for h in self.hosts)

    @property
    def measured(self) -> bool:
        return bool(self.hosts) and all(h.measured for h in self.hosts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hosts": [h.to_dict() for h in self.hosts],
            "energy_j": self.energy_j,
            "idle_j": self.idle_j,
            "pending_futures": self.pending_futures,
            "late_for": self.late_for,
            "follows": self.follows,
            "flags": list(self.flags),
            "scheduler": self.scheduler,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClusterPart:
        """The part of ``to_dict``'s form; ValueError naming the first bad field."""
        hosts, flags, pending, late_for = (
            data.get("hosts", []),
            data.get("flags", []),
            data.get("pending_futures", 0),
            data.get("late_for"),
        )
        if not isinstance(hosts, list):
            raise ValueError("cluster.hosts: expected a list")
        if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
            raise ValueError("cluster.flags: expected a list of text")
        if type(pending) is not int or (late_for is not None and type(late_for) is not int):
            raise ValueError("cluster.pending_futures/late_for: expected whole numbers")
        follows = data.get("follows", False)
        if not isinstance(follows, bool):
            raise ValueError("cluster.follows: expected true or false")
        return cls(
            hosts=tuple(HostPart.from_dict(h) for h in hosts),
            pending_futures=pending,
            late_for=late_for,
            follows=follows,
            flags=tuple(flags),
            scheduler=str(data.get("scheduler", "")),
        )
