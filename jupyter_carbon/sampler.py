"""One background thread that samples every source while at least one window is open.

* Every source is read exactly at window start and stop, so for counters the interval never
  changes a window's total; ticks in between unwrap counters, integrate power-only sources and
  build the power timeline shown in plots.
* While no window is open the thread is parked on an Event with no timeout: zero wake-ups. After
  the last window closes it lingers for ``LINGER_TICKS`` intervals before parking, so that cells
  run back to back (auto mode) do not each pay a thread wake-up and its GIL hand-off (which
  costs more than everything else a measured cell does; docs/benchmarks.md has the figures).
* A source that raises is caught here: the reading holds at its last good value and every open
  window gets a flag naming the source and the error. User code never sees it.
* Sources are read outside the sampler's lock (an NVML counter read takes milliseconds): the lock
  only guards the windows and the accounting, so a cell boundary never waits for a tick's read.
  Each source has its own lock (shared with the sources it shares state with: a process view
  and its machine source), so it is never read by two threads at once; a boundary that
  finds a source being read by another thread takes that source's last reading (it holds, as on
  a failed read) rather than wait. A reading only replaces an older one, and a tick's snapshot
  only extends windows opened before it.
* The thread ticks every ``tick_s``: ``interval`` or less, so that every wrapping counter is read
  often enough for at most one wrap between reads (its ``max_gap_s``), whatever ``interval``.
* The clocks are injectable, and ``threaded=False`` lets tests drive ``tick()`` by hand.
"""

from __future__ import annotations

import threading
import time
from array import array
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from .diagnostics import Diagnostics
from .record import EMPTY_TIMELINE, Timeline
from .sources.base import COMPONENTS, EnergySource, Reading
from .sources.scope import process_views
from .units import utc_us

__all__ = ["Sampler", "Snapshot", "Window", "Progress", "TimelineBuffer"]

#: Minimum span over which a source's recent power is re-estimated (for short windows).
POWER_SPAN_S = 0.5
#: Idle ticks after the last window closes before the thread parks.
LINGER_TICKS = 2
#: The thread never ticks more often than this, whatever a source asks (``max_gap_s``).
MIN_TICK_S = 0.1


def utc_now_us() -> int:
    """Now, in whole microseconds since the Unix epoch (UTC): the wall time records keep."""
    return time.time_ns() // 1000


class Snapshot(NamedTuple):
    time_s: float  # monotonic
    wall_us: int  # UTC, µs since the Unix epoch
    readings: tuple[Reading, ...]
    power_w: tuple[float | None, ...]  # each source's recent average power


class Progress(NamedTuple):
    """An open window's figures so far, handed to its listener at every tick (the running
    display)."""

    elapsed_s: float
    energy_j: dict[str, float]  # per component, so far
    power_w: dict[str, float]  # per component, over the last tick


class TimelineBuffer:
    """Bounded power timeline: when full, adjacent points are averaged in pairs and the stride
    doubles."""

    __slots__ = ("max_points", "stride", "_t", "_p", "_acc_n", "_acc_t", "_acc_p")

    def __init__(self, max_points: int = 2000) -> None:
        self.max_points = max(2, max_points - max_points % 2)
        self.stride = 1
        self._t = array("d")
        self._p = {c: array("d") for c in COMPONENTS}
        self._acc_n = 0
        self._acc_t = 0.0
        self._acc_p = dict.fromkeys(COMPONENTS, 0.0)

    def add(self, t_s: float, power_w: dict[str, float]) -> None:
        self._acc_n += 1
        self._acc_t += t_s
        for c in COMPONENTS:
            self._acc_p[c] += power_w.get(c, 0.0)
        if self._acc_n < self.stride:
            return
        n = self._acc_n
        self._t.append(self._acc_t / n)
        for c in COMPONENTS:
            self._p[c].append(self._acc_p[c] / n)
        self._acc_n, self._acc_t = 0, 0.0
        self._acc_p = dict.fromkeys(COMPONENTS, 0.0)
        if len(self._t) >= self.max_points:
            self._halve()

    def _halve(self) -> None:
        def pairs(a: array) -> array:
            return array("d", ((a[i] + a[i + 1]) / 2 for i in range(0, len(a) - 1, 2)))

        self._t = pairs(self._t)
        self._p = {c: pairs(a) for c, a in self._p.items()}
        self.stride *= 2

    def __len__(self) -> int:
        return len(self._t)

    def freeze(self, components: Sequence[str]) -> Timeline:
        return Timeline(tuple(self._t), {c: tuple(self._p[c]) for c in components})


