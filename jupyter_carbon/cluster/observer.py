"""The session's window observer for Dask: finds the kernel's ``distributed.Client`` and measures
every window on its cluster too (``%carbon config dask=auto|on|off``).

A window never waits for its round on the cluster: its record is made at once with a part that
``follows``, and its share, measured just after it as of its end, is recorded as a record of its
own (kind ``cluster-share``, ``late_for`` the window's id). :func:`settle_cluster` waits for the
shares still to come: the summary calls it, and the unload and the kernel's shutdown call it with
``final`` (what cannot be measured then is recorded flagged, never dropped).

Nothing here imports ``distributed`` unless the kernel already did: a client can only exist once
``distributed`` is in ``sys.modules``.
"""

from __future__ import annotations

import atexit
import sys
import time
import weakref
from dataclasses import replace
from typing import TYPE_CHECKING

from ..cluster_part import ClusterPart
from ..record import record_name
from .text import status_lines

if TYPE_CHECKING:
    from distributed import Client

    from ..carbon_session import CarbonSession, Measurement
    from .client import ClusterMeter, ClusterWindow, LateWork

__all__ = [
    "ClusterObserver",
    "attach_cluster",
    "detach_cluster",
    "settle_cluster",
    "LATE_KIND",
    "SHARE_KIND",
]

#: The kind of the record that carries work completed after its cell ended.
LATE_KIND = "cluster-late"
#: The kind of the record that carries a cell's share of the cluster, measured after the cell
#: ended (the cell's own part ``follows``): the cell never waits for its round.
SHARE_KIND = "cluster-share"
#: The longest :meth:`ClusterObserver.settle` waits by default (s): a batch's wait and two rounds
#: that time out.
SETTLE_S = 15.0
#: The longest a follow-up waits for its cell's record to be made (s): it comes after it.
_RECORD_WAIT_S = 1.0


