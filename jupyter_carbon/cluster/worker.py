"""The worker plugin: counts each window's task thread-seconds locally and answers one query per
window, after it ended.

Registered by the client (``Client.register_plugin``) and so installed on every worker, also on
workers that join or restart later. It sends nothing on its own: no message per task; the client
calls :func:`query` on every worker (``Client.run``) once a window that sent work to the cluster
has ended. Task transitions (on the worker's event loop) start and stop a per-task clock;
thread-seconds add up per tuple of window ids: the client annotates each window's tasks
(``dask.annotate``) with the ids of the windows open when they were submitted (windows nest, so a
task counts in each).

A query asks for the figures at moments already past: the window's start and end, given as how
long before the query was sent they were (``span``); the worker takes them back from the moment
the query reaches it, on its own monotonic clock (both are then late by the query's one-way
latency, milliseconds). The plugin keeps each task that ended within ``HISTORY_S`` with its start
and stop, takes off the time tasks ran after a cut, and reads the host's meter at the cut
(``HostMeter.reading``). A query also keeps the host's meter sampling for its client (one meter
window per client, closed when it leaves): the meter's timeline must cover a window's start,
which no round announced.

Why an annotation of our own and not ``distributed.span``: the scheduler files spans per
TaskGroup (the key's prefix, e.g. every ``client.submit(f)`` is in group ``f``), so while an
earlier cell's futures of ``f`` are alive, a new cell's tasks of ``f`` join the earlier span, and
two notebooks submitting the same function share one.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from distributed.diagnostics.plugin import WorkerPlugin

from .host import HostMeter, host_identity

if TYPE_CHECKING:
    from dask.typing import Key
    from distributed import Worker
    from distributed.worker_state_machine import TaskState

__all__ = ["ANNOTATION", "CarbonWorkerPlugin", "PLUGIN_NAME", "detach", "query"]

PLUGIN_NAME = "jupyter_carbon"
#: A client that has not queried for this long no longer keeps the plugin installed (s).
USER_EXPIRY_S = 3600.0
#: How long the plugin keeps each ended task's start and stop (s): a window's end can be cut this
#: long after it passed (the host meter's timeline reaches as far: ``host.TIMELINE_S``).
HISTORY_S = 300.0
#: Worker task states in which a task occupies (or still runs in) a thread.
_RUNNING = frozenset(("executing", "long-running", "cancelled", "resumed"))


#: The task annotation that carries the ids of the windows a task was submitted in (outermost
#: first).
ANNOTATION = "jupyter_carbon"


def _window_ids(ts: TaskState | None) -> tuple[str, ...]:
    annotations = getattr(ts, "annotations", None) or {}
    return tuple(annotations.get(ANNOTATION) or ())


class CarbonWorkerPlugin(WorkerPlugin):
    """Per-window task thread-seconds on one worker, and the host's meter (if this worker leads)."""

    name = PLUGIN_NAME
    #: one plugin per worker, shared by every client (notebook) that registers it: a second
    #: registration must not reset the counters the first client relies on
    idempotent = True

    def __init__(self) -> None:
        self.worker: Worker | None = None
        self.host = ""
        self.meter: HostMeter | None = None
        self.since_s = float("-inf")  # when it was set up on its worker (monotonic clock)
        self._lock = threading.Lock()
        self._running: dict[Key, tuple[tuple[str, ...], float]] = {}
        self._done_s: defaultdict[tuple[str, ...], float] = defaultdict(float)
        self._busy_s = 0.0
        self._tasks = 0
        #: (window ids, start, stop) of the tasks that ended within HISTORY_S, oldest first
        self._ended: deque[tuple[tuple[str, ...], float, float]] = deque()
        #: the latest stop of a task dropped from ``_ended``: a cut before it is not exact
        self._forgotten_s = float("-inf")
        #: the clients using the plugin, with when each last asked (the plugin is removed when
        #: the last one leaves; a client silent for USER_EXPIRY_S, e.g. a dead kernel, no longer
        #: counts); each keeps a meter window open under its name while it uses the plugin
        self._users: dict[str, float] = {}

    # pickled without its state: only the class travels to the workers
    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        CarbonWorkerPlugin.__init__(self)

    def setup(self, worker: Worker) -> None:
        self.since_s = time.monotonic()
        self.worker = worker
        self.host = host_identity()
        self.meter = HostMeter(self.host)
        self.meter.try_lead()

    def teardown(self, worker: Worker) -> None:
        if self.meter is not None:
            self.meter.shutdown()

    def transition(self, key: Key, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        was, now = start in _RUNNING, finish in _RUNNING
        if was == now:
            return
        t = time.monotonic()
        with self._lock:
            if now:
                ts = self.worker.state.tasks.get(key) if self.worker is not None else None
                self._running[key] = (_window_ids(ts), t)
            else:
                entry = self._running.pop(key, None)
                if entry is not None:
                    elapsed = t - entry[1]
                    self._done_s[entry[0]] += elapsed
                    self._busy_s += elapsed
                    self._tasks += 1
                    ended = self._ended
                    ended.append((entry[0], entry[1], t))
                    while ended[0][2] < t - HISTORY_S:
                        self._forgotten_s = ended.popleft()[2]

    def report(
        self, ids: Iterable[str], user: str = "", cut_s: float | None = None
    ) -> dict[str, Any]:
        """Cumulative thread-seconds (all tasks, and per window id in ``ids``) and the host's
        meter: now, or at ``cut_s`` (a moment already past, on this process's monotonic clock).
        ``user``: the client asking (its meter window is opened, or kept open)."""
        meter = self.meter
        if meter is not None:
            meter.try_lead()  # take over when the host's meter died
        if user:
            self._users[user] = time.monotonic()
            if meter is not None:
                meter.open(user)
        ids = list(ids)
        t = time.monotonic()
        cut = cut_s if cut_s is not None and cut_s < t else None
        notes: list[str] = []
        with self._lock:
            busy = self._busy_s
            window_s = dict.fromkeys(ids, 0.0)
            for key_ids, seconds in self._done_s.items():
                for i in ids:
                    if i in key_ids:
                        window_s[i] += seconds
            at = t if cut is None else cut
            # (ids, start, seconds already counted): the running tasks, and with a cut the tasks
            # that ended after it (they ran past it)
            spans = [(key_ids, started, 0.0) for key_ids, started in self._running.values()]
            if cut is not None:
                for key_ids, started, stopped in reversed(self._ended):
                    if stopped <= cut:
                        break
                    spans.append((key_ids, started, stopped - started))
            running = dict.fromkeys(ids, 0)  # the window's tasks running at the moment
            for key_ids, started, counted in spans:
                seconds = max(0.0, at - started) - counted
                busy += seconds
                for i in ids:
                    if i in key_ids:
                        window_s[i] += seconds
                        running[i] += started < at
            tasks = self._tasks
            if cut is not None and cut < self._forgotten_s:
                notes.append(
                    f"figures asked for {t - cut:.0f} s back; tasks are kept {HISTORY_S:g} s: "
                    "some that ran after that moment are counted before it"
                )
        worker = self.worker
        return {
            "worker": getattr(worker, "address", ""),
            "host": self.host,
            "pid": os.getpid(),
            "nthreads": getattr(getattr(worker, "state", None), "nthreads", 1) or 1,
            "cpu_count": os.cpu_count() or 1,
            "t_s": t if cut is None else cut,
            "since_s": self.since_s,
            "busy_s": busy,
            "tasks": tasks,
            "window_s": window_s,
            "running": running,
            "meter": meter.reading(cut) if meter is not None else None,
            "notes": notes,
        }


def query(
    ids: list[str],
    user: str = "",
    spans: Mapping[str, tuple[float | None, float]] | None = None,
    dask_worker: Worker | None = None,
) -> dict[str, Any]:
    """Run on each worker by ``Client.run``: the plugin's report, or a line saying it is missing.

    ``spans``: window id → how long before the query was sent the window started (None: not
    asked) and ended; the answer is then each window's report as of its end, with the one at its
    start under ``"begin"`` (where no window counts: a window's tasks all start after it opened),
    under ``"windows"``."""
    plugin = (getattr(dask_worker, "plugins", None) or {}).get(PLUGIN_NAME)
    if plugin is None:
        return {
            "worker": getattr(dask_worker, "address", ""),
            "host": host_identity(),
            "missing": "the jupyter_carbon plugin is not installed on this worker",
        }
    if spans is None:
        return plugin.report(ids, user)
    arrived_s = time.monotonic()
    windows = {}
    for window_id, (started_ago_s, ended_ago_s) in spans.items():
        report = plugin.report([window_id], user, arrived_s - ended_ago_s)
        if started_ago_s is not None:
            report["begin"] = plugin.report((), user, arrived_s - started_ago_s)
        windows[window_id] = report
    return {"worker": getattr(dask_worker, "address", ""), "host": plugin.host, "windows": windows}


def detach(user: str, live: Sequence[str] | None = None, dask_worker: Worker | None = None) -> int:
    """Run on each worker by ``Client.run`` when a client leaves: its meter window is closed;
    how many other clients still use the plugin. A user is ``<client id>/<meter id>``: with
    ``live`` (the ids of the clients connected to the scheduler) a connected client counts
    however long it has been silent; without it, one silent for USER_EXPIRY_S does not."""
    plugin = (getattr(dask_worker, "plugins", None) or {}).get(PLUGIN_NAME)
    if plugin is None:
        return 0
    plugin._users.pop(user, None)
    if plugin.meter is not None:
        plugin.meter.close(user)
    now = time.monotonic()
    if live is not None:
        connected = set(live)
        return sum(1 for other in plugin._users if other.split("/")[0] in connected)
    return sum(1 for seen in plugin._users.values() if now - seen < USER_EXPIRY_S)
