"""The client side: install the worker plugin, measure each window on the cluster, settle late
work.

A window costs the cluster nothing while it is open: it only enters a task annotation
(``dask.annotate(jupyter_carbon=ids)``), which marks the tasks submitted in it with its id, so two
notebooks on one cluster never share an id (like every dask annotation it lives in a context
variable: tasks submitted from other threads during the window are not the window's). At its
end, a window that sent no work to the cluster (made no future: the client's heartbeats and
releases are not work) has no part there and costs no round at all. One that did gets one
round of ``Client.run`` (one message to every worker through the scheduler) after it ended,
which asks each worker for its
figures at the window's start and at its end, told as how long before the round was sent each
was (:mod:`.worker`; the rule is in :mod:`.attribute`). :meth:`ClusterMeter.end` waits for that
round; :meth:`ClusterMeter.end_later` (the session's observer) does not: the window gets a part
that ``follows`` at once, and one background thread (the settler, :mod:`.settler`) runs the
round and hands the window's part to a callback, which the observer records as a follow-up
record pointing to the window's (records stay immutable). Either way the figures are the
window's, whenever the round comes.

The workers keep their task history and the host meter's timeline for ``worker.HISTORY_S``: a
window still open after ``OPENING_ROUND_AFTER_S`` has its start read then by a round of its own
(on the settler's thread), so a long window's start never falls out of that history. A worker
that answered the meter's previous round and not a window's round, or one that joined during the
window, makes the meter ask the scheduler which workers left during the window: those are
flagged as died mid-window (the rest is kept).

Futures the window created that are still pending at its end are followed by one background
thread (it reads the client's own future states, no message to the cluster while it waits);
once they are all done, one more round measures what ran after the end, and that part is handed
to ``on_late`` as a "completed later" part of the same window. :meth:`ClusterMeter.settle` waits
until every share that follows has been handed on; what cannot be measured in time is handed on
with a flag saying why. The worker plugin is shared by every client of the cluster: one leaving
removes it only when no other connected client uses it, and a client that finds it gone installs
it again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..cluster_part import ClusterPart
from .attribute import attribute, missing_workers
from .settler import OnSettled, Settler

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["ClusterMeter", "ClusterWindow", "LateWork"]


#: The longest a window's round to the workers may take; past it the round fails (the cell gets a
#: flag, its own figures are kept) instead of waiting on a hung worker.
ROUND_TIMEOUT_S = 5.0
#: The shortest time between two re-installs of a plugin that went missing (s).
REINSTALL_EVERY_S = 10.0
#: A window still open this long has its start read by a round of its own (s): well within the
#: workers' history (``worker.HISTORY_S``), checked every ``settler.WATCH_S``.
OPENING_ROUND_AFTER_S = 60.0


@dataclass
class ClusterWindow:
    """A window's part on the cluster while it is open (held by the window it measures)."""

    window_id: str
    annotation_cm: AbstractContextManager[None]
    keys_before: frozenset
    meter: ClusterMeter  # the meter that opened it, and ends it
    context: Any = None  # what the caller wants back with a late part (e.g. the measurement)
    futures_before: int = -1  # distributed's future counter at the open (``_futures_made``)
    opened_s: float = 0.0  # when it opened (this process's monotonic clock)
    ended_s: float | None = None  # when it ended (same clock)
    #: each worker's report at the window's start, once a round has read it (a long window)
    begin: dict[str, Any] | None = None

    def end(self) -> tuple[ClusterPart | None, tuple[str, ...]]:
        """The window's part and the record flags (see :meth:`ClusterMeter.end`)."""
        return self.meter.end(self)

    def end_later(self, on_settled: OnSettled) -> tuple[ClusterPart | None, tuple[str, ...]]:
        """The same without waiting for a round (see :meth:`ClusterMeter.end_later`)."""
        return self.meter.end_later(self, on_settled)


@dataclass
class LateWork:
    """A closed window whose futures were still pending."""

    window: ClusterWindow
    keys: tuple
    begin: dict[str, Any]  # the reports at the window's end


