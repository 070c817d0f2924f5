"""One measuring session: configuration, detected sources, the sampler and the ledger.

``CarbonSession`` is what the magics, the hooks and ``track()`` talk to. It never lets an
internal failure escape into user code paths that the caller marks as protected, and it keeps
the newest closed records in memory (``memory_records`` of each kind; the totals are running
figures, exact whatever was dropped) and hands each to ``on_record`` callbacks such as the log,
from which ``older_records`` reads back those dropped (``archive``).

The kernel's whole lifetime is accounted: between windows it is idle, and each idle stretch is a
record of kind "idle" (``idle_records``, handed to ``on_idle`` callbacks such as the log), made
from the snapshots that close one window and open the next (nothing is read while idle), when the
next window opens, when the sources are probed again, and when the session shuts down or the
kernel exits (``write_idle``). ``idle_totals()`` is the idle total, apart from ``totals()``.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from .config import Config, ConfigError
from .diagnostics import Diagnostics
from .intensity import UnknownRegionError, lookup_region
from .intensity.value import Intensity
from .ledger import Ledger
from .record import IDLE, SessionTotals, WindowRecord, idle_seconds
from .rows import to_dataframe
from .sampler import Progress, Sampler, Snapshot, Window
from .sources.base import Reading
from .sources.detect import Detection, detect
from .sources.scope import meters

if TYPE_CHECKING:
    import pandas

    from .cluster_part import ClusterPart
    from .intensity.providers import Forecast, LiveIntensity

__all__ = ["CarbonSession", "Measurement", "session", "reset_session", "status_of"]

#: Settings whose change means probing the hardware again.
_REDETECT = (
    "scope",
    "powercap_root",
    "hwmon_root",
    "power",
    "cgroup_root",
    "dmi_root",
)  # scope: the totals' sources change
#: Settings that change where the carbon intensity comes from.
_INTENSITY = ("region", "intensity", "live", "zone")


#: The flag of a window that ended before its cell or block did (the session shut down, or
#: IPython never reported the cell's end); the text after the colon says why.
CUT_SHORT = "cut short"


def status_of(error: BaseException | None) -> str:
    """A window's status from what its code raised: "ok", "interrupted" (KeyboardInterrupt) or
    "error"."""
    return (
        "ok"
        if error is None
        else ("interrupted" if isinstance(error, KeyboardInterrupt) else "error")
    )


class Measurement:
    """One measuring window, open then closed: the one object that holds the window's state.

    What it measures (``label``; ``meta``: kind, cell, items, task, scope, anything else for the
    record's ``extra``), its part in the sampler (``window``: the start snapshot, the sources it
    counts, its running timeline and flags), its id in the ledger (``wid``), the thread's stack of
    current windows it is on (``stack``), what its opener and the add-ons keep for it (``owner``:
    the extension's IPython cell; ``cluster_window`` then ``cluster``: the Dask observer's open
    window, then the part it measured; ``observers``: the session's observers taking part in it),
    the ``view`` showing it, and at the end its ``record``. The session opens and closes it; the
    others ask it. A context manager for scripts: ``with track("x") as m: ...``.
    """

    __slots__ = (
        "session",
        "label",
        "meta",
        "wid",
        "window",
        "record",
        "extra",
        "cluster_window",
        "cluster",
        "view",
        "owner",
        "observers",
        "_stack",
        "_pid",
    )

    def __init__(self, session: CarbonSession, label: str | None = None, **meta: Any) -> None:
        self.session = session
        self.label = label
        #: the window's metadata; the session sets ``scope`` and ``scope_reason`` when it opens
        self.meta: dict[str, Any] = meta
        self.wid: int | None = None
        self.window: Window | None = None
        self.record: WindowRecord | None = None
        #: goes into ``record.extra`` at close (e.g. a loop prediction from ``track_iter``)
        self.extra: dict[str, Any] = {}
        #: the Dask observer's open window on the cluster (or why it is not measured), while open
        self.cluster_window: Any = None
        #: the window's share of a Dask cluster (``ClusterPart``), set by the cluster observer
        self.cluster: ClusterPart | None = None
        #: the view showing this window as it runs (the cell's notebook or text view), or None
        self.view: Any = None
        #: what opened the window, for its opener to recognise it (the extension: the IPython cell)
        self.owner: Any = None
        #: the session's observers taking part in the window, while it is open
        self.observers: tuple[WindowObserver, ...] = ()
        self._stack: list[Measurement] | None = None
        self._pid: int | None = None  # the process that entered the ``with`` block

    @property
    def start(self) -> Snapshot:
        """The readings at the window's start."""
        window = self.window
        if window is None:
            raise ValueError(f"the measurement {self.label or ''} has not started")
        return window.start

    @property
    def indices(self) -> tuple[int, ...]:
        """The sampler's sources this window counts (those of its scope)."""
        window = self.window
        if window is None:
            raise ValueError(f"the measurement {self.label or ''} has not started")
        return window.indices

    @property
    def stack(self) -> list[Measurement] | None:
        """The thread's stack of current windows this one is on; None when it is on none."""
        return self._stack

    def _push(self, stack: list[Measurement]) -> None:
        self._stack = stack
        stack.append(self)

    def _leave_stack(self) -> None:
        """Off its thread's stack (the top but for windows left open inside it)."""
        stack, self._stack = self._stack, None
        if stack is not None:
            try:
                stack.remove(self)
            except ValueError:
                pass

    @property
    def energy_so_far_j(self) -> dict[str, float]:
        """Energy so far per component (J) of this open window, without waiting for a tick."""
        return {
            component: reading.energy_j
            for component, reading in self.session.progress(self)[1].items()
        }

    def __enter__(self) -> Measurement:
        self._pid = os.getpid()  # a forked child leaving the ``with`` leaves the window alone
        if self.wid is None:
            self.session.start(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pid is not None and os.getpid() != self._pid:
            # a forked child exiting inside its parent's ``with``:
            return  # the window is the parent's, which closes and logs it (no phantom copy)
        try:
            self.session.stop(self, status=status_of(exc))
        except Exception as exc:  # never an exception of ours out of the user's ``with``
            self.session.problem(
                f"could not close the measurement {self.label or ''} ({type(exc).__name__}: {exc})"
            )


class WindowObserver(Protocol):
    """An add-on that may take part in every window (``CarbonSession.observers``)."""

    def window_started(self, m: Measurement) -> bool:
        """``m`` opened: whether this observer takes part in it (then it is told when ``m``
        stops)."""
        ...

    def window_stopping(self, m: Measurement) -> Iterable[str] | None: ...


class _ThreadWindows(threading.local):
    """Each thread's (each kernel subshell's) stack of current windows, innermost last."""

    def __init__(self) -> None:
        self.stack: list[Measurement] = []


class CarbonSession:
    def __init__(
        self,
        config: Config | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] | None = None,
        threaded: bool = True,
        detect: Callable[..., Detection] | None = None,
        track_idle: bool = False,
    ) -> None:
        #: the problems met, one line each, shown by the front end (the extension: after each cell)
        self.diagnostics = Diagnostics()
        if config is None:
            env_problems: list[str] = []
            config = Config.from_env(problems=env_problems)
            for text in env_problems:
                self.problem(text)
        self.config = config
        self._clock = clock
        self._wall_clock = wall_clock
        self._threaded = threaded
        self._detect_fn = detect
        #: record the idle stretches between windows (the extension turns it on: a kernel's
        #: lifetime counts from %load_ext; a script's track() blocks have no idle between them)
        self.track_idle = track_idle
        self.on_record: list[Callable[[WindowRecord], object]] = []
        #: called with each idle stretch's record (kind "idle"): the log
        self.on_idle: list[Callable[[WindowRecord], object]] = []
        #: add-ons that may take part in every window (e.g. a Dask cluster): ``window_started(m)``
        #: after it opens (True: it takes part), then for those taking part
        #: ``window_stopping(m)`` before its record is made (may fill ``m.extra`` and return
        #: flags for the record). A failing observer never reaches user code.
        self.observers: list[WindowObserver] = []
        self.baseline_w: dict[str, float] | None = None
        self._lock = threading.RLock()
        self._pending_redetect = False
        self._cloud_pue_done = False
        self._table_intensity: Intensity | None = None
        self._live: LiveIntensity | None = None
        #: the newest records of windows (``config.memory_records``; ``older_records`` the rest)
        self.records: list[WindowRecord] = []
        #: the idle stretches between windows, kept apart from ``records`` (the windows'), bounded
        #: the same way
        self.idle_records: list[WindowRecord] = []
        #: reads this session's logged records back, oldest first (set where a log is attached:
        #: the extension); None: the records dropped from memory are gone
        self.archive: Callable[[], Iterable[WindowRecord]] | None = None
        #: the last idle record made when a window opened (the extension's held-GPU note)
        self.last_idle: WindowRecord | None = None
        self.closed = False
        #: this session, in its records: their monotonic times compare within it only
        self.session_id = f"{socket.gethostname()}/{os.getpid()}/{os.urandom(4).hex()}"
        # The windows open now, by id, and each thread's stack of current ones (cells, track()
        # blocks; innermost last): what track_iter attaches to and what a nested cell is part of.
        self._open: dict[int, Measurement] = {}
        self._local = _ThreadWindows()
        self._setup()

    # --- sources -----------------------------------------------------------------------------

    def _setup(self) -> None:
        detect_fn = self._detect_fn or detect
        self.detection = detect_fn(**self.config.detection_arguments(), now_s=self._clock())
        #: the scope in force for the totals and for cells that ask for none, and why
        scope, reason = self.detection.resolve(self.config.scope)
        self.scope, self.scope_reason = scope, reason
        #: what each scope's windows measure (``sources.scope.meters``), in the records
        self.meters = meters(getattr(self.detection, "cgroup", None))
        cloud = getattr(self.detection, "cloud", None)
        if cloud is not None and not self._cloud_pue_done and self.config.pue == Config.pue:
            # the provider's PUE, unless the user set one
            self.config = self.config.updated(pue=cloud.pue)
            self._cloud_pue_done = True
        self.sampler = Sampler(
            self.detection.sources,
            self.config.interval,
            clock=self._clock,
            wall_clock=self._wall_clock,
            threaded=self._threaded,
            totals_scope=scope,
            scoped=getattr(self.detection, "scoped", ()),
        )
        self.ledger = Ledger(
            self.sampler.sources,
            self.sampler.indices(scope),
            records=self.records,
            idle_records=self.idle_records,
            max_records=self.config.memory_records,
        )
        self.ledger.idle_from(self.sampler.first)  # idle until the first window opens
        # e.g. RAPL there but locked: say once how to unlock it
        for fix in self.detection.fixes.values():
            self.problem(fix)

    def configure(self, **values: Any) -> Config:
        """Apply settings (strings or values); raises ConfigError. Re-probes hardware when
        needed."""
        new = self.config.updated(**values)
        if new.region != self.config.region and new.region is not None:
            # raises ConfigError for an unknown region, before anything changes
            _table_intensity(new)
        with self._lock:
            old, self.config = self.config, new
            self.sampler.interval_s = new.interval
            if new.memory_records != old.memory_records:
                self.ledger.keep(new.memory_records)
            if any(getattr(old, k) != getattr(new, k) for k in _INTENSITY):
                self._close_live()
            if any(getattr(old, k) != getattr(new, k) for k in _REDETECT):
                if self.sampler.open_windows:
                    self._pending_redetect = True  # applied once the running cells have closed
                else:
                    self._redetect()
        return new

    def _redetect(self) -> None:
        self._pending_redetect = False
        idle = self._end_idle(self.sampler.snapshot(), final=True)  # the old sources' stretch
        if idle is not None:
            self._hand_on(idle, self.on_idle)
        self.sampler.stop()
        self.detection.close()
        self.reopen()

    def reopen(self) -> None:
        """Probe the hardware again, keeping the records and totals (after shutdown or a change
        of sources)."""
        previous = self.ledger
        self._setup()
        self.ledger.carry_over(previous)  # record ids stay unique, the totals go on
        self.closed = False

    # --- intensity ---------------------------------------------------------------------------

    def intensity(self) -> Intensity:
        """The carbon intensity in force now; never blocks on the network."""
        cfg = self.config
        if cfg.intensity is not None:
            return Intensity.user(cfg.intensity, cfg.region)
        if self._table_intensity is None:
            try:
                self._table_intensity = _table_intensity(cfg)
            except ConfigError as exc:  # a bad JUPYTER_CARBON_REGION: say so once, go on
                self.problem(f"ignored JUPYTER_CARBON_REGION: {exc}")
                self._table_intensity = Intensity.world_average()
        if cfg.live is None:
            return self._table_intensity
        if self._live is None:
            try:
                self._live = _live_intensity(cfg, self._table_intensity)
            except ValueError as exc:
                self.problem(f"live intensity off: {exc}")
                return self._table_intensity
        return self._live.current()

    def forecast(self) -> Forecast | None:
        """The live provider's forecast that has arrived (None without one); never blocks."""
        live = self._live
        return live.forecast() if live is not None else None

    def _close_live(self) -> None:
        self._table_intensity = None
        if self._live is not None:
            self._live.close()
            self._live = None

    # --- windows -----------------------------------------------------------------------------

    def stack(self) -> list[Measurement]:
        """This thread's current windows, innermost last (each thread, e.g. each kernel subshell,
        has its own)."""
        return self._local.stack

    def current(self) -> Measurement | None:
        """The innermost window open in this thread: a measured cell or a ``track()`` block; None
        if none."""
        stack = self._local.stack
        return stack[-1] if stack else None

    def open(
        self,
        label: str | None = None,
        *,
        listener: Callable[[Progress], object] | None = None,
        current: bool = True,
        owner: Any = None,
        **meta: Any,
    ) -> Measurement:
        """Open a window; ``current``: it becomes this thread's current one until it stops."""
        measurement = Measurement(self, label, **meta)
        measurement.owner = owner
        self.start(measurement, listener=listener, current=current)
        return measurement

    def start(
        self,
        m: Measurement,
        listener: Callable[[Progress], object] | None = None,
        *,
        current: bool = True,
    ) -> None:
        with self._lock:
            if self._pending_redetect and not self.sampler.open_windows:
                self._redetect()
            requested = m.meta.get("scope")
            scope, reason = (
                self.detection.resolve(requested) if requested else (self.scope, self.scope_reason)
            )
            m.meta["scope"], m.meta["scope_reason"] = scope, reason
            m.meta["session"], m.meta["meter"] = self.session_id, self.meters.get(scope)
            m.window = window = self.sampler.open(listener, scope=scope)
            idle = self._end_idle(window.start) if self.ledger.idle else None
            m.wid = self.ledger.open(window.start)
            self._open[m.wid] = m
        if idle is not None:
            self.last_idle = idle
            self._hand_on(idle, self.on_idle)
        if current:
            m._push(self.stack())
        if self.observers:
            self._observe_start(m)

    def stop(
        self,
        m: Measurement,
        status: str = "ok",
        extra: dict[str, Any] | None = None,
        flags: tuple[str, ...] = (),
        cell: int | None = None,
        cluster: ClusterPart | None = None,
    ) -> WindowRecord | None:
        """Close ``m`` and return its record; the record it has when already closed (None when it
        was discarded)."""
        if m.observers and m.record is None and m.wid in self._open:
            flags = tuple(flags) + self._observe_stop(m)
        with self._lock:
            m._leave_stack()
            if (
                m.record is not None
                or m.wid is None
                or m.window is None
                or self._open.pop(m.wid, None) is None
            ):
                return m.record
            end, timeline, window_flags = self.sampler.close(m.window)
            intensity = self.intensity()
            notes = (
                (intensity.note,) if intensity.note and intensity.note not in window_flags else ()
            )
            m.record = self.ledger.close(
                m,
                end,
                g_per_kwh=intensity.g_per_kwh,
                intensity_source=intensity.source,
                intensity_utc=intensity.obtained_utc,
                region=intensity.region,
                pue=self.config.pue,
                status=status,
                flags=window_flags + tuple(flags) + notes,
                timeline=timeline,
                baseline_w=self.baseline_w,
                extra={**m.extra, **extra} if extra else m.extra,
                cell=cell,
                cluster=cluster if cluster is not None else m.cluster,
            )
        self._hand_on(m.record, self.on_record)
        return m.record

    def _hand_on(
        self, record: WindowRecord, callbacks: list[Callable[[WindowRecord], object]]
    ) -> None:
        for callback in list(callbacks):
            try:
                callback(record)
            except Exception as exc:
                name = getattr(callback, "__qualname__", callback)
                self.problem(f"could not hand the record on ({name}): {exc}")

    # --- idle stretches ------------------------------------------------------------------------

    def _end_idle(self, end: Snapshot, *, final: bool = False) -> WindowRecord | None:
        """End the idle stretch running now at ``end`` (under the lock): its record, with the
        GPUs this process held memory on, or None (none, or carried into the next)."""
        if not self.track_idle or self.ledger.end_short_idle(end, final=final):
            return None
        intensity = self.intensity()
        record = self.ledger.end_idle(
            end,
            g_per_kwh=intensity.g_per_kwh,
            intensity_source=intensity.source,
            intensity_utc=intensity.obtained_utc,
            region=intensity.region,
            pue=self.config.pue,
            scope=self.scope,
            scope_reason=self.scope_reason,
            flags=(intensity.note,) if intensity.note else (),
            final=final,
        )
        if record is None:
            return None
        held = self._gpus_held(record)
        if held:
            record = dataclasses.replace(record, extra={**record.extra, "gpu_held": held})
            self.idle_records[-1] = record
        return record

    def _gpus_held(self, record: WindowRecord) -> list[dict[str, Any]]:
        """The GPUs this process holds memory on now (NVML's process list), with their share of
        ``record``: an idle stretch (asked only when one is recorded, never while idle)."""
        held: list[dict[str, Any]] = []
        duration_s = idle_seconds(record)
        pid = os.getpid()
        for i in self.ledger.totals_indices:
            source = self.sampler.sources[i]
            held_by = getattr(source, "held_by", None)
            if held_by is None:
                continue
            holds, memory_mib = held_by(pid)
            if not holds:
                continue
            energy_j = sum(
                d.energy_j
                for d in record.devices
                if d.component == "gpu" and d.device == source.device
            )
            name = f"GPU {getattr(source, 'index', i)} ({getattr(source, 'model', source.device)})"
            held.append(
                {
                    "gpu": name,
                    "energy_j": energy_j,
                    "power_w": energy_j / duration_s if duration_s > 0 else 0.0,
                    "duration_s": duration_s,
                    "memory_mib": memory_mib,
                }
            )
        return held

    def write_idle(self) -> WindowRecord | None:
        """Write the idle stretch running now (the kernel exits: its last stretch); idleness goes
        on from here. None when a window is open or nothing is left to write."""
        with self._lock:
            if not self.ledger.idle or self.closed or not self.track_idle:
                return None
            now = self.sampler.snapshot()
            record = self._end_idle(now, final=True)
            self.ledger.idle_from(now)
        if record is not None:
            self._hand_on(record, self.on_idle)
        return record

    def idle_totals(self) -> SessionTotals:
        """The idle time so far, the stretch running now included (one read of the sources when
        idle): apart from :meth:`totals`, which are the windows'."""
        intensity = self.intensity()
        running = self.track_idle and self.ledger.idle and not self.closed
        now = self.sampler.snapshot() if running else None
        return self.ledger.idle_totals(now, intensity.g_per_kwh, self.config.pue)

    def _observe_start(self, m: Measurement) -> None:
        """Tell every observer that ``m`` opened; keep on ``m`` those taking part (one that
        failed too: it may hold something of ``m`` to end)."""
        joined = []
        for observer in list(self.observers):
            try:
                if not observer.window_started(m):
                    continue
            except Exception as exc:
                self.problem(_observer_failed(observer, "window_started", exc))
            joined.append(observer)
        m.observers = tuple(joined)

    def _observe_stop(self, m: Measurement) -> tuple[str, ...]:
        """Tell the observers taking part in ``m`` that it stops; their flags, and a flag for
        each that failed."""
        observers, m.observers = m.observers, ()
        flags: tuple[str, ...] = ()
        for observer in observers:
            try:
                flags += tuple(observer.window_stopping(m) or ())
            except Exception as exc:
                text = _observer_failed(observer, "window_stopping", exc)
                self.problem(text)
                flags += (text,)
        return flags

    def discard(self, m: Measurement) -> None:
        """Close ``m`` without a record (another window covers the same cell)."""
        if m.observers and m.record is None and m.wid in self._open:
            self._observe_stop(m)
        with self._lock:
            m._leave_stack()
            if (
                m.record is None
                and m.wid is not None
                and m.window is not None
                and self._open.pop(m.wid, None) is not None
                and self.ledger.is_open(m.wid)
            ):
                end, _, _ = self.sampler.close(m.window)
                intensity = self.intensity()
                self.ledger.discard(m.wid, end, intensity.g_per_kwh, self.config.pue)

    def progress(self, m: Measurement) -> tuple[float, dict[str, Reading]]:
        """(monotonic time, energy so far per component with its band) of an open window: one
        read of every source."""
        window = m.window
        if window is None:
            raise ValueError(
                f"the measurement {m.label or ''} has not started: "
                "open it with session.open() or a with block"
            )
        snap = self.sampler.snapshot()
        out: dict[str, Reading] = {}
        for i in window.indices:
            component = self.sampler.sources[i].component
            now, then = snap.readings[i], window.start.readings[i]
            out[component] = out.get(component, Reading.ZERO) + now - then
        return snap.time_s, out

    def totals(self) -> SessionTotals:
        intensity = self.intensity()
        now = self.sampler.snapshot() if self.sampler.open_windows else None
        return self.ledger.totals(now, intensity.g_per_kwh, self.config.pue)

    def to_dataframe(self) -> pandas.DataFrame:
        """This session's records as a pandas DataFrame (CSV export's columns); needs pandas.
        Those dropped from memory are read back from the log (``every_record``)."""
        return to_dataframe(list(self.every_record()))

    def older_records(self, *, idle: bool = False) -> Iterator[WindowRecord]:
        """The records dropped from memory (the oldest) that the log still has, in the order they
        were logged (idle stretches too with ``idle``); none without a log (``archive``). Read
        lazily, one at a time."""
        with self._lock:
            _, left, held, first_id = self._memory(idle)
        return self._older(left, held, first_id)

    def every_record(self, *, idle: bool = False, by_start: bool = False) -> Iterator[WindowRecord]:
        """Every record of this session since the last reset: ``older_records`` then those in
        memory (with ``idle``, the idle stretches after the windows, or all in order of start
        with ``by_start``)."""
        with self._lock:
            memory, left, held, first_id = self._memory(idle)
        if by_start:
            memory.sort(key=lambda r: r.start_s)
        yield from self._older(left, held, first_id)
        yield from memory

    def _memory(self, idle: bool) -> tuple[list[WindowRecord], dict[str, int], set[int], int]:
        """(under the lock) The records in memory, how many of each kind were dropped, the ids
        held, the first id since the last reset."""
        ledger = self.ledger
        memory = [*self.records, *self.idle_records] if idle else list(self.records)
        left = {"window": ledger.dropped, IDLE: ledger.idle_dropped if idle else 0}
        held = {r.id for r in self.records}
        held.update(r.id for r in self.idle_records)
        return memory, left, held, ledger.first_id

    def _older(self, left: dict[str, int], held: set[int], first_id: int) -> Iterator[WindowRecord]:
        if not any(left.values()) or self.archive is None:
            return
        for record in self.archive():
            kind = IDLE if record.kind == IDLE else "window"
            # the first ones logged are those dropped: a record logged since is not counted here
            if left[kind] and record.id >= first_id and record.id not in held:
                left[kind] -= 1
                yield record
                if not any(left.values()):
                    return

    @property
    def problems(self) -> list[str]:
        """Every problem said so far, once each, in order."""
        return self.diagnostics.lines

    def problem(self, text: str) -> None:
        """Say a problem once; the front end shows it at its next quiet moment."""
        self.diagnostics.say(text)

    def reset(self) -> None:
        with self._lock:
            self.ledger.reset()
            self.records = self.ledger.records
            self.idle_records = self.ledger.idle_records

    def cut_short(self, m: Measurement, why: str, status: str = "ok") -> WindowRecord | None:
        """End ``m`` now, before its cell or block does, with a record flagged ``cut short:
        why``."""
        return self.stop(m, status=status, flags=(f"{CUT_SHORT}: {why}",))

    def shutdown(self) -> None:
        """Stop the thread and release the devices; idempotent. ``reopen()`` undoes it.

        Windows still open (a ``track()`` block or a cell running now, in any thread) end here
        with a record flagged cut short; their ``with`` block or cell goes on unaffected.
        """
        with self._lock:
            for m in list(self._open.values()):
                try:
                    self.cut_short(m, "the session shut down (%unload_ext or a reset) while it ran")
                except Exception as exc:
                    self.problem(
                        "could not close an open measurement at shutdown "
                        f"({type(exc).__name__}: {exc})"
                    )
        if self.sampler.open_windows:
            intensity = self.intensity()
            end = self.sampler.snapshot()
            self.sampler.close_all()
            self.ledger.discard_all(end, intensity.g_per_kwh, self.config.pue)
        if not self.closed:
            self.write_idle()  # the last stretch, before the sources go
        self.sampler.stop()
        self.detection.close()
        self._close_live()
        self.closed = True


def _observer_failed(observer: WindowObserver, name: str, exc: Exception) -> str:
    return f"{type(observer).__name__}.{name} failed: {type(exc).__name__}: {exc}"


def _table_intensity(config: Config) -> Intensity:
    if config.region is None:
        # the views add the no-region note (display.text.intensity_notes)
        return Intensity.world_average()
    try:
        return Intensity.from_region(lookup_region(config.region))
    except UnknownRegionError as exc:
        raise ConfigError(str(exc)) from None


def _live_intensity(config: Config, fallback: Intensity) -> LiveIntensity:
    # lazy: the providers must not load at %load_ext (tests/test_extension.py)
    from .intensity.providers import (
        ElectricityMapsProvider,
        IntensityProvider,
        LiveIntensity,
        UKCarbonIntensityProvider,
    )

    provider: IntensityProvider
    if config.live == "uk":
        provider = UKCarbonIntensityProvider()
    else:
        zone = config.zone or (
            fallback.region if fallback.region and ":" not in fallback.region else None
        )
        if zone is None:
            raise ValueError(
                "live=electricitymaps needs a zone: %carbon config zone=FR "
                "(an Electricity Maps zone such as US-CAL-CISO)"
            )
        provider = ElectricityMapsProvider(zone=zone)
    return LiveIntensity(provider, fallback)


_default: CarbonSession | None = None
_default_lock = threading.Lock()


def session() -> CarbonSession:
    """The process-wide session (``jupyter_carbon.session()``): the one the magics, the hooks,
    ``track()`` and ``track_iter()`` use; created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = CarbonSession()
        return _default


def reset_session() -> None:
    """Shut the process-wide session down and drop it; the next ``session()`` makes a new one."""
    global _default
    with _default_lock:
        if _default is not None:
            _default.shutdown()
        _default = None
