"""The client side: install the worker plugin, measure each window on the cluster, settle late
work.

Per window two rounds of ``Client.run`` (one message to every worker through the scheduler): at
the open and at the close. The window's tasks carry its id in a task annotation
(``dask.annotate(jupyter_carbon=ids)``, entered when the window opens), so two notebooks on one
cluster never share an id. Like every dask annotation it lives in a context variable: tasks
submitted from other threads during the window are not the window's. Futures the window created
that are still pending at its close are followed by one background thread (it reads the
client's own future states, no message to the cluster while it waits); once they are all done,
one more round measures what ran after the close, and that part is handed to ``on_late`` as a
"completed later" part of the same window.

What a cell pays: the opening round is sent without waiting for it (the cell starts at once);
at the close, a window that sent nothing to the cluster (no new future, no message to the
scheduler) has no part there and waits for no round: its meter window is closed by a round sent
once the opening one has answered. A window that did send work waits for its closing round only
through :meth:`ClusterMeter.end`; :meth:`ClusterMeter.end_later` (the session's observer) waits
for none: the window gets a part that ``follows`` at once, and one background thread (the
settler, :mod:`.settler`) runs the closing round and hands the window's measured part to a
callback, which the observer records as a follow-up record pointing to the window's (records
stay immutable).
Either way the closing round asks each worker for its figures as of the window's end, not as of
the round's arrival (the rule is in :mod:`.attribute`): a share settled late is the share the
window would have had. :meth:`ClusterMeter.settle` waits until every share that follows has
been handed on; what cannot be measured in time is handed on with a flag saying why.
A round that timed out may still reach the workers: the meter windows it opened are closed with
the next round. The worker plugin is shared by every client of the cluster: one leaving removes
it only when no other connected client uses it, and a client that finds it gone installs it again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
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


@dataclass
class ClusterWindow:
    """A window's part on the cluster while it is open (held by the window it measures)."""

    window_id: str
    annotation_cm: AbstractContextManager[None]
    begin: concurrent.futures.Future  # the opening round: the reports at the window's open
    keys_before: frozenset
    meter: ClusterMeter  # the meter that opened it, and ends it
    context: Any = None  # what the caller wants back with a late part (e.g. the measurement)
    sent_before: int = -1  # messages the client had sent to the scheduler at the open
    opened_s: float = 0.0  # when the opening round was sent (this process's monotonic clock)
    ended_s: float | None = None  # when the window ended (same clock)

    @property
    def duration_s(self) -> float:
        """From sending the opening round to the window's end (or now, while it is open)."""
        end = time.monotonic() if self.ended_s is None else self.ended_s
        return max(0.0, end - self.opened_s)

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
    begin: dict[str, Any]  # the reports at the window's close
    token: str


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
        #: meter windows whose round timed out (it may still arrive): closed with the next round
        self._unclosed: list[str] = []
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
        #: the windows whose share follows: measured after they ended (``end_later``)
        self.settler = Settler(
            lambda window, pending: self._measure(window, (), pending), self.problems
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
        self.query([])  # see which workers answer

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
            abandon="not measured: jupyter_carbon was unloaded before the cell's closing round "
            "answered",
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
        self,
        ids: list[str],
        opened: Sequence[str] = (),
        closed: Sequence[str] = (),
        cuts: dict[str, float] | None = None,
    ) -> dict[str, Any]:
        """One round: each worker's report (or the exception it raised); ``cuts``: worker address
        → the moment, on that worker's clock, its report is to be taken at (else on arrival)."""
        reports = self._wait(self._send(ids, opened, closed, cuts), opened, closed)
        if any(_lacks_plugin(r) for r in reports.values()):
            now = time.monotonic()
            if now - self._reinstalled_s >= REINSTALL_EVERY_S:  # another client removed it
                self._reinstalled_s = now
                self._register()
                reports = self._wait(self._send(ids, opened, (), cuts), opened, ())
        self.last_reports = reports
        self.missing = missing_workers(reports)
        return reports

    def _send(
        self,
        ids: Sequence[str],
        opened: Sequence[str] = (),
        closed: Sequence[str] = (),
        cuts: dict[str, float] | None = None,
    ) -> concurrent.futures.Future:
        """Start a round on the client's event loop; the future is its reports."""
        from .worker import query  # .worker imports distributed

        with self._lock:  # also appended to from the client's loop thread
            closed, self._unclosed = [*closed, *self._unclosed], []
        timeout_s = ROUND_TIMEOUT_S  # Client.run has no time limit: a hung worker must not hold us
        run = self.client._run(
            query, list(ids), list(opened), closed, self.user, cuts, on_error="return"
        )

        async def timed() -> dict[str, Any]:
            return await asyncio.wait_for(run, timeout_s)

        if getattr(self.client, "_asynchronous", False):  # its loop is the caller's: not ours
            run.close()
            raise RuntimeError("an asynchronous distributed.Client is not measured")
        # tornado's AsyncIOLoop (distributed's) runs on this asyncio loop
        loop: asyncio.AbstractEventLoop = getattr(self.client.loop, "asyncio_loop")  # noqa: B009
        return asyncio.run_coroutine_threadsafe(timed(), loop)

    def _wait(
        self,
        future: concurrent.futures.Future,
        opened: Sequence[str] = (),
        closed: Sequence[str] = (),
    ) -> dict[str, Any]:
        try:
            return future.result(ROUND_TIMEOUT_S + 1.0)
        except BaseException:
            future.cancel()
            # it may still reach the workers: close what it opened (or meant to close) later
            with self._lock:
                self._unclosed.extend([*opened, *closed])
            raise

    def _keys(self) -> dict:
        for _ in range(5):  # the client's loop thread may change the dict while we copy it
            try:
                return dict(self.client.futures)
            except RuntimeError:
                continue
        return {}

    def begin(self, context: Any = None) -> ClusterWindow:
        import dask

        from .worker import ANNOTATION  # .worker imports distributed

        window_id = uuid.uuid4().hex
        outer = tuple(dask.get_annotations().get(ANNOTATION) or ())
        cm = dask.annotate(**{ANNOTATION: outer + (window_id,)})
        cm.__enter__()
        try:
            keys = frozenset(self._keys())
            sent = self._sent()
            opened_s = time.monotonic()
            begin = self._send([window_id], opened=[window_id])  # not waited for: see above
        except BaseException:
            _exit(cm)
            raise
        return ClusterWindow(window_id, cm, begin, keys, self, context, sent, opened_s)

    def _sent(self) -> int:
        """How many messages the client has sent to the scheduler (graphs, releases…)."""
        return int(getattr(getattr(self.client, "scheduler_comm", None), "message_count", -1))

    def end(self, window: ClusterWindow) -> tuple[ClusterPart | None, tuple[str, ...]]:
        """The window's part and the record flags; pending futures are followed up. A window
        that sent nothing to the cluster has no part (None) and waits for no round."""
        flags, pending = self._leave(window)
        if pending is None:
            return None, flags
        return self._measure(window, flags, pending)

    def end_later(
        self, window: ClusterWindow, on_settled: OnSettled
    ) -> tuple[ClusterPart | None, tuple[str, ...]]:
        """Like :meth:`end`, but a window that sent work waits for no round: its part is one
        that ``follows`` (no hosts yet), and the settler runs the closing round after it and calls
        ``on_settled(window, part, flags)`` with what :meth:`end` would have given. A window
        whose opening round has already failed is answered at once, as by :meth:`end`."""
        flags, pending = self._leave(window)
        if pending is None:
            return None, flags
        begin = window.begin
        if begin.done() and (begin.cancelled() or begin.exception() is not None):
            return self._measure(window, flags, pending)  # fails without waiting: the flag
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
        (None when it sent nothing to the cluster: then its meter window is closed by a round
        sent once the opening one has answered, never waited for)."""
        window.ended_s = time.monotonic()
        flags = _exit(window.annotation_cm)
        futures = self._keys()
        new = [k for k in futures if k not in window.keys_before]
        sent = self._sent()
        if not new and sent >= 0 and sent == window.sent_before:
            token = window.window_id
            window.begin.add_done_callback(lambda _: self._close_later(token))
            return flags, None
        return flags, tuple(k for k in new if getattr(futures.get(k), "status", "") == "pending")

    def _measure(
        self, window: ClusterWindow, leave_flags: tuple[str, ...], pending: tuple
    ) -> tuple[ClusterPart | None, tuple[str, ...]]:
        """Wait for the opening round, run the closing one: the window's part and flags."""
        flags = list(leave_flags)
        try:
            window.begin = _done(self._wait(window.begin, opened=[window.window_id]))
        except Exception as exc:
            return None, (*flags, f"cluster: not measured ({type(exc).__name__}: {exc})")
        late_token = window.window_id + "-late"
        begin = window.begin.result()
        # each worker's figures as of the window's end: its clock at the opening round plus the
        # window's duration here (see .attribute)
        cuts = {
            address: report["t_s"] + window.duration_s
            for address, report in begin.items()
            if isinstance(report, dict) and isinstance(report.get("t_s"), float)
        }
        reports = self.query(
            [window.window_id],
            opened=[late_token] if pending else [],
            closed=[window.window_id],
            cuts=cuts,
        )
        hosts = attribute(begin, reports, window.window_id)
        flags += [f"cluster: {line}" for line in self.missing]
        flags += [f"cluster: {flag}" for host in hosts for flag in host.flags]
        self.incidents.extend(incident for host in hosts for incident in host.incidents)
        if pending:
            flags.append(_pending_flag(len(pending)))
            with self._lock:
                self.late.append(LateWork(window, pending, reports, late_token))
            self._ensure_thread()
        part = ClusterPart(
            hosts=hosts, pending_futures=len(pending), flags=tuple(flags), scheduler=self.scheduler
        )
        return part, tuple(flags)

    @property
    def following(self) -> int:
        """How many windows' shares are still to be handed on (see :mod:`.settler`)."""
        return self.settler.following

    def settle(self, timeout_s: float = 2 * ROUND_TIMEOUT_S + 5.0, abandon: str = "") -> bool:
        """Wait until every share that follows has been handed on (see :meth:`.Settler.settle`)."""
        return self.settler.settle(timeout_s, abandon)

    def _close_later(self, token: str) -> None:
        """Close the meter window ``token`` of a window that sent nothing (its opening round has
        answered, or failed); never waited for."""
        try:
            self._send([], closed=[token]).add_done_callback(_ignore)
        except Exception:
            with self._lock:
                self._unclosed.append(token)

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
            reports = self.query([window_id], closed=[late.token])
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


def _done(value: Any) -> concurrent.futures.Future:
    future: concurrent.futures.Future = concurrent.futures.Future()
    future.set_result(value)
    return future


def _ignore(future: concurrent.futures.Future) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: never "exception was never retrieved"


def _exit(cm: AbstractContextManager[None]) -> tuple[str, ...]:
    try:
        cm.__exit__(None, None, None)
        return ()
    except Exception as exc:  # e.g. closed in another context than it was opened in
        return (
            f"cluster: could not close the cell's task annotation ({type(exc).__name__}: {exc})",
        )
