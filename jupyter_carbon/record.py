"""The immutable record of one measured window (a notebook cell, a ``track()`` block).

Energy is stored per device with its method; per-component and total figures, CO2e and the
uncertainty band are derived on demand so a record stays small (10,000 cells fit in a few MB).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Mapping, Sequence

from .sources.base import COMPONENTS
from .units import J_PER_KWH

__all__ = ["DeviceEnergy", "ComponentEnergy", "SessionTotals", "CellRecord", "Timeline", "pack_numbers", "packed_size", "ID_FIELD"]


class FrozenDict(dict):
    """A dict that refuses changes: records are immutable, and one empty instance is shared."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a record's mappings are read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        return (FrozenDict, (dict(self),))


NO_EXTRA = FrozenDict()


@dataclass(frozen=True, slots=True)
class DeviceEnergy:
    component: str
    device: str
    method: str
    measured: bool
    energy_j: float
    low_j: float
    high_j: float


@dataclass(frozen=True, slots=True)
class ComponentEnergy:
    component: str
    energy_j: float
    low_j: float
    high_j: float
    methods: tuple[str, ...]
    measured: bool

    @property
    def how(self) -> str:
        """'measured (rapl)' or 'estimated (cpu-model)', for badges and text."""
        return f"{'measured' if self.measured else 'estimated'} ({'/'.join(self.methods)})"


@dataclass(frozen=True, slots=True)
class SessionTotals:
    cells: int
    energy_j: float
    low_j: float
    high_j: float
    co2e_g: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class Timeline:
    """Power over a window, downsampled to a bounded number of points. Units: s and W."""

    t_s: tuple[float, ...] = ()
    power_w: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.t_s)


#: The numbers of a record, packed in one bytes object: id, cell (``_NO_INT`` for None), start_s,
#: end_s, start and end (µs since the Unix epoch, UTC), then the session totals (cells, energy_j,
#: low_j, high_j, co2e_g, duration_s); three doubles per device follow. (The intensity and PUE
#: are shared between records, with the strings.) Little-endian on every machine: the session
#: log stores these bytes as they are.
_HEAD = struct.Struct("<qqddqqqddddd")
ID_FIELD = struct.Struct("<q")  # the first number: the record's id
_NO_INT = -(2**63)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)