class Window:
    """A window's part in the sampler: its start, the sources it counts, its running timeline and
    flags (held by the window's owner, the session's ``Measurement``; the ledger does the
    accounting)."""

    __slots__ = (
        "start",
        "indices",
        "process_views",
        "timeline",
        "flags",
        "listener",
        "_prev_s",
        "_prev",
    )

    def __init__(
        self,
        start: Snapshot,
        indices: tuple[int, ...],
        max_points: int,
        listener: Callable[[Progress], object] | None,
        process_views: bool = False,
    ) -> None:
        self.start = start
        self.indices = indices  # the sources that count for this window's scope
        self.process_views = process_views  # it keeps the process-scope views enabled
        self.timeline: TimelineBuffer | int = max_points  # the buffer is made at the first tick
        self.flags: list[str] = []
        self.listener = listener
        self._prev_s = start.time_s
        self._prev = start.readings

    def flag(self, text: str) -> None:
        if text not in self.flags:
            self.flags.append(text)


def _read_locks(sources: Sequence[Any]) -> list[threading.Lock]:
    """One lock per source, shared by sources that share state: a process view reads its machine
    source (``inner``), and the views of one process share its ``ProcessShare`` (``_share``)."""
    parent: dict[int, int] = {}

    def root(key: int) -> int:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    for source in sources:
        for other in (getattr(source, "inner", None), getattr(source, "_share", None)):
            if other is not None:
                parent[root(id(other))] = root(id(source))
    locks: dict[int, threading.Lock] = {}
    return [locks.setdefault(root(id(source)), threading.Lock()) for source in sources]


