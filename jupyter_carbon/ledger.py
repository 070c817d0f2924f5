"""Accounting for windows: per-window records and session totals. Pure: no I/O, threads or clock.

Windows may nest or overlap. Each window gets its own record; the session totals count the
*union* of the windows' time once: a union segment starts when the first window opens and ends
when the last one closes, and only then is its energy added.

Between union segments the kernel is idle (no window open): each idle stretch is the difference
of the snapshot that closed the last segment and the one that opens the next (no reading in
between), over the session's scope, and becomes a record of kind ``"idle"`` (``end_idle``). The
idle total is kept apart: the session totals stay those of the windows. A stretch shorter than
``IDLE_MIN_S`` (cells run back to back) is not a record of its own: its energy and time are
carried into the next idle record (``extra["short_gaps"]``), so the idle records still hold every
joule and the log gains no line per cell. A short gap is only counted when it ends; its energy is
worked out once, when the carried gaps go into a record: what the sources used from the first
carried gap's start to the latest segment's close, less what the windows' union used meanwhile
(the union keeps its energy per source for that). Gaps and segments tile that time, so this is
the sum of the gaps exactly.

Memory is bounded: ``records`` and ``idle_records`` keep the newest ``max_records`` each (the log
holds them all); the totals and counts are running figures, exact whatever was dropped
(``dropped``, ``idle_dropped``: how many records each list no longer holds).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from .energy import Energy
from .record import EMPTY_TIMELINE, IDLE, DeviceEnergy, SessionTotals, Timeline, WindowRecord
from .sampler import Snapshot
from .sources.base import EnergySource
from .units import co2e_g_from_j, from_utc_us

if TYPE_CHECKING:
    from .cluster_part import ClusterPart

__all__ = ["Ledger", "SHORT_WINDOW_FLAG", "SHORT_WINDOW_BAND", "IDLE_MIN_S", "MAX_RECORDS"]

SHORT_WINDOW_FLAG = "{device}: shorter than the counter's resolution — estimated from power × time"
#: Relative band for a short window's power × time estimate.
SHORT_WINDOW_BAND = (0.5, 1.5)
#: Idle stretches shorter than this (the sampler's default interval) are carried into the next
#: idle record rather than recorded on their own.
IDLE_MIN_S = 1.0
#: Records kept in memory by default, in each list (``Config.memory_records``).
MAX_RECORDS = 10_000
#: Window metadata that has a field of its own in the record; anything else goes into ``extra``.
_RECORD_META = frozenset(
    (
        "label", "cell", "kind", "scope", "items", "task", "scope_reason", "session", "meter",
        "source_sha1",
    )
)  # fmt: skip


class OpenWindow(Protocol):
    """What the ledger asks a window it closes (the session's ``Measurement`` holds it)."""

    @property
    def wid(self) -> int | None: ...

    @property
    def label(self) -> str | None: ...

    @property
    def meta(self) -> Mapping[str, Any]: ...

    @property
    def start(self) -> Snapshot: ...

    @property
    def indices(self) -> tuple[int, ...]: ...


@dataclass
class _Union:
    start: Snapshot | None = None
    energy: Energy = Energy.ZERO
    co2e_g: float = 0.0
    duration_s: float = 0.0
    windows: int = 0  # the windows closed (cells), those dropped from memory included
    records: int = 0  # the records made: the windows and their follow-ups
    #: per source index (the totals' sources): the energy of every segment closed so far
    by_source: dict[int, Energy] = field(default_factory=dict)
    closed: Snapshot | None = None  # where the latest segment closed


@dataclass
class _Idle:
    """The idle stretch open now (from ``start``) and the short ones carried into the next."""

    start: Snapshot | None = None
    #: the carried gaps: where the first began, the union's ``by_source`` then, their count and time
    carried_from: Snapshot | None = None
    carried_union: dict[int, Energy] = field(default_factory=dict)
    carried_s: float = 0.0
    carried_n: int = 0
    energy: Energy = Energy.ZERO  # the idle total so far
    co2e_g: float = 0.0
    duration_s: float = 0.0
    records: int = 0  # the idle records made, those dropped from memory included


@dataclass
class Ledger:
    sources: Sequence[EnergySource]
    #: the sources summed into the session totals (those of the session's scope)
    totals_indices: tuple[int, ...] = ()
    records: list[WindowRecord] = field(default_factory=list)
    _open: set[int] = field(default_factory=set)  # the ids of the windows open now
    _union: _Union = field(default_factory=_Union)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    #: the idle stretches recorded (kind "idle"), apart from the windows' records
    idle_records: list[WindowRecord] = field(default_factory=list)
    _idle: _Idle = field(default_factory=_Idle)
    #: records kept in memory in each list (the newest); the totals count every record
    max_records: int = MAX_RECORDS
    #: the first id made since the last reset (records with a lower id were forgotten)
    first_id: int = 1

    def __post_init__(self) -> None:
        if not self.totals_indices:
            self.totals_indices = tuple(range(len(self.sources)))

    def open(self, start: Snapshot) -> int:
        """A new window's id; a window opened at snapshot ``start`` counts in the totals from
        there."""
        wid = next(self._ids)
        if not self._open:
            self._union.start = start
        self._open.add(wid)
        return wid

    def carry_over(self, previous: Ledger) -> None:
        """Go on from ``previous`` (the session's sources changed): its record ids and totals."""
        self._ids, self._union = previous._ids, previous._union
        self._union.by_source = {}  # per source of the old ledger, whose gaps were written
        self.first_id = previous.first_id
        idle = previous._idle
        self._idle = _Idle(
            energy=idle.energy, co2e_g=idle.co2e_g, duration_s=idle.duration_s, records=idle.records
        )  # a stretch of the old sources is closed by the session before it re-probes

    # --- idle stretches ------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """No window open and an idle stretch running (since ``idle_from`` or the last close)."""
        return not self._open and self._idle.start is not None

    def idle_from(self, start: Snapshot) -> None:
        """The kernel is idle from ``start`` (the session began, or re-probed its sources)."""
        if not self._open:
            self._idle.start = start

    def end_idle(
        self,
        end: Snapshot,
        *,
        g_per_kwh: float,
        intensity_source: str,
        intensity_utc: datetime | None = None,
        region: str | None = None,
        pue: float = 1.0,
        scope: str = "machine",
        scope_reason: str | None = None,
        flags: Sequence[str] = (),
        final: bool = False,
    ) -> WindowRecord | None:
        """End the idle stretch running now at ``end``: its record (kind "idle"), or None when
        it makes none (:meth:`end_short_idle`)."""
        if self.end_short_idle(end, final=final):
            return None
        idle = self._idle
        start = idle.start
        assert start is not None
        idle.start = None
        duration_s = end.time_s - start.time_s
        indices = self.totals_indices
        devices, short_flags = self._devices(_deltas(start, end, indices), start, end)
        extra: dict[str, Any] = {}
        if idle.carried_n:
            carried = self._carried(start)
            devices = [
                DeviceEnergy(d.component, d.device, d.method, d.measured, d.energy + carried[i])
                for d, i in zip(devices, indices)
            ]
            extra["short_gaps"] = {"count": idle.carried_n, "duration_s": idle.carried_s}
            duration_s += idle.carried_s
            idle.carried_from, idle.carried_union = None, {}
            idle.carried_s, idle.carried_n = 0.0, 0
        self._add_idle(Energy.total(d.energy for d in devices), duration_s, g_per_kwh, pue)
        record = WindowRecord(
            id=next(self._ids),
            label=None,
            cell=None,
            kind=IDLE,
            start_utc=from_utc_us(start.wall_us),
            end_utc=from_utc_us(end.wall_us),
            start_s=start.time_s,
            end_s=end.time_s,
            devices=tuple(devices),
            status="ok",
            flags=(*flags, *short_flags),
            intensity_g_per_kwh=g_per_kwh,
            intensity_source=intensity_source,
            intensity_utc=intensity_utc,
            region=region,
            pue=pue,
            scope=scope,
            scope_reason=scope_reason,
            totals=self.totals(end, g_per_kwh, pue),
            extra=extra,
        )
        self.idle_records.append(record)
        self._idle.records += 1
        _keep_newest(self.idle_records, self.max_records)
        return record

    def end_short_idle(self, end: Snapshot, *, final: bool = False) -> bool:
        """End the idle stretch running now at ``end`` if it makes no record of its own (True):
        there is none, it has no time, or it is shorter than ``IDLE_MIN_S`` and carried into the
        next one, unless ``final`` (the kernel exits: what is carried is written now). False: it
        makes a record, left to :meth:`end_idle`."""
        idle = self._idle
        start = idle.start
        if start is None or self._open:
            return True
        duration_s = end.time_s - start.time_s
        if duration_s <= 0.0 and (not final or not idle.carried_n):
            idle.start = None  # no time between the two snapshots: nothing to carry or write
            return True
        if duration_s < IDLE_MIN_S and not final:
            idle.start = None
            if idle.carried_from is None:
                idle.carried_from, idle.carried_union = start, dict(self._union.by_source)
            idle.carried_s += duration_s
            idle.carried_n += 1
            return True
        return False

    def _carried(self, until: Snapshot) -> dict[int, Energy]:
        """Per source index: the energy of the carried gaps, which all lie between their first
        start and ``until`` (where the last of them ended or a later segment closed)."""
        first, before = self._idle.carried_from, self._idle.carried_union
        assert first is not None
        now = self._union.by_source
        return {
            i: (until.readings[i] - first.readings[i])
            - (now.get(i, Energy.ZERO) - before.get(i, Energy.ZERO))
            for i in self.totals_indices
        }

    def _add_idle(self, energy: Energy, duration_s: float, g_per_kwh: float, pue: float) -> None:
        idle = self._idle
        idle.energy += energy
        idle.co2e_g += co2e_g_from_j(energy.energy_j, g_per_kwh, pue)
        idle.duration_s += duration_s

    def idle_totals(
        self, now: Snapshot | None = None, g_per_kwh: float = 0.0, pue: float = 1.0
    ) -> SessionTotals:
        """The idle time so far (``windows``: the idle records), with the stretch running now up
        to ``now`` when given; apart from :meth:`totals`, which are the windows'."""
        idle = self._idle
        energy, co2e, duration = idle.energy, idle.co2e_g, idle.duration_s
        until = self._union.start if self._open else self._union.closed  # the last gap's end
        if idle.carried_n and until is not None:
            carried = Energy.total(self._carried(until).values())
            energy += carried
            co2e += co2e_g_from_j(carried.energy_j, g_per_kwh, pue)
            duration += idle.carried_s
        if now is not None and idle.start is not None and not self._open:
            running = self._delta_sum(idle.start, now)
            energy += running
            co2e += co2e_g_from_j(running.energy_j, g_per_kwh, pue)
            duration += now.time_s - idle.start.time_s
        return SessionTotals(idle.records, energy, co2e, duration)

    def is_open(self, wid: int) -> bool:
        return wid in self._open

    def _close_union(
        self,
        end: Snapshot,
        g_per_kwh: float,
        pue: float,
        deltas: Mapping[int, Energy] | None = None,
    ) -> None:
        """Close the union segment at ``end`` if no window is open any more. ``deltas``: the
        segment's per-source deltas where the caller has them (a window that was the segment)."""
        start = self._union.start
        if self._open or start is None:
            return
        u = self._union
        if deltas is None:
            deltas = _deltas(start, end, self.totals_indices)
        for i, delta in deltas.items():
            u.by_source[i] = u.by_source.get(i, Energy.ZERO) + delta
        energy = Energy.total(deltas.values())
        u.closed = end
        u.energy += energy
        u.co2e_g += co2e_g_from_j(energy.energy_j, g_per_kwh, pue)
        u.duration_s += end.time_s - start.time_s
        u.start = None
        self._idle.start = end  # idle from here until the next window opens

    def discard_all(self, end: Snapshot, g_per_kwh: float, pue: float = 1.0) -> None:
        """Close every open window without a record (the sources are going away)."""
        self._open.clear()
        self._close_union(end, g_per_kwh, pue)

    def discard(self, wid: int, end: Snapshot, g_per_kwh: float, pue: float = 1.0) -> None:
        """Close a window without a record (its energy still counts in the session totals)."""
        if wid in self._open:
            self._open.remove(wid)
            self._close_union(end, g_per_kwh, pue)

    def close(
        self,
        window: OpenWindow,
        end: Snapshot,
        *,
        g_per_kwh: float,
        intensity_source: str,
        intensity_utc: datetime | None = None,
        region: str | None = None,
        pue: float = 1.0,
        status: str = "ok",
        flags: Sequence[str] = (),
        timeline: Timeline | None = None,
        baseline_w: Mapping[str, float] | None = None,
        extra: Mapping[str, Any] | None = None,
        cell: int | None = None,
        cluster: ClusterPart | None = None,
    ) -> WindowRecord:
        """``window``'s record: its devices' energy from its start to ``end``, and its metadata
        (label, cell, kind, items, task, scope; anything else goes into the record's ``extra``)."""
        wid = window.wid
        if wid is None or wid not in self._open:
            raise KeyError(wid)
        self._open.remove(wid)
        start = window.start
        deltas = _deltas(start, end, window.indices)
        devices, short_flags = self._devices(deltas, start, end)
        # the common case, one window at a time over the session's sources: it was the segment
        alone = self._union.start is start and window.indices == self.totals_indices
        self._close_union(end, g_per_kwh, pue, deltas if alone else None)
        meta = window.meta
        own_extra = {k: v for k, v in meta.items() if k not in _RECORD_META}
        if extra:
            own_extra.update(extra)
        record = WindowRecord(
            id=wid,
            label=window.label,
            cell=meta.get("cell") if cell is None else cell,
            kind=meta.get("kind", "cell"),
            start_utc=from_utc_us(start.wall_us),
            end_utc=from_utc_us(end.wall_us),
            start_s=start.time_s,
            end_s=end.time_s,
            devices=tuple(devices),
            status=status,
            flags=(*flags, *short_flags),
            intensity_g_per_kwh=g_per_kwh,
            intensity_source=intensity_source,
            intensity_utc=intensity_utc,
            region=region,
            pue=pue,
            scope=meta.get("scope", "machine"),
            scope_reason=meta.get("scope_reason"),
            totals=self.totals(end, g_per_kwh, pue, 1),
            items=meta.get("items"),
            task=meta.get("task"),
            timeline=timeline if timeline is not None else EMPTY_TIMELINE,
            baseline_w=baseline_w,
            extra=own_extra,
            cluster=cluster,
            session=meta.get("session"),
            meter=meta.get("meter"),
            source_sha1=meta.get("source_sha1"),
        )
        self.records.append(record)
        self._union.records += 1
        if not record.is_follow_up:  # a follow-up is a cell's work measured later, not a cell
            self._union.windows += 1
        _keep_newest(self.records, self.max_records)
        return record

    def totals(
        self,
        now: Snapshot | None = None,
        g_per_kwh: float = 0.0,
        pue: float = 1.0,
        extra_cells: int = 0,
    ) -> SessionTotals:
        """Session totals so far, including the open union segment up to ``now`` when given."""
        u = self._union
        energy, co2e, duration = u.energy, u.co2e_g, u.duration_s
        if u.start is not None and now is not None:
            open_energy = self._delta_sum(u.start, now)
            energy += open_energy
            co2e += co2e_g_from_j(open_energy.energy_j, g_per_kwh, pue)
            duration += now.time_s - u.start.time_s
        return SessionTotals(u.windows + extra_cells, energy, co2e, duration)

    @property
    def made(self) -> int:
        """The records made (windows and their follow-ups), those dropped from memory included."""
        return self._union.records

    @property
    def dropped(self) -> int:
        """The windows' records no longer in memory (the oldest, beyond ``max_records``)."""
        return max(self._union.records - len(self.records), 0)

    @property
    def idle_dropped(self) -> int:
        """The idle records no longer in memory."""
        return max(self._idle.records - len(self.idle_records), 0)

    def keep(self, max_records: int) -> None:
        """Keep at most ``max_records`` of each kind of record from now on (the newest)."""
        self.max_records = max_records
        _keep_newest(self.records, max_records)
        _keep_newest(self.idle_records, max_records)

    def reset(self) -> None:
        """Forget closed records and totals (open windows stay open)."""
        self.records = []
        self._union = _Union(start=self._union.start)
        self.idle_records = []
        self._idle = _Idle(start=self._idle.start)
        self.first_id = next(self._ids)
        self._ids = itertools.count(self.first_id)

    # --- helpers ------------------------------------------------------------------------------

    def _delta_sum(self, start: Snapshot, end: Snapshot) -> Energy:
        return Energy.total(end.readings[i] - start.readings[i] for i in self.totals_indices)

    def _devices(
        self, deltas: Mapping[int, Energy], start: Snapshot, end: Snapshot
    ) -> tuple[list[DeviceEnergy], tuple[str, ...]]:
        """Each device's energy over the window (``deltas``: its sources' readings at ``end``
        less those at ``start``), and the short-window flags."""
        duration = end.time_s - start.time_s
        devices: list[DeviceEnergy] = []
        short: list[str] = []
        for i, band in deltas.items():  # a model's readings carry its own band
            source = self.sources[i]
            energy = band.energy_j
            method, measured = source.method, source.measured
            if measured and (
                duration <= 0.0
                or (energy > 0.0 and duration >= getattr(source, "resolution_s", 0.0))
            ):
                band = Energy.exact(energy)  # a measured reading is its own band
            elif measured:
                # a counter that did not move, or a window shorter than it resolves: never a
                # silent 0 J
                power_w = end.power_w[i]
                energy = power_w * duration if power_w is not None else max(energy, 0.0)
                band = Energy(energy, energy * SHORT_WINDOW_BAND[0], energy * SHORT_WINDOW_BAND[1])
                method, measured = f"{method} power × time", False
                short.append(SHORT_WINDOW_FLAG.format(device=source.device))
            devices.append(DeviceEnergy(source.component, source.device, method, measured, band))
        return devices, tuple(short)


def _deltas(start: Snapshot, end: Snapshot, indices: Sequence[int]) -> dict[int, Energy]:
    """Per source index: its reading at ``end`` less its reading at ``start``."""
    return {i: end.readings[i] - start.readings[i] for i in indices}


def _keep_newest(records: list[WindowRecord], limit: int) -> None:
    """Drop the oldest of ``records`` beyond ``limit`` (one at a time as records close: a shift of
    ``limit`` pointers, microseconds)."""
    excess = len(records) - limit
    if excess > 0:
        del records[:excess]