def utc_us(when: datetime) -> int:
    """``when`` as whole microseconds since the Unix epoch (a naive datetime is taken as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (when - _EPOCH) // _US


def pack_numbers(id: int, cell: int | None, start_s: float, end_s: float, start_us: int, end_us: int, totals: Sequence[float], energies: Sequence[float]) -> bytes:
    """The numbers of a record as ``CellRecord.packed`` takes them: times in µs since the epoch
    (:func:`utc_us`), ``totals`` as the fields of ``SessionTotals``, ``energies`` as (energy_j,
    low_j, high_j) per device, flat."""
    layout = _LAYOUTS.get(len(energies)) or _layout(len(energies))
    return layout.pack(id, _NO_INT if cell is None else cell, start_s, end_s, start_us, end_us, *totals, *energies)


_LAYOUTS: dict[int, struct.Struct] = {}


def packed_size(n_devices: int) -> int:
    """The length of the packed numbers of a record with ``n_devices`` devices."""
    return _HEAD.size + 24 * n_devices


def _layout(n_energies: int) -> struct.Struct:
    _LAYOUTS[n_energies] = layout = struct.Struct(_HEAD.format + "d" * n_energies)
    return layout


def _field(slot: str, index: int) -> property:
    if slot == "_rest":

        def get(self: "CellRecord") -> Any:
            rest = self._rest
            return _NO_REST[index] if rest is None else rest[index]

    else:

        def get(self: "CellRecord") -> Any:
            return self._common[index]

    return property(get)


def from_utc_us(us: int) -> datetime:
    return _EPOCH + _US * us


def _packed(index: int) -> property:
    def get(self: "CellRecord") -> Any:
        return _HEAD.unpack_from(self._numbers)[index]

    return property(get)


class CellRecord:
    """The immutable record of one measured window.

    Compact by design (a session may hold tens of thousands): the numbers live packed in one
    ``bytes`` object, the strings in a tuple shared by every record with the same ones, and the
    rarely set fields are absent unless set: about 270 bytes a record. ``devices``, ``totals`` and the datetimes are rebuilt
    on access. Construct it with the field names below; records compare equal field by field.
    """

    # _common: (device info, kind, status, flags, intensity_source, intensity_utc, scope, intensity
    # g/kWh, PUE), one tuple
    # shared by every record with the same values; _rest: (items, task, timeline, baseline_w, extra)
    # or None when all are unset (most records).
    __slots__ = ("_numbers", "_common", "label", "_rest")

    FIELDS = (
        "id", "label", "cell", "kind", "start_utc", "end_utc", "start_s", "end_s", "devices", "status", "flags",
        "intensity_g_per_kwh", "intensity_source", "intensity_utc", "pue", "scope", "totals", "items", "task",
        "timeline", "baseline_w", "extra",
    )  # fmt: skip

    label: str | None

    def __init__(
        self,
        id: int,
        label: str | None,
        cell: int | None,
        kind: str,
        start_utc: datetime,
        end_utc: datetime,
        start_s: float,
        end_s: float,
        devices: Sequence[DeviceEnergy],
        status: str,
        flags: tuple[str, ...],
        intensity_g_per_kwh: float,
        intensity_source: str,
        intensity_utc: datetime | None,
        pue: float,
        scope: str,
        totals: SessionTotals,
        items: int | None = None,
        task: str | None = None,
        timeline: Timeline | None = None,
        baseline_w: Mapping[str, float] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        t = totals
        energies = [x for d in devices for x in (d.energy_j, d.low_j, d.high_j)]
        numbers = pack_numbers(id, cell, start_s, end_s, utc_us(start_utc), utc_us(end_utc), (t.cells, t.energy_j, t.low_j, t.high_j, t.co2e_g, t.duration_s), energies)
        info = tuple((d.component, d.device, d.method, d.measured) for d in devices)
        _fill(self, numbers, info, label, kind, status, tuple(flags), intensity_g_per_kwh, intensity_source, intensity_utc, pue, scope, items, task, timeline, baseline_w, extra)

    @classmethod
    def packed(cls, numbers: bytes, info: tuple, label: str | None, kind: str, status: str, flags: tuple[str, ...], intensity_g_per_kwh: float, intensity_source: str, intensity_utc: datetime | None, pue: float, scope: str, items: int | None = None, task: str | None = None, timeline: Timeline | None = None, baseline_w: Mapping[str, float] | None = None, extra: Mapping[str, Any] | None = None) -> "CellRecord":
        """The ledger's constructor: ``numbers`` from :func:`pack_numbers`, ``info`` as
        ((component, device, method, measured), ...) per device."""
        record = object.__new__(cls)
        _fill(record, numbers, info, label, kind, status, flags, intensity_g_per_kwh, intensity_source, intensity_utc, pue, scope, items, task, timeline, baseline_w, extra)
        return record

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"CellRecord is immutable: cannot set {name!r}")

    __delattr__ = __setattr__  # type: ignore[assignment]

    # --- the shared and the optional fields -----------------------------------------------------

    _info: tuple = _field("_common", 0)  # type: ignore[assignment]
    kind: str = _field("_common", 1)  # type: ignore[assignment]  # "cell" (%%carbon), "auto" (%carbon on), "script" (track())
    status: str = _field("_common", 2)  # type: ignore[assignment]  # "ok", "error", "interrupted"
    flags: tuple[str, ...] = _field("_common", 3)  # type: ignore[assignment]
    intensity_source: str = _field("_common", 4)  # type: ignore[assignment]
    intensity_utc: datetime | None = _field("_common", 5)  # type: ignore[assignment]
    scope: str = _field("_common", 6)  # type: ignore[assignment]
    items: int | None = _field("_rest", 0)  # type: ignore[assignment]
    task: str | None = _field("_rest", 1)  # type: ignore[assignment]
    timeline: Timeline = _field("_rest", 2)  # type: ignore[assignment]
    baseline_w: Mapping[str, float] | None = _field("_rest", 3)  # type: ignore[assignment]
    extra: Mapping[str, Any] = _field("_rest", 4)  # type: ignore[assignment]

    # --- the packed numbers -------------------------------------------------------------------

    id: int = _packed(0)  # type: ignore[assignment]
    start_s: float = _packed(2)  # type: ignore[assignment]  # monotonic clock
    end_s: float = _packed(3)  # type: ignore[assignment]
    intensity_g_per_kwh: float = _field("_common", 7)  # type: ignore[assignment]
    pue: float = _field("_common", 8)  # type: ignore[assignment]

    @property
    def cell(self) -> int | None:
        cell = _HEAD.unpack_from(self._numbers)[1]
        return None if cell == _NO_INT else cell

    @property
    def start_utc(self) -> datetime:
        return from_utc_us(_HEAD.unpack_from(self._numbers)[4])

    @property
    def end_utc(self) -> datetime:
        return from_utc_us(_HEAD.unpack_from(self._numbers)[5])

    @property
    def totals(self) -> SessionTotals:
        return SessionTotals(*_HEAD.unpack_from(self._numbers)[6:])

    def numbers(self) -> tuple[tuple[Any, ...], tuple[float, ...]]:
        """The packed numbers in one read: (id, cell or None, start_s, end_s, start and end in µs
        since the epoch, intensity, PUE, the six totals), and (energy_j, low_j, high_j) per device."""
        h = _HEAD.unpack_from(self._numbers)
        common = self._common
        return (h[0], None if h[1] == _NO_INT else h[1], *h[2:6], common[7], common[8], *h[6:]), self._energies()

    def _energies(self) -> tuple[float, ...]:
        """(energy_j, low_j, high_j) of every device, flat."""
        return struct.unpack_from(f"<{3 * len(self._info)}d", self._numbers, _HEAD.size)

    @property
    def devices(self) -> tuple[DeviceEnergy, ...]:
        e = self._energies()
        return tuple(DeviceEnergy(*info, *e[3 * i : 3 * i + 3]) for i, info in enumerate(self._info))

    # --- derived ------------------------------------------------------------------------------

    @property
    def duration_s(self) -> float:
        _, _, start_s, end_s, *_ = _HEAD.unpack_from(self._numbers)
        return end_s - start_s

    @property
    def components(self) -> dict[str, ComponentEnergy]:
        out: dict[str, ComponentEnergy] = {}
        devices = self.devices
        for name in COMPONENTS:
            devs = [d for d in devices if d.component == name]
            if devs:
                out[name] = ComponentEnergy(
                    name,
                    sum(d.energy_j for d in devs),
                    sum(d.low_j for d in devs),
                    sum(d.high_j for d in devs),
                    tuple(dict.fromkeys(d.method for d in devs)),
                    all(d.measured for d in devs),
                )
        return out

    @property
    def energy_j(self) -> float:
        return sum(self._energies()[0::3])

    @property
    def energy_band_j(self) -> tuple[float, float]:
        e = self._energies()
        return sum(e[1::3]), sum(e[2::3])

    @property
    def measured(self) -> bool:
        return all(info[3] for info in self._info)

    @property
    def measured_by_component(self) -> tuple[tuple[str, bool], ...]:
        """((component, every device of it measured), ...) in ``COMPONENTS`` order, without reading
        any energy (the one-line display needs only this)."""
        return _measured_by_component(self._info)

    def co2e_g_of(self, energy_j: float) -> float:
        """Grams CO2e of ``energy_j`` at this record's intensity and PUE (both checked when set)."""
        g_per_kwh, pue = self._common[7:9]
        return energy_j / J_PER_KWH * pue * g_per_kwh

    @property
    def co2e_g(self) -> float:
        return self.co2e_g_of(self.energy_j)

    @property
    def co2e_band_g(self) -> tuple[float, float]:
        low_j, high_j = self.energy_band_j
        return self.co2e_g_of(low_j), self.co2e_g_of(high_j)

    @property
    def marginal_energy_j(self) -> float | None:
        """Energy above the idle baseline (``%carbon baseline``), or None without one."""
        if not self.baseline_w:
            return None
        return max(0.0, self.energy_j - sum(self.baseline_w.values()) * self.duration_s)

    # --- protocol -----------------------------------------------------------------------------

    def fields(self) -> dict[str, Any]:
        """Every field by name (the constructor's keyword arguments)."""
        return {name: getattr(self, name) for name in self.FIELDS}

    def _key(self) -> tuple:
        return (self._numbers, self._common, self.label, self._rest or _NO_REST)

    def __eq__(self, other: object) -> bool:
        if type(other) is not CellRecord:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self._numbers, self._common, self.label))

    def __reduce__(self) -> Any:
        return (_rebuild, (self.fields(),))

    def __repr__(self) -> str:
        return f"CellRecord(id={self.id}, label={self.label!r}, cell={self.cell}, kind={self.kind!r}, status={self.status!r}, duration_s={self.duration_s:.6g}, energy_j={self.energy_j:.6g}, co2e_g={self.co2e_g:.6g})"

    def to_dict(self) -> dict[str, Any]:
        from .serialize import record_to_dict

        return record_to_dict(self)


