"""The immutable record of one measured window (a notebook cell, a ``track()`` block).

A record is a frozen, slotted dataclass: energy is stored per device with its method; the
per-component and total figures, CO2e and the uncertainty band are derived on demand. Its
mappings (``extra``, ``baseline_w``, the timeline's power) are read-only views of private copies.
``to_dict`` gives the plain JSON-able form written to the session log and the JSON export, and
``from_dict`` reads it back, checking every value (logs may be damaged or hand-edited).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from .cluster_part import ClusterPart
from .energy import Co2e, Energy, EnergyFields
from .intensity.emissions import check_pue
from .sources.base import COMPONENTS
from .textsafe import visible
from .units import co2e_g_from_j

__all__ = [
    "DeviceEnergy",
    "ComponentEnergy",
    "SessionTotals",
    "WindowRecord",
    "Timeline",
    "RECORD_SCHEMA",
    "RecordError",
    "record_name",
    "IDLE",
    "idle_seconds",
]

#: Version of the dict form (``to_dict``): a reader refuses a record of a higher one.
RECORD_SCHEMA = 3

_EMPTY: Mapping[str, Any] = MappingProxyType({})

#: The ``kind`` of an idle stretch's record (see ``WindowRecord``).
IDLE = "idle"


#: A label longer than this is cut (with ``…``) wherever a window is named: a 4 MB label must not
#: make every later cell's report or the summary megabytes long (the record keeps it whole).
MAX_NAME_CHARS = 120


def record_name(label: str | None, cell: int | None, record_id: int | None = None) -> str:
    """How a window is called everywhere: its label (control characters shown escaped: a label
    cannot recolour a terminal or forge a line; cut to ``MAX_NAME_CHARS``), else ``cell [n]``,
    else ``window #id``."""
    if label:
        return visible(label, MAX_NAME_CHARS)
    if cell is not None:
        return f"cell [{cell}]"
    return f"window #{record_id}" if record_id is not None else "window"


def idle_seconds(record: WindowRecord) -> float:
    """The idle time an idle record stands for: its own span and the short gaps carried into it."""
    gaps = record.extra.get("short_gaps")
    carried = gaps.get("duration_s", 0.0) if isinstance(gaps, Mapping) else 0.0
    return record.duration_s + (carried if isinstance(carried, (int, float)) else 0.0)


