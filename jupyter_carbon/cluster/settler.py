"""The windows whose share on the cluster follows them: one thread measures them after they
ended, in order, and hands each share on exactly once.

:meth:`.client.ClusterMeter.end_later` gives a window to the settler instead of waiting for its
closing round; the settler's thread runs the round (``measure``, the meter's synchronous path,
which cuts the figures at the window's end) and calls the window's ``on_settled``.
:meth:`Settler.settle` waits until every share has been handed on; with ``abandon`` the ones still
waiting are handed on at once, not measured, with that flag, and a round that answers later is
dropped: a share is never handed on twice, nor lost.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..cluster_part import ClusterPart
    from .client import ClusterWindow

__all__ = ["Measure", "OnSettled", "Settler"]

#: Called with a window whose share followed, its measured part (None: not measured) and the
#: part's flags.
OnSettled = Callable[["ClusterWindow", "ClusterPart | None", tuple[str, ...]], object]
#: Measures a window that ended (its futures still pending at its end): its part and flags.
Measure = Callable[["ClusterWindow", tuple], tuple["ClusterPart | None", tuple[str, ...]]]


class Settler:
    """One thread that measures ended windows in order (see the module's docstring)."""

    def __init__(self, measure: Measure, problems: list[str]) -> None:
        self._measure = measure
        self._problems = problems  # the meter's: a callback that fails is said there
        #: the windows to measure, in order (None: stop)
        self._jobs: queue.SimpleQueue[tuple[ClusterWindow, tuple] | None] = queue.SimpleQueue()
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
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="jupyter_carbon-cluster-settle", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            window, pending = job
            with self._settled:
                if window.window_id not in self._following:  # abandoned by settle()
                    continue
            try:
                part, flags = self._measure(window, pending)
            except Exception as exc:  # a round that failed or timed out
                part, flags = None, (f"cluster: not measured ({type(exc).__name__}: {exc})",)
            self._hand_on(window, part, flags)

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