EMPTY_TIMELINE = Timeline()
_NO_REST = (None, None, EMPTY_TIMELINE, None, NO_EXTRA)
_set = object.__setattr__
_COMMON: dict[tuple, tuple] = {}


def _fill(record: CellRecord, numbers: bytes, info: tuple, label: Any, kind: str, status: str, flags: tuple, g_per_kwh: float, intensity_source: str, intensity_utc: Any, pue: float, scope: str, items: Any, task: Any, timeline: Any, baseline_w: Any, extra: Any) -> None:
    # the one place records share their strings: device names, flags … are interned with the tuple
    common = (info, kind, status, flags, intensity_source, intensity_utc, scope, g_per_kwh, pue)
    shared = _COMMON.get(common)
    if shared is None:
        if len(_COMMON) > 1024:  # many distinct combinations: stop remembering them
            _COMMON.clear()
        shared = _COMMON[common] = common
    _set(record, "_numbers", numbers)
    _set(record, "_common", shared)
    _set(record, "label", label)
    if items is None and task is None and (timeline is None or not (timeline.t_s or timeline.power_w)) and baseline_w is None and not extra:
        _set(record, "_rest", None)
    else:
        _set(record, "_rest", (items, task, EMPTY_TIMELINE if timeline is None else timeline, baseline_w, NO_EXTRA if not extra else extra))


@lru_cache(maxsize=64)
def _measured_by_component(info: tuple) -> tuple[tuple[str, bool], ...]:
    return tuple((c, all(i[3] for i in info if i[0] == c)) for c in COMPONENTS if any(i[0] == c for i in info))


def _rebuild(fields: dict[str, Any]) -> CellRecord:
    return CellRecord(**fields)
