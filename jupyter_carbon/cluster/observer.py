"""The session's window observer for Dask: finds the kernel's ``distributed.Client`` and measures
every window on its cluster too (``%carbon config dask=auto|on|off``).

Nothing here imports ``distributed`` unless the kernel already did: a client can only exist once
``distributed`` is in ``sys.modules``.
"""

from __future__ import annotations

import sys
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

__all__ = ["ClusterObserver", "attach_cluster", "detach_cluster", "LATE_KIND"]

#: The kind of the record that carries work completed after its cell ended.
LATE_KIND = "cluster-late"


class ClusterObserver:
    """Measures each window of ``session`` on the kernel's Dask cluster too: the window's cluster
    state lives on the window (``Measurement.cluster_window``, then ``Measurement.cluster``)."""

    def __init__(self, session: CarbonSession) -> None:
        self.session = session
        #: one meter per client the kernel used
        self.meters: weakref.WeakKeyDictionary[Client, ClusterMeter] = weakref.WeakKeyDictionary()

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

    def window_started(self, m: Measurement) -> None:
        if m.meta.get("kind") == LATE_KIND:
            return
        client = self.client()
        if client is None:
            return
        try:
            m.cluster_window = self.meter(client).begin(context=m)
        # an unreachable or slow cluster: the cell goes on, its record says so
        except Exception as exc:
            m.cluster_window = f"cluster: not measured ({type(exc).__name__}: {exc})"

    def window_stopping(self, m: Measurement) -> tuple[str, ...]:
        entry: ClusterWindow | str | None = m.cluster_window
        m.cluster_window = None
        if entry is None:
            return ()
        if isinstance(entry, str):
            return (entry,)
        part, flags = entry.end()
        m.cluster = part
        return flags

    def _on_late(self, late: LateWork, part: ClusterPart) -> None:
        m: Measurement = late.window.context
        record = m.record
        cell = record.cell if record is not None else m.meta.get("cell")
        name = record_name(m.label, cell, m.wid)
        part = replace(part, late_for=m.wid)
        session = self.session
        if session.closed:
            return
        late_m = session.open(f"{name}: completed later", kind=LATE_KIND, cell=cell, late_for=m.wid)
        session.stop(late_m, cluster=part, flags=part.flags)

    # --- lifetime and status --------------------------------------------------------------------

    def close(self) -> None:
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