class Sampler:
    def __init__(
        self,
        sources: Sequence[EnergySource],
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] | None = None,
        threaded: bool = True,
        max_points: int = 2000,
        totals_scope: str = "machine",
        scoped: Sequence[EnergySource] = (),
    ) -> None:
        self.machine_sources = list(sources)
        self.process_sources = process_views(self.machine_sources, interval_s)
        #: sources of other scopes (the container's), read at every snapshot like the machine's
        self.scoped_sources = list(scoped)
        self.sources: list[EnergySource] = [
            *self.machine_sources,
            *self.scoped_sources,
            *self.process_sources,
        ]
        self.totals_scope = totals_scope
        self._scope_indices = {
            "machine": tuple(range(len(self.machine_sources))),
            "process": tuple(
                i
                for i, s in enumerate(self.sources)
                if getattr(s, "scope", "machine") == "process" or s.component == "gpu"
            ),
        }
        if self.scoped_sources:
            self._scope_indices["container"] = tuple(
                i
                for i, s in enumerate(self.sources)
                if getattr(s, "scope", "machine") == "container" or s.component == "gpu"
            )
        # sources read at every snapshot
        self._always = len(self.machine_sources) + len(self.scoped_sources)
        self.interval_s = interval_s  # also sets tick_s
        self.clock = clock
        #: µs since the epoch; an injected ``wall_clock`` (tests) returns datetimes
        self.wall_us: Callable[[], int] = (
            utc_now_us if wall_clock is None else (lambda: utc_us(wall_clock()))
        )
        self.threaded = threaded
        self.max_points = max_points
        #: every distinct source error, in order: listed by ``%carbon status`` (each window it
        #: hit carries it as a flag already)
        self.diagnostics = Diagnostics()
        self.ticks = 0
        #: times the thread woke from its interval wait (none while parked: benchmarks/idle.py)
        self.wakeups = 0
        self._components = [s.component for s in self.sources]
        self._lock = threading.RLock()
        self._windows: list[Window] = []
        self._last: list[Reading] = []
        self._active = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._idle_ticks = 0
        self._process_on = 0  # open windows that use the process views
        #: counter sources that drop implausible steps (``glitches``) or restart from zero
        #: (``resets``), with the counts last seen
        self._glitchy: list[list[Any]] = [
            [s, 0, 0] for s in self.machine_sources if hasattr(s, "glitches")
        ]
        now = clock()
        self._last = [Reading(0.0, 0.0, 0.0)] * len(self.sources)
        #: one lock per source (never read by two threads at once) and the time of its reading
        self._source_locks = _read_locks(self.sources)
        self._read_s = [float("-inf")] * len(self.sources)
        self._ref_s = now
        self._power_w: tuple[float | None, ...] = (None,) * len(self.sources)
        #: called with every snapshot once it is taken, from the thread that took it (a Dask
        #: host meter keeps a short timeline of them: ``cluster.host``); None: nothing
        self.on_snapshot: Callable[[Snapshot], object] | None = None
        if totals_scope == "process":
            # the session's idle stretches are charged at its scope: the process views stay on,
            # read only at the snapshots that open and close windows (never while idle)
            for source in self.process_sources:
                source.enable()
            self._process_on = 1
        #: the first reading of every source: where the session's first idle stretch begins
        self.first = self.snapshot()
        for source in self.process_sources:  # a pool started before the first window is seen
            getattr(source._share, "relist_children", lambda: None)()
        self._ref = list(self._last)

    # --- reading ------------------------------------------------------------------------------

    def _read_failed(self, source: EnergySource, exc: Exception) -> None:
        """Record a source's error once, and flag every open window: the reading holds."""
        message = f"{source.device} ({source.method}): read failed — {type(exc).__name__}: {exc}"
        self.diagnostics.say(message)
        for window in self._windows:
            window.flag(message + "; energy after the failure is missing")

    @property
    def interval_s(self) -> float:
        """The sampling interval (s) the user set."""
        return self._interval_s

    @interval_s.setter
    def interval_s(self, value: float) -> None:
        self._interval_s = value
        #: the thread's period: ``interval_s``, shortened so that every wrapping counter is read
        #: at least once per ``max_gap_s`` (at most one wrap between reads)
        self.tick_s = max(
            min([value, *(getattr(s, "max_gap_s", value) for s in self.sources)]),
            min(value, MIN_TICK_S),
        )

    def snapshot(self) -> Snapshot:
        """Read every source in use (outside the lock) and return the readings."""
        # process views that no window uses hold their reading: only read them while in use
        count = len(self.sources) if self._process_on else self._always
        now = self.clock()
        failed = self._read(now, count)
        with self._lock:
            for source, exc in failed:
                self._read_failed(source, exc)
            for seen in self._glitchy:
                source = seen[0]
                if source.glitches != seen[1]:
                    seen[1] = source.glitches
                    self._glitch(source)
                if getattr(source, "resets", 0) != seen[2]:
                    seen[2] = source.resets
                    self._reset(source)
            last = self._last
            if now - self._ref_s >= POWER_SPAN_S:
                span = now - self._ref_s
                self._power_w = tuple(
                    (r.energy_j - p.energy_j) / span for r, p in zip(last, self._ref)
                )
                self._ref_s, self._ref = now, list(last)
            snap = Snapshot(now, self.wall_us(), tuple(last), self._power_w)
        if self.on_snapshot is not None:
            self.on_snapshot(snap)
        return snap

    def _read(self, now: float, count: int) -> list[tuple[EnergySource, Exception]]:
        """Read the first ``count`` sources at ``now``, each under its own lock; a source being
        read by another thread is skipped (its last reading holds). Returns the failures."""
        failed = []
        for i in range(count):
            lock = self._source_locks[i]
            if not lock.acquire(blocking=False):
                continue
            try:
                if now >= self._read_s[i]:  # never replace a newer reading with an older one
                    self._last[i] = self.sources[i].read(now)
                    self._read_s[i] = now
            except Exception as exc:  # a source must never break the user's cell
                failed.append((self.sources[i], exc))
            finally:
                lock.release()
        return failed

    def _glitch(self, source: EnergySource) -> None:
        """Flag every open window: a counter step was dropped (a reset or a jump) and estimated."""
        for window in self._windows:
            window.flag(
                f"{source.device} ({source.method}): an implausible counter step "
                "(a reset or a jump) was dropped, replaced by the last power × time"
            )

    def _reset(self, source: EnergySource) -> None:
        """Flag every open window: a counter restarted from zero (its energy since counted)."""
        for window in self._windows:
            window.flag(
                f"{source.device} ({source.method}): the counter restarted from zero (a reset); "
                "the energy since the restart is counted, the part before it may be missing"
            )

    # --- windows ------------------------------------------------------------------------------

    def indices(self, scope: str) -> tuple[int, ...]:
        return self._scope_indices[scope]

    def open(
        self, listener: Callable[[Progress], object] | None = None, scope: str = "machine"
    ) -> Window:
        if scope not in self._scope_indices:
            raise ValueError(f"scope={scope!r}: choose one of {', '.join(self._scope_indices)}")
        # process views are needed by process-scope windows, and by every window while the
        # session totals are process-scoped (the union of windows must be covered)
        with_views = scope == "process" or self.totals_scope == "process"
        if with_views:
            with self._lock:
                for source in self.process_sources:
                    source.enable()
                self._process_on += 1
        start = self.snapshot()  # outside the lock: a tick's slow read does not delay it
        with self._lock:
            window = Window(
                start, self._scope_indices[scope], self.max_points, listener, with_views
            )
            self._windows.append(window)
            self._idle_ticks = 0
            if not self._active.is_set() or self._thread is None:
                self._ensure_thread()
                self._active.set()
            return window

    def close(self, window: Window) -> tuple[Snapshot, Timeline, tuple[str, ...]]:
        end = self.snapshot()  # outside the lock, as in open
        with self._lock:
            self._ensure_thread()
            if window in self._windows:
                self._windows.remove(window)
                if window.process_views:
                    for source in self.process_sources:
                        source.disable()
                    self._process_on -= 1
            timeline = window.timeline
            if isinstance(timeline, TimelineBuffer):
                components = [
                    c for c in COMPONENTS if any(self._components[i] == c for i in window.indices)
                ]
                return end, timeline.freeze(components), tuple(window.flags)
            return end, EMPTY_TIMELINE, tuple(window.flags)

    def close_all(self) -> None:
        """Close every open window, dropping its timeline (the session is shutting down)."""
        with self._lock:
            for window in list(self._windows):
                self.close(window)

    @property
    def open_windows(self) -> int:
        return len(self._windows)

    @property
    def errors(self) -> list[str]:
        """Every distinct error of a source or of the thread, in order."""
        return self.diagnostics.lines

    # --- ticking ------------------------------------------------------------------------------

    def tick(self) -> None:
        """Read every source and extend each open window's timeline; call each window's progress
        listener."""
        with self._lock:
            if not self._windows:
                self._idle_ticks += 1
                if self._idle_ticks >= LINGER_TICKS:
                    self._active.clear()  # park until the next window opens
                return
        snap = self.snapshot()  # outside the lock: a slow read must not hold up a boundary
        with self._lock:
            self.ticks += 1
            updates = []
            for window in self._windows:
                dt = snap.time_s - window._prev_s
                if dt <= 0:
                    continue
                power: dict[str, float] = {}
                energy: dict[str, float] = {}
                for i in window.indices:
                    comp, now, prev = self._components[i], snap.readings[i], window._prev[i]
                    power[comp] = power.get(comp, 0.0) + (now.energy_j - prev.energy_j) / dt
                    energy[comp] = (
                        energy.get(comp, 0.0) + now.energy_j - window.start.readings[i].energy_j
                    )
                window._prev_s, window._prev = snap.time_s, snap.readings
                if not isinstance(window.timeline, TimelineBuffer):
                    window.timeline = TimelineBuffer(window.timeline)
                window.timeline.add(snap.time_s - window.start.time_s, power)
                if window.listener is not None:
                    updates.append(
                        (window, Progress(snap.time_s - window.start.time_s, energy, power))
                    )
        for window, status in updates:  # outside the lock: a slow display must not delay reads
            listener = window.listener
            if listener is None:
                continue
            try:
                listener(status)
            except Exception as exc:
                window.flag(f"running display failed: {type(exc).__name__}: {exc}")
                window.listener = None

    # --- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._active.wait()
            if self._stop.is_set() or self._stop.wait(self.tick_s):
                return
            self.wakeups += 1
            try:
                self.tick()
            except Exception as exc:
                self.diagnostics.say(f"sampler tick failed: {type(exc).__name__}: {exc}")

    def _ensure_thread(self) -> None:
        if not self.threaded or self._stopped:
            return
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        if thread is not None:  # it died: say so on every open window, then restart it
            for window in self._windows:
                window.flag(
                    "the sampler thread stopped unexpectedly and was restarted; "
                    "the power timeline has a gap"
                )
        self._thread = threading.Thread(
            target=self._run, name="jupyter_carbon-sampler", daemon=True
        )
        self._thread.start()

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def start(self) -> None:
        """Allow the thread to run again after :meth:`stop` (it starts with the next window)."""
        with self._lock:
            self._stopped = False
            self._stop.clear()
            if self._windows:
                self._ensure_thread()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop and join the thread; idempotent. Open windows can still be closed afterwards."""
        self._stopped = True
        self._stop.set()
        self._active.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
        self._thread = None
        if not self._windows:
            self._active.clear()