class ClusterObserver:
    """Measures each window of ``session`` on the kernel's Dask cluster too: the window's cluster
    state lives on the window (``Measurement.cluster_window``, then ``Measurement.cluster``)."""

    def __init__(self, session: CarbonSession) -> None:
        self.session = session
        #: one meter per client the kernel used
        self.meters: weakref.WeakKeyDictionary[Client, ClusterMeter] = weakref.WeakKeyDictionary()
        #: a window's share follows its record (False once the session ends: unload, exit)
        self.deferred = True
        self._exit_hook = False

    # --- the client -----------------------------------------------------------------------------

    def client(self) -> Client | None:
        mode = self.session.config.dask
        if mode == "off":
            return None
        if "distributed" not in sys.modules:  # no Client can exist (checked first: every window)
            if mode == "on":
                self.session.problem(
                    "dask=on but distributed is not imported in this kernel: "
                    "create a distributed.Client first"
                )
            return None
        from distributed import default_client

        try:
            client = default_client()
        except ValueError:
            if mode == "on":
                self.session.problem(
                    "dask=on but this kernel has no distributed.Client: "
                    "create one, e.g. Client('tcp://scheduler:8786')"
                )
            return None
        return client if getattr(client, "status", "") == "running" else None

    def meter(self, client: Client) -> ClusterMeter:
        meter = self.meters.get(client)
        if meter is None:
            # loaded with the kernel's first Client: the meter's rounds need asyncio and
            # concurrent.futures, which a kernel without Dask never pays for at %load_ext
            from .client import ClusterMeter

            meter = ClusterMeter(client, on_late=self._on_late)
            self.meters[client] = meter
            meter.install()
            for problem in meter.problems:
                self.session.problem(problem)
        return meter

    # --- the observer protocol ------------------------------------------------------------------

    def window_started(self, m: Measurement) -> bool:
        if m.meta.get("kind") in (LATE_KIND, SHARE_KIND):
            return False
        client = self.client()
        if client is None:
            return False
        try:
            m.cluster_window = self.meter(client).begin(context=m)
        # an unreachable or slow cluster: the cell goes on, its record says so
        except Exception as exc:
            m.cluster_window = f"cluster: not measured ({type(exc).__name__}: {exc})"
        return True

    def window_stopping(self, m: Measurement) -> tuple[str, ...]:
        entry: ClusterWindow | str | None = m.cluster_window
        m.cluster_window = None
        if entry is None:
            return ()
        if isinstance(entry, str):
            return (entry,)
        if not self.deferred:
            part, flags = entry.end()
        else:
            part, flags = entry.end_later(self._on_settled)
            if part is not None and part.follows and not self._exit_hook:
                # registered after distributed's own exit hook (it closes the client), so run
                # before it
                atexit.register(self._at_exit)
                self._exit_hook = True
        m.cluster = part
        return flags

    def settle(self, timeout_s: float = SETTLE_S, *, final: bool = False) -> bool:
        """Wait until the share of every window whose share follows is recorded (True), at most
        ``timeout_s``. ``final`` (the session ends: unload, kernel exit): from now on windows wait
        for their round, and a share still not measured at ``timeout_s`` is recorded then,
        flagged as not measured."""
        if final:
            self.deferred = False
        abandon = (
            "not measured: the session ended before the cell's round answered" if final else ""
        )
        done = True
        for meter in list(self.meters.values()):
            done = meter.settle(timeout_s, abandon=abandon) and done
        return done

    def _at_exit(self) -> None:
        if not self.session.closed:
            self.settle(final=True)

    def _on_settled(
        self, window: ClusterWindow, part: ClusterPart | None, flags: tuple[str, ...]
    ) -> None:
        """The cell's share, measured after it ended: a record of its own pointing to the
        cell's (not measured: a part without hosts that says why)."""
        m: Measurement = window.context
        if part is None:
            part = ClusterPart(flags=flags, scheduler=window.meter.scheduler)
        deadline = time.monotonic() + _RECORD_WAIT_S
        while m.record is None and time.monotonic() < deadline:  # made just after the close
            time.sleep(0.001)
        self._follow_up(m, part, "cluster share", SHARE_KIND)

    def _on_late(self, late: LateWork, part: ClusterPart) -> None:
        self._follow_up(late.window.context, part, "completed later", LATE_KIND)

    def _follow_up(self, m: Measurement, part: ClusterPart, what: str, kind: str) -> None:
        """A record of ``kind`` carrying ``part`` for the window ``m`` (``late_for``: its id)."""
        record = m.record
        cell = record.cell if record is not None else m.meta.get("cell")
        name = record_name(m.label, cell, m.wid)
        part = replace(part, late_for=m.wid)
        session = self.session
        if session.closed:
            return
        late_m = session.open(f"{name}: {what}", kind=kind, cell=cell, late_for=m.wid)
        session.stop(late_m, cluster=part, flags=part.flags)

    # --- lifetime and status --------------------------------------------------------------------

    def close(self) -> None:
        if self._exit_hook:
            atexit.unregister(self._at_exit)
            self._exit_hook = False
        for meter in list(self.meters.values()):
            try:
                meter.uninstall()
            except Exception:
                pass
        self.meters.clear()

    def status_lines(self) -> list[str]:
        return status_lines(self)


def attach_cluster(session: CarbonSession) -> ClusterObserver:
    """Add the Dask observer to ``session`` (once)."""
    for observer in session.observers:
        if isinstance(observer, ClusterObserver):
            return observer
    observer = ClusterObserver(session)
    session.observers.append(observer)
    return observer


def detach_cluster(session: CarbonSession) -> None:
    """Remove the observer and the workers' plugin (``%unload_ext``)."""
    for observer in list(session.observers):
        if isinstance(observer, ClusterObserver):
            session.observers.remove(observer)
            observer.close()


def settle_cluster(
    session: CarbonSession, timeout_s: float = SETTLE_S, *, final: bool = False
) -> bool:
    """Wait until every cell's cluster share that follows is recorded in ``session`` (see
    :meth:`ClusterObserver.settle`): what the summary, the unload and the kernel's exit call
    first, and what code reading ``session.records`` right after a Dask cell should call. True
    when none is left (also without Dask)."""
    for observer in list(session.observers):
        if isinstance(observer, ClusterObserver):
            return observer.settle(timeout_s, final=final)
    return True