class ClusterMeter:
    """Measures windows on the cluster of one ``distributed.Client``."""

    def __init__(
        self,
        client: Client,
        *,
        on_late: Callable[[LateWork, ClusterPart], object] | None = None,
        poll_s: float = 0.25,
    ) -> None:
        self.client = client
        self.on_late = on_late
        self.poll_s = poll_s
        #: this meter, as the workers' plugin knows it: ``<client id>/<meter id>``
        self.user = f"{getattr(client, 'id', '')}/{uuid.uuid4().hex}"
        self._reinstalled_s = -REINSTALL_EVERY_S
        self.problems: list[str] = []  # one line each (install failures)
        #: workers without jupyter_carbon or the plugin, at the last query
        self.missing: list[str] = []
        self.last_reports: dict[str, Any] = {}
        self.late: list[LateWork] = []
        #: the latest flags about dead workers and moved meters, for ``%carbon status``
        self.incidents: deque[str] = deque(maxlen=5)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        #: the windows open now, by id (the settler reads the start of long ones)
        self._open: dict[str, ClusterWindow] = {}
        #: the windows whose share follows: measured after they ended (``end_later``)
        self.settler = Settler(
            self._measure,
            self.problems,
            watch=self._read_long_starts,
            busy=lambda: bool(self._open),
        )

    @property
    def scheduler(self) -> str:
        try:
            return str(self.client.scheduler.address)
        except Exception:
            return ""

    # --- plugin ---------------------------------------------------------------------------------

    def install(self) -> None:
        """Register the worker plugin (once per cluster: it is shared by every client)."""
        self._register()
        self.query([])  # see which workers answer; their host meters sample for us from now
        self.settler.start()

    def _register(self) -> None:
        from .worker import PLUGIN_NAME, CarbonWorkerPlugin  # .worker imports distributed

        try:
            responses = self.client.register_plugin(CarbonWorkerPlugin(), name=PLUGIN_NAME)
            for address, response in (responses or {}).items():
                if isinstance(response, dict) and response.get("status") == "error":
                    self.problems.append(
                        f"worker {address}: the jupyter_carbon plugin failed to start: "
                        f"{response.get('exception_text') or response}"
                    )
        except Exception as exc:
            self.problems.append(
                f"the jupyter_carbon plugin failed on some workers ({type(exc).__name__}: {exc}); "
                "install jupyter_carbon on every worker: pip install 'jupyter-carbon[dask]'"
            )

    def uninstall(self) -> None:
        """Settle pending work, leave the plugin to other clients, remove it when the last
        leaves."""
        from .worker import PLUGIN_NAME, detach  # .worker imports distributed

        self.settle(
            2 * ROUND_TIMEOUT_S + 5.0,
            abandon="not measured: jupyter_carbon was unloaded before the cell's round answered",
        )
        self.settler.stop()
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)
        for late in list(self.late):
            self._settle(
                late,
                flag=(
                    "not finished when jupyter_carbon was unloaded: "
                    "energy up to the unload is charged, the rest is not measured"
                ),
            )
        try:
            live: list[str] | None = list(self.client.run_on_scheduler(_client_ids))
        except Exception:
            live = None  # the workers then count the clients heard from lately
        try:
            remaining = self.client.run(detach, self.user, live, on_error="return")
            if not any(isinstance(n, int) and n > 0 for n in remaining.values()):
                self.client.unregister_worker_plugin(PLUGIN_NAME)
        except Exception:
            pass  # the cluster may already be gone

    # --- windows --------------------------------------------------------------------------------

    def query(
        self, ids: Sequence[str] = (), windows: Mapping[str, Span] | None = None
    ) -> dict[str, Any]:
        """One round: each worker's report now for the window ids ``ids`` (or the exception it
        raised); with ``windows`` (window id → its span), each worker's reports as of each
        window's end, with the one at its start under ``"begin"`` (see ``worker.query``)."""
        reports = self._wait(self._send(ids, windows))
        if any(_lacks_plugin(r) for r in reports.values()):
            now = time.monotonic()
            if now - self._reinstalled_s >= REINSTALL_EVERY_S:  # another client removed it
                self._reinstalled_s = now
                self._register()
                reports = self._wait(self._send(ids, windows))
        self.last_reports = reports
        self.missing = missing_workers(reports)
        return reports

    def _send(
        self, ids: Sequence[str], windows: Mapping[str, Span] | None = None
    ) -> concurrent.futures.Future:
        """Start a round on the client's event loop; the future is its reports."""
        from .worker import query  # .worker imports distributed

        if getattr(self.client, "_asynchronous", False):  # its loop is the caller's: not ours
            raise RuntimeError("an asynchronous distributed.Client is not measured")
        timeout_s = ROUND_TIMEOUT_S  # Client.run has no time limit: a hung worker must not hold us
        now = time.monotonic()
        # each moment as how long before the round was sent it was: the workers take it back
        # from the round's arrival on their own clocks
        ages = None
        if windows is not None:
            ages = {
                wid: (None if start_s is None else now - start_s, max(0.0, now - end_s))
                for wid, (start_s, end_s) in windows.items()
            }
        run = self.client._run(query, list(ids), self.user, ages, on_error="return")

        async def timed() -> dict[str, Any]:
            return await asyncio.wait_for(run, timeout_s)

        # tornado's AsyncIOLoop (distributed's) runs on this asyncio loop
        loop: asyncio.AbstractEventLoop = getattr(self.client.loop, "asyncio_loop")  # noqa: B009
        return asyncio.run_coroutine_threadsafe(timed(), loop)

    def _wait(self, future: concurrent.futures.Future) -> dict[str, Any]:
        try:
            return future.result(ROUND_TIMEOUT_S + 1.0)
        except BaseException:
            future.cancel()
            raise

    def _keys(self) -> dict:
        for _ in range(5):  # the client's loop thread may change the dict while we copy it
            try:
                return dict(self.client.futures)
            except RuntimeError:
                continue
        return {}

    def begin(self, context: Any = None) -> ClusterWindow:
        """Open a window: its tasks are annotated with its id from now on (no message sent)."""
        import dask

        from .worker import ANNOTATION  # .worker imports distributed

        window_id = uuid.uuid4().hex
        outer = tuple(dask.get_annotations().get(ANNOTATION) or ())
        cm = dask.annotate(**{ANNOTATION: outer + (window_id,)})
        cm.__enter__()
        try:
            window = ClusterWindow(
                window_id,
                cm,
                frozenset(self._keys()),
                self,
                context,
                _futures_made(),
                time.monotonic(),
            )
        except BaseException:
            _exit(cm)
            raise
        self._open[window_id] = window
        return window

    def end(self, window: ClusterWindow) -> tuple[ClusterPart | None, tuple[str, ...]]:
        """The window's part and the record flags; pending futures are followed up. A window
        that sent nothing to the cluster has no part (None) and costs no round."""
        flags, pending = self._leave(window)
        if pending is None:
            return None, flags
        ((part, more),) = self._measure([(window, pending)])
        return part, (*flags, *more)

    def end_later(
        self, window: ClusterWindow, on_settled: OnSettled
    ) -> tuple[ClusterPart | None, tuple[str, ...]]:
        """Like :meth:`end`, but a window that sent work waits for no round: its part is one
        that ``follows`` (no hosts yet), and the settler runs the round after it and calls
        ``on_settled(window, part, flags)`` with what :meth:`end` would have given."""
        flags, pending = self._leave(window)
        if pending is None:
            return None, flags
        self.settler.add(window, pending, on_settled)
        notes = (
            "cluster: measured after the cell ended: its share follows in a record of its own",
            *((_pending_flag(len(pending)),) if pending else ()),
        )
        part = ClusterPart(
            pending_futures=len(pending), follows=True, flags=notes, scheduler=self.scheduler
        )
        return part, (*flags, *notes)

    def _leave(self, window: ClusterWindow) -> tuple[tuple[str, ...], tuple | None]:
        """Leave the window's task annotation: its flags, and the window's futures still pending
        (None when it sent nothing to the cluster)."""
        window.ended_s = time.monotonic()
        self._open.pop(window.window_id, None)
        flags = _exit(window.annotation_cm)
        futures = self._keys()
        new = [k for k in futures if k not in window.keys_before]
        made = _futures_made()
        if not new and made >= 0 and made == window.futures_before + 1:  # only our own read
            return flags, None
        return flags, tuple(k for k in new if getattr(futures.get(k), "status", "") == "pending")

    def _measure(
        self, ended: Sequence[tuple[ClusterWindow, tuple]]
    ) -> list[tuple[ClusterPart | None, tuple[str, ...]]]:
        """One round for windows that ended (each with its futures still pending at its end):
        each one's part and flags."""
        earlier = self.last_reports
        try:
            reports = self.query(windows={w.window_id: _span(w) for w, _ in ended})
        except Exception as exc:
            return [(None, (f"cluster: not measured ({type(exc).__name__}: {exc})",))] * len(ended)
        missing = [f"cluster: {line}" for line in self.missing]
        results: list[tuple[ClusterPart | None, tuple[str, ...]]] = []
        for window, pending in ended:
            end = _window_reports(reports, window.window_id)
            begin, left = self._with_departed(
                window, earlier, window.begin or _begin_reports(end), end
            )
            hosts = attribute(begin, end, window.window_id)
            flags = [*missing, *left, *(f"cluster: {f}" for host in hosts for f in host.flags)]
            self.incidents.extend(incident for host in hosts for incident in host.incidents)
            if pending:
                flags.append(_pending_flag(len(pending)))
                with self._lock:
                    self.late.append(LateWork(window, pending, end))
                self._ensure_thread()
            part = ClusterPart(
                hosts=hosts,
                pending_futures=len(pending),
                flags=tuple(flags),
                scheduler=self.scheduler,
            )
            results.append((part, tuple(flags)))
            self.last_reports = end  # plain reports, per worker (the status reads them)
        return results

    def _read_long_starts(self) -> None:
        """Read the start of each window open for ``OPENING_ROUND_AFTER_S`` (the settler's
        watch): the workers' history reaches back a limited time."""
        now = time.monotonic()
        for window in list(self._open.values()):
            if window.begin is None and now - window.opened_s >= OPENING_ROUND_AFTER_S:
                try:
                    reports = self.query(windows={window.window_id: _span(window)})
                except Exception:
                    continue  # its round after it reads the start instead (flagged if too old)
                window.begin = _begin_reports(_window_reports(reports, window.window_id))

    def _with_departed(
        self,
        window: ClusterWindow,
        earlier: dict[str, Any],
        begin: dict[str, Any],
        reports: dict[str, Any],
    ) -> tuple[dict[str, Any], list[str]]:
        """``begin`` with the workers that left the cluster during the window (they were there at
        its start), and flags for those that left after it, before its round: the scheduler is
        asked only when a worker that answered before is missing, or one joined."""
        gone = [a for a in earlier if a not in reports and a not in begin]
        joined = any(
            isinstance(r, dict) and r.get("since_s", 0.0) > r.get("t_s", 0.0)
            for r in begin.values()
        )
        if not gone and not joined:
            return begin, []
        try:
            sent_s = time.monotonic()
            left = self.client.run_on_scheduler(_workers_removed, sent_s - window.opened_s)
        except Exception:
            return begin, []
        ended_s = window.ended_s if window.ended_s is not None else sent_s
        departed, flags = {}, []
        for address, ago_s in left:
            report = earlier.get(address)
            if not isinstance(report, dict) or "host" not in report:
                continue
            if sent_s - ago_s <= ended_s:  # stamped once it was gone: it died before the end
                departed[address] = {**report, "meter": None}
            else:
                flags.append(
                    f"cluster: worker {address} ({report['host']}) left after the cell ended, "
                    "before its share was measured (e.g. a LocalCluster ends with its kernel): "
                    "its part is not measured"
                )
        return {**departed, **begin}, flags

    @property
    def following(self) -> int:
        """How many windows' shares are still to be handed on (see :mod:`.settler`)."""
        return self.settler.following

    def settle(self, timeout_s: float = 2 * ROUND_TIMEOUT_S + 5.0, abandon: str = "") -> bool:
        """Wait until every share that follows has been handed on (see :meth:`.Settler.settle`)."""
        return self.settler.settle(timeout_s, abandon)

    # --- late work ------------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._follow, name="jupyter_carbon-cluster-late", daemon=True
        )
        self._thread.start()

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_s):
            with self._lock:
                work = list(self.late)
            if not work:
                return
            futures = self.client.futures  # only looked up, key by key: no copy of every future
            for late in work:
                if all(
                    getattr(futures.get(k), "status", "finished") != "pending" for k in late.keys
                ):
                    self._settle(late)

    def _settle(self, late: LateWork, flag: str | None = None) -> None:
        with self._lock:
            if late not in self.late:
                return
            self.late.remove(late)
        window_id = late.window.window_id
        flags = [flag] if flag else []
        try:
            reports = self.query([window_id])
            hosts = attribute(late.begin, reports, window_id, late=True)
            flags += [f"cluster: {line}" for line in self.missing]
            flags += [f"cluster: {f}" for host in hosts for f in host.flags]
        except Exception as exc:
            hosts = ()
            flags.append(
                f"cluster: could not measure the work completed later ({type(exc).__name__}: {exc})"
            )
        part = ClusterPart(hosts=hosts, flags=tuple(flags), scheduler=self.scheduler)
        if self.on_late is not None:
            try:
                self.on_late(late, part)
            except Exception as exc:
                self.problems.append(
                    f"could not record the work completed later: {type(exc).__name__}: {exc}"
                )


