"""The windows whose share on the cluster follows them: one thread measures them after they
ended, in order, and hands each share on exactly once.

:meth:`.client.ClusterMeter.end_later` gives a window to the settler instead of waiting for its
round. ``AFTER_END_S`` after the window's end (or, while another window is open, as when cells
run one after another, once it has closed, at most ``BATCH_S`` after the end), the settler's
thread measures it in one round with every window that ended meanwhile (``measure``, the
meter's synchronous path, which takes each window's figures as of its own start and end) and
calls each window's ``on_settled``.
:meth:`Settler.settle` waits until every share has been handed on; with ``abandon`` the ones still
waiting are handed on at once, not measured, with that flag, and a round that answers later is
dropped: a share is never handed on twice, nor lost. The thread also calls its ``watch`` every
``WATCH_S`` (the meter reads the start of long open windows there)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..cluster_part import ClusterPart
    from .client import ClusterWindow

__all__ = ["Measure", "OnSettled", "Settler"]

#: Called with a window whose share followed, its measured part (None: not measured) and the
#: part's flags.
OnSettled = Callable[["ClusterWindow", "ClusterPart | None", tuple[str, ...]], object]
#: Measures windows that ended (each with its futures still pending at its end) in one round:
#: each one's part and flags, in order.
Measure = Callable[
    [Sequence[tuple["ClusterWindow", tuple]]],
    Sequence[tuple["ClusterPart | None", tuple[str, ...]]],
]
#: A window is measured this long after its end at the earliest (s): the cell's reply goes out
#: first (the round and the share's record take the kernel's CPU and its GIL).
AFTER_END_S = 0.02
#: While another window is open (cells run one after another: Run All), the windows that ended
#: wait for it, at most this long after the first of them ended (s), and share one round.
BATCH_S = 1.0
#: How often a waiting batch looks whether the open window has ended (s).
POLL_S = 0.02
#: How often the thread calls its ``watch`` (s).
WATCH_S = 10.0
#: What the queue gives when nothing came in time.
_NOTHING = ()


class Settler:
    """One thread that measures ended windows in order (see the module's docstring)."""

    def __init__(
        self,
        measure: Measure,
        problems: list[str],
        watch: Callable[[], object] | None = None,
        busy: Callable[[], bool] | None = None,
    ) -> None:
        self._measure = measure
        self._problems = problems  # the meter's: a callback that fails is said there
        self._watch = watch
        self._busy = busy  # True while a window is open
        #: the windows to measure, in order (None: stop)
        self._jobs: queue.SimpleQueue[tuple[ClusterWindow, tuple] | tuple[()] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        #: the windows not handed on yet, by id (a window stays until its callback has returned)
        self._following: dict[str, tuple[ClusterWindow, OnSettled]] = {}
        self._handing: set[str] = set()  # those whose callback runs now
        self._settled = threading.Condition()

    @property
    def following(self) -> int:
        """How many windows' shares are still to be handed on."""
        return len(self._following)

    def add(self, window: ClusterWindow, pending: tuple, on_settled: OnSettled) -> None:
        """Measure ``window`` (``pending``: its futures still pending at its end) after it ended
        and call ``on_settled`` with its share."""
        with self._settled:
            self._following[window.window_id] = (window, on_settled)
        self._jobs.put((window, pending))
        self.start()

    def start(self) -> None:
        """Start the thread (if it is not running)."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="jupyter_carbon-cluster-settle", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        watch_at = time.monotonic() + WATCH_S
        while True:
            try:
                timeout = max(0.0, watch_at - time.monotonic()) if self._watch else None
                job = self._jobs.get(timeout=timeout)
            except queue.Empty:
                job = _NOTHING
            if self._watch is not None and time.monotonic() >= watch_at:
                self._call_watch()
                watch_at = time.monotonic() + WATCH_S
            if job is None:
                return
            if not job:  # nothing came: the watch only
                continue
            window, pending = job
            self._wait_for_a_pause(window.ended_s)
            batch, stop = [(window, pending)], False
            while True:  # the windows that ended meanwhile: measured in the same round
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                if more:
                    batch.append(more)
            with self._settled:  # those abandoned by settle() meanwhile are not measured
                batch = [job for job in batch if job[0].window_id in self._following]
            if batch:
                self._measure_batch(batch)
            if stop:
                return

    def _wait_for_a_pause(self, ended_s: float | None) -> None:
        """Until ``AFTER_END_S`` after ``ended_s``, then while another window is open, at most
        until ``BATCH_S`` after it."""
        ended_s = time.monotonic() if ended_s is None else ended_s
        time.sleep(max(0.0, ended_s + AFTER_END_S - time.monotonic()))
        busy = self._busy
        while busy is not None and busy() and time.monotonic() < ended_s + BATCH_S:
            if not self._following:  # all abandoned by settle()
                return
            time.sleep(POLL_S)

    def _measure_batch(self, batch: list[tuple[ClusterWindow, tuple]]) -> None:
        try:
            results = list(self._measure(batch))
        except Exception as exc:  # a round that failed or timed out
            results = [(None, (f"cluster: not measured ({type(exc).__name__}: {exc})",))] * len(
                batch
            )
        for (window, _), (part, flags) in zip(batch, results):
            self._hand_on(window, part, flags)

    def _call_watch(self) -> None:
        try:
            if self._watch is not None:
                self._watch()
        except Exception as exc:
            line = f"the cluster meter's watch failed: {type(exc).__name__}: {exc}"
            if line not in self._problems:
                self._problems.append(line)

    def _hand_on(
        self, window: ClusterWindow, part: ClusterPart | None, flags: tuple[str, ...]
    ) -> None:
        """Hand a window's share to its callback, once."""
        wid = window.window_id
        with self._settled:
            entry = self._following.get(wid)
            if entry is None or wid in self._handing:
                return
            self._handing.add(wid)
        try:
            entry[1](window, part, flags)
        except Exception as exc:
            self._problems.append(
                f"could not record a cell's cluster share: {type(exc).__name__}: {exc}"
            )
        finally:
            with self._settled:
                self._following.pop(wid, None)
                self._handing.discard(wid)
                self._settled.notify_all()

    def settle(self, timeout_s: float, abandon: str = "") -> bool:
        """Wait until every share has been handed on (True), at most ``timeout_s``. With
        ``abandon``, those still waiting then are handed on at once, not measured, with
        ``abandon`` as their flag (their round, should it answer later, is dropped)."""
        deadline = time.monotonic() + timeout_s
        with self._settled:
            while self._following:
                left = deadline - time.monotonic()
                if left <= 0 or not self._settled.wait(left):
                    break
            waiting = [w for wid, (w, _) in self._following.items() if wid not in self._handing]
        if abandon:
            for window in waiting:
                self._hand_on(window, None, (f"cluster: {abandon}",))
        with self._settled:  # False: some had to be abandoned, or are being recorded still
            return not waiting and not self._following

    def stop(self) -> None:
        """End the thread once the windows given before have been measured (never waited for)."""
        self._jobs.put(None)