class RecordError(ValueError):
    """A dict that is not a valid record (``WindowRecord.from_dict``).

    ``field``: the field at fault (None when the whole thing is); ``newer``: written by a newer
    jupyter_carbon (a schema this one cannot read). The message is ``field: problem``.
    """

    def __init__(self, field: str | None, problem: str, *, newer: bool = False) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field
        self.newer = newer


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A read-only copy (the caller's dict can change later without changing the record)."""
    if not mapping:
        return _EMPTY
    return MappingProxyType(dict(mapping))


def _clean_text(text: str | None) -> str | None:
    """``text`` that can be encoded as UTF-8 (lone surrogates from undecodable bytes become
    U+FFFD)."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class DeviceEnergy(EnergyFields):
    """Energy of one device over a window, with its uncertainty band. Units: J."""

    component: str  # "cpu", "gpu", "ram"
    device: str  # e.g. "package-0", "gpu0 NVIDIA A100"
    method: str  # e.g. "rapl", "nvml-energy", "cpu-model"
    measured: bool  # a hardware counter or sensor (True) or a model (False)
    energy: Energy

    def to_dict(self) -> dict[str, Any]:
        e = self.energy
        return {
            "component": self.component, "device": self.device, "method": self.method,
            "measured": self.measured, "energy_j": e.energy_j, "low_j": e.low_j, "high_j": e.high_j,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Any) -> DeviceEnergy:
        d = _mapping(data, "devices[]")
        return cls(
            _str(d, "component"), _str(d, "device"), _str(d, "method"), _bool(d, "measured"),
            _energy(d),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ComponentEnergy(EnergyFields):
    """The devices of one component summed (derived from a record's devices)."""

    component: str
    energy: Energy
    methods: tuple[str, ...]
    measured: bool

    @property
    def how(self) -> str:
        """'measured (rapl)' or 'estimated (cpu-model)', for badges and text."""
        return f"{'measured' if self.measured else 'estimated'} ({'/'.join(self.methods)})"


@dataclass(frozen=True, slots=True)
class SessionTotals(EnergyFields):
    """The session so far when a record closed: overlapping windows counted once.

    ``windows``: every window closed so far, nested ones included, follow-ups not (the log's
    ``"cells"``).
    """

    windows: int
    energy: Energy
    co2e_g: float
    duration_s: float

    def to_dict(self) -> dict[str, Any]:
        e = self.energy
        return {
            "cells": self.windows, "energy_j": e.energy_j, "low_j": e.low_j, "high_j": e.high_j,
            "co2e_g": self.co2e_g, "duration_s": self.duration_s,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Any) -> SessionTotals:
        d = _mapping(data, "totals")
        return cls(_int(d, "cells"), _energy(d), _number(d, "co2e_g"), _number(d, "duration_s"))


#: The most points a timeline read from a log keeps (the sampler writes at most 2,000; a longer
#: one, from elsewhere, is thinned to this many evenly spaced points so a reader's memory stays a
#: share of the file's size).
MAX_TIMELINE_POINTS = 2048


@dataclass(frozen=True, slots=True)
class Timeline:
    """Power over a window, downsampled to a bounded number of points. Units: s and W."""

    t_s: tuple[float, ...] = ()
    power_w: Mapping[str, tuple[float, ...]] = field(default_factory=lambda: _EMPTY)

    def __post_init__(self) -> None:
        object.__setattr__(self, "t_s", tuple(self.t_s))
        object.__setattr__(self, "power_w", _frozen({k: tuple(v) for k, v in self.power_w.items()}))

    def __len__(self) -> int:
        return len(self.t_s)

    def __hash__(self) -> int:
        return hash(self.t_s)

    def to_dict(self) -> dict[str, Any]:
        return {"t_s": list(self.t_s), "power_w": {k: list(v) for k, v in self.power_w.items()}}

    @classmethod
    def from_dict(cls, data: Any) -> Timeline:
        if data is None:
            return EMPTY_TIMELINE
        d = _mapping(data, "timeline")
        t_s = _numbers(d.get("t_s", []), "timeline.t_s")
        power = _mapping(d.get("power_w", {}), "timeline.power_w")
        series = {str(k): _numbers(v, f"timeline.power_w.{k}") for k, v in power.items()}
        if any(len(v) != len(t_s) for v in series.values()):
            raise RecordError("timeline", "every power series must have one value per time point")
        if len(t_s) > MAX_TIMELINE_POINTS:  # not written by this package: keep a bounded share
            keep = _evenly_spaced(len(t_s), MAX_TIMELINE_POINTS)
            t_s = tuple(t_s[i] for i in keep)
            series = {k: tuple(v[i] for i in keep) for k, v in series.items()}
        return cls(t_s, series)


def _evenly_spaced(n: int, m: int) -> list[int]:
    """``m`` indices of ``range(n)`` spread evenly, the first and the last included (m >= 2)."""
    return [round(i * (n - 1) / (m - 1)) for i in range(m)]


EMPTY_TIMELINE = Timeline()


@dataclass(frozen=True, slots=True)
class WindowRecord:
    """The immutable record of one measured window.

    Times: ``start_utc``/``end_utc`` (wall clock, UTC) and ``start_s``/``end_s`` (the monotonic
    clock, for durations). ``kind``: "cell" (``%%carbon``), "auto" (``%carbon on``), "script"
    (``track()``), or "idle" (``IDLE``): the kernel between windows, no window open (label and
    cell None; its devices are the session's scope, so machine scope charges the machine's idle
    draw; ``extra["short_gaps"]``: ``{"count", "duration_s"}`` of stretches under a second carried
    into it, their energy included; ``extra["gpu_held"]``: ``[{"gpu", "energy_j", "power_w",
    "duration_s", "memory_mib"}]`` for each GPU the kernel's process held memory on). Idle records
    are never in a cell total. ``status``: "ok", "error", "interrupted". ``scope``: what the
    figures cover ("machine", "process", "container"), ``scope_reason`` why that scope.
    ``totals``: the session at the moment the record closed. ``cluster``: what the window was
    charged on a Dask cluster, per host (not in ``energy_j``, which is this machine's). ``extra``
    holds what add-ons attach (a loop prediction, the cell's source when ``store_source`` is on).
    ``session`` and ``meter`` say which monotonic clock ``start_s``/``end_s`` are on and what
    the energy was measured on (None in records written before them). ``source_sha1``: a hash of
    the cell's source (never the source), to compare runs.
    """

    id: int
    label: str | None
    cell: int | None
    kind: str
    start_utc: datetime
    end_utc: datetime
    start_s: float
    end_s: float
    devices: tuple[DeviceEnergy, ...]
    status: str
    flags: tuple[str, ...]
    intensity_g_per_kwh: float
    intensity_source: str
    intensity_utc: datetime | None
    pue: float
    scope: str
    totals: SessionTotals
    items: int | None = None
    task: str | None = None
    timeline: Timeline = EMPTY_TIMELINE
    baseline_w: Mapping[str, float] | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    scope_reason: str | None = None
    region: str | None = (
        None  # the electricity region of the intensity (e.g. "FR", "gcp:europe-west1")
    )
    cluster: ClusterPart | None = None  # its share of the Dask cluster its tasks ran on
    #: the session that made it (its ``start_s``/``end_s`` compare within one session only)
    session: str | None = None
    #: what its energy was measured on (``sources.scope.meters``: host, container or process)
    meter: str | None = None
    #: SHA-1 (hex) of the cell's source, to match a cell across runs without storing the source
    source_sha1: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.label is not None:
            set_(self, "label", _clean_text(self.label))
        if type(self.devices) is not tuple:
            set_(self, "devices", tuple(self.devices))
        if type(self.flags) is not tuple:
            set_(self, "flags", tuple(self.flags))
        if self.timeline is not EMPTY_TIMELINE and (self.timeline is None or not self.timeline.t_s):
            set_(self, "timeline", EMPTY_TIMELINE)
        if self.baseline_w is not None:
            set_(self, "baseline_w", _frozen(self.baseline_w))
        if self.extra is not _EMPTY:
            set_(self, "extra", _frozen(self.extra))

    # --- derived ------------------------------------------------------------------------------

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def components(self) -> dict[str, ComponentEnergy]:
        out: dict[str, ComponentEnergy] = {}
        for name in COMPONENTS:
            devs = [d for d in self.devices if d.component == name]
            if devs:
                out[name] = ComponentEnergy(
                    name,
                    Energy.total(d.energy for d in devs),
                    tuple(dict.fromkeys(d.method for d in devs)),
                    all(d.measured for d in devs),
                )
        return out

    @property
    def is_follow_up(self) -> bool:
        """A follow-up: the part of another window's work measured after it ended (its Dask
        share, work completed later: ``cluster.late_for``); its energy counts, it is no cell."""
        return self.cluster is not None and self.cluster.late_for is not None

    @property
    def energy(self) -> Energy:
        """This machine's energy over the window, all devices, with its band."""
        return Energy.total(d.energy for d in self.devices)

    @property
    def energy_j(self) -> float:
        return sum([d.energy.energy_j for d in self.devices])

    @property
    def energy_band_j(self) -> tuple[float, float]:
        energy = self.energy
        return energy.low_j, energy.high_j

    @property
    def measured(self) -> bool:
        return all(d.measured for d in self.devices)

    @property
    def measured_by_component(self) -> tuple[tuple[str, bool], ...]:
        """((component, every device of it measured), ...) in ``COMPONENTS`` order."""
        measured: dict[str, bool] = {}
        for d in self.devices:
            measured[d.component] = measured.get(d.component, True) and d.measured
        return tuple([(c, measured[c]) for c in COMPONENTS if c in measured])

    def co2e_g_of(self, energy_j: float) -> float:
        """Grams CO2e of ``energy_j`` at this record's intensity and PUE."""
        return co2e_g_from_j(energy_j, self.intensity_g_per_kwh, self.pue)

    @property
    def co2e_g(self) -> float:
        return self.co2e_g_of(self.energy_j)

    @property
    def co2e(self) -> Co2e:
        """The CO2e of :attr:`energy` at this record's intensity and PUE, with its band."""
        return self.energy.co2e(self.intensity_g_per_kwh, self.pue)

    @property
    def co2e_band_g(self) -> tuple[float, float]:
        co2e = self.co2e
        return co2e.low_g, co2e.high_g

    @property
    def marginal_energy_j(self) -> float | None:
        """Energy above the idle baseline (``%carbon baseline``), or None without one."""
        if not self.baseline_w:
            return None
        return max(0.0, self.energy_j - sum(self.baseline_w.values()) * self.duration_s)

    # --- protocol -----------------------------------------------------------------------------

    def __hash__(self) -> int:
        return hash((self.id, self.start_s, self.end_s, self.label, self.status))

    # read-only mapping views do not pickle: go through the dict form
    def __reduce__(self) -> tuple[Callable[[Any], WindowRecord], tuple[dict[str, Any]]]:
        return (WindowRecord.from_dict, (self.to_dict(),))

    def __repr__(self) -> str:
        return (
            f"WindowRecord(id={self.id}, label={self.label!r}, cell={self.cell}, "
            f"kind={self.kind!r}, status={self.status!r}, duration_s={self.duration_s:.6g}, "
            f"energy_j={self.energy_j:.6g}, co2e_g={self.co2e_g:.6g})"
        )

    def to_dict(self, *, datetimes: bool = False) -> dict[str, Any]:
        """Plain JSON-able dict: every field under its own name, then the derived ``energy_j``,
        ``co2e_g`` and ``duration_s`` for readers that do not rebuild the record (``jq``).

        Times are ISO 8601 strings; ``datetimes=True`` leaves them ``datetime`` objects for an
        encoder that writes the same text itself, faster (the log's orjson).
        """
        energy_j = self.energy_j
        start_utc: datetime | str = self.start_utc
        end_utc: datetime | str = self.end_utc
        intensity_utc: datetime | str | None = self.intensity_utc
        if not datetimes:
            start_utc, end_utc = self.start_utc.isoformat(), self.end_utc.isoformat()
            intensity_utc = None if self.intensity_utc is None else self.intensity_utc.isoformat()
        return {
            "schema": RECORD_SCHEMA,
            "id": self.id,
            "label": self.label,
            "cell": self.cell,
            "kind": self.kind,
            "status": self.status,
            "start_utc": start_utc,
            "end_utc": end_utc,
            "duration_s": self.duration_s,
            "energy_j": energy_j,
            "co2e_g": co2e_g_from_j(energy_j, self.intensity_g_per_kwh, self.pue),
            "start_s": self.start_s,
            "end_s": self.end_s,
            "devices": [d.to_dict() for d in self.devices],
            "flags": list(self.flags),
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "intensity_source": self.intensity_source,
            "intensity_utc": intensity_utc,
            "region": self.region,
            "pue": self.pue,
            "scope": self.scope,
            "scope_reason": self.scope_reason,
            "totals": self.totals.to_dict(),
            "items": self.items,
            "task": self.task,
            "timeline": self.timeline.to_dict() if self.timeline.t_s else None,
            "baseline_w": None if self.baseline_w is None else dict(self.baseline_w),
            "extra": _plain(self.extra) if self.extra else {},
            "cluster": None if self.cluster is None else self.cluster.to_dict(),
            "session": self.session,
            "meter": self.meter,
            "source_sha1": self.source_sha1,
        }

    @classmethod
    def from_dict(cls, data: Any) -> WindowRecord:
        """The record of ``to_dict``'s form; raises :class:`RecordError` naming the first field
        that is missing or not of its type (a number must be finite; PUE >= 1)."""
        d = _mapping(data, "record")
        schema = d.get("schema")
        if type(schema) is int and schema > RECORD_SCHEMA:
            raise RecordError(
                None,
                f"record schema {schema} is newer than this jupyter_carbon reads "
                f"({RECORD_SCHEMA}): upgrade jupyter-carbon",
                newer=True,
            )
        devices = d.get("devices", [])
        if not isinstance(devices, list):
            raise RecordError("devices", "expected a list")
        flags = d.get("flags", [])
        if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
            raise RecordError("flags", "expected a list of strings")
        baseline = d.get("baseline_w")
        if baseline is not None:
            watts = _mapping(baseline, "baseline_w")
            baseline = {str(k): _number(watts, k) for k in watts}
        try:
            pue = check_pue(d.get("pue"))
        except ValueError as exc:
            raise RecordError("pue", str(exc)) from None
        start_s, end_s = _number(d, "start_s"), _number(d, "end_s")
        if end_s < start_s:
            raise RecordError("end_s", "before start_s")
        return cls(
            id=_int(d, "id"),
            label=_opt(d, "label", str),
            cell=_opt(d, "cell", int),
            kind=_str(d, "kind"),
            start_utc=_time(d, "start_utc"),
            end_utc=_time(d, "end_utc"),
            start_s=start_s,
            end_s=end_s,
            devices=tuple(DeviceEnergy.from_dict(x) for x in devices),
            status=_str(d, "status"),
            flags=tuple(flags),
            intensity_g_per_kwh=_number(d, "intensity_g_per_kwh"),
            intensity_source=_str(d, "intensity_source"),
            intensity_utc=None if d.get("intensity_utc") is None else _time(d, "intensity_utc"),
            pue=pue,
            scope=_str(d, "scope"),
            totals=SessionTotals.from_dict(d.get("totals")),
            items=_opt(d, "items", int),
            task=_opt(d, "task", str),
            timeline=Timeline.from_dict(d.get("timeline")),
            baseline_w=baseline,
            extra=_mapping(d.get("extra") or {}, "extra"),
            scope_reason=_opt(d, "scope_reason", str),
            region=_opt(d, "region", str),
            cluster=_cluster(d.get("cluster")),
            session=_opt(d, "session", str),
            meter=_opt(d, "meter", str),
            source_sha1=_opt(d, "source_sha1", str),
        )


# --- checking the dict form -----------------------------------------------------------------------


def _cluster(data: Any) -> ClusterPart | None:
    if data is None:
        return None
    try:
        return ClusterPart.from_dict(_mapping(data, "cluster"))
    except RecordError:
        raise
    except ValueError as exc:
        raise RecordError("cluster", str(exc)) from None


def _plain(value: Any) -> Any:
    """``value`` with read-only mappings turned back into dicts (for JSON)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    if type(value) is dict:
        return value
    if not isinstance(value, Mapping):
        raise RecordError(name, f"expected an object, got {type(value).__name__}")
    return value


def _str(d: Mapping[str, Any], key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str):
        raise RecordError(key, f"expected text, got {type(value).__name__}")
    return value


def _bool(d: Mapping[str, Any], key: str) -> bool:
    value = d.get(key)
    if not isinstance(value, bool):
        raise RecordError(key, f"expected true or false, got {type(value).__name__}")
    return value


def _int(d: Mapping[str, Any], key: str) -> int:
    value = d.get(key)
    if type(value) is not int:
        raise RecordError(key, f"expected a whole number, got {type(value).__name__}")
    return value


def _opt(d: Mapping[str, Any], key: str, kind: type) -> Any:
    value = d.get(key)
    if value is None:
        return None
    if type(value) is not kind:
        raise RecordError(key, f"expected {kind.__name__} or null, got {type(value).__name__}")
    return value


def _finite(value: Any, name: str) -> float:
    if type(value) is float and math.isfinite(value):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RecordError(name, f"expected a finite number, got {value!r}")
    return float(value)


def _number(d: Mapping[str, Any], key: str) -> float:
    return _finite(d.get(key), key)


def _energy(d: Mapping[str, Any]) -> Energy:
    return Energy(_number(d, "energy_j"), _number(d, "low_j"), _number(d, "high_j"))


_FLOAT_ONLY = frozenset((float,))


def _numbers(values: Any, name: str) -> tuple[float, ...]:
    # a finite sum of floats means no inf or nan among them
    if type(values) is list and {*map(type, values)} <= _FLOAT_ONLY and math.isfinite(sum(values)):
        return tuple(values)
    if not isinstance(values, list):
        raise RecordError(name, "expected a list of numbers")
    return tuple(_finite(v, name) for v in values)


def _time(d: Mapping[str, Any], key: str) -> datetime:
    value = d.get(key)
    if not isinstance(value, str):
        raise RecordError(key, f"expected an ISO 8601 time, got {type(value).__name__}")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(key, f"not an ISO 8601 time: {value[:40]!r}") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