#: A window's start (None: already read) and end (now, while it is open) on this process's
#: monotonic clock.
Span = tuple["float | None", float]


def _futures_made() -> int:
    """A number that grows by one with each ``distributed.Future`` made in this process, and by
    one at each call (-1 where it cannot be read). Every submission of work (``submit``, ``map``,
    ``compute``, ``persist``, ``dask.compute`` on the client) makes a future, even one released
    before the window ends; the client's own messages (heartbeats, releases) make none. It reads
    distributed's id counter by taking the next id, which only has to be unique."""
    from distributed import Future

    counter = getattr(Future, "_counter", None)
    try:
        return int(next(counter)) if counter is not None else -1
    except (TypeError, ValueError):
        return -1


def _span(window: ClusterWindow) -> Span:
    end_s = window.ended_s if window.ended_s is not None else time.monotonic()
    return (window.opened_s if window.begin is None else None, end_s)


def _window_reports(reports: dict[str, Any], window_id: str) -> dict[str, Any]:
    """Each worker's report for one of the round's windows (or its answer, when it has none)."""
    return {
        address: report["windows"].get(window_id, report)
        if isinstance(report, dict) and isinstance(report.get("windows"), dict)
        else report
        for address, report in reports.items()
    }


def _begin_reports(reports: dict[str, Any]) -> dict[str, Any]:
    """Each worker's report at the window's start, from a round's (see ``worker.query``)."""
    return {
        address: report.get("begin", report) if isinstance(report, dict) else report
        for address, report in reports.items()
    }


#: How far a moment told by age may be off on another process (a round's one-way latency, s).
_LATENCY_S = 0.25


def _workers_removed(since_age_s: float, dask_scheduler: Any = None) -> list[tuple[str, float]]:
    """Run on the scheduler: the workers removed since a moment, told as how long before the
    call was sent it was, each with how long ago (the scheduler's events are stamped with its
    wall clock)."""
    now = time.time()
    return [
        (str(event.get("worker")), now - stamp)
        for stamp, event in dask_scheduler.get_events("all")
        if isinstance(event, dict)
        and event.get("action") == "remove-worker"
        and stamp >= now - since_age_s - _LATENCY_S
    ]


def _client_ids(dask_scheduler: Any = None) -> list[str]:
    """Run on the scheduler: the ids of the clients connected to it."""
    return [str(c) for c in getattr(dask_scheduler, "clients", {})]


def _lacks_plugin(report: Any) -> bool:
    """A worker that has jupyter_carbon but not the plugin (see ``worker.query``)."""
    return isinstance(report, dict) and "plugin is not installed" in str(report.get("missing", ""))


def _pending_flag(count: int) -> str:
    return (
        f"cluster: {count} future(s) still pending when the cell ended; "
        "their tasks' energy is charged to this cell when they complete (completed later)"
    )


def _exit(cm: AbstractContextManager[None]) -> tuple[str, ...]:
    try:
        cm.__exit__(None, None, None)
        return ()
    except Exception as exc:  # e.g. closed in another context than it was opened in
        return (
            f"cluster: could not close the cell's task annotation ({type(exc).__name__}: {exc})",
        )
