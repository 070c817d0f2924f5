"""The session's window observer for Dask: finds the kernel's ``distributed.Client`` and measures
every window on its cluster too (``%carbon config dask=auto|on|off``).

Nothing here imports ``distributed`` unless the kernel already did: a client can only exist once
``distributed`` is in ``sys.modules``.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

from ..cluster_part import ClusterPart

__all__ = ["ClusterObserver", "attach_cluster", "detach_cluster", "LATE_KIND"]

#: The kind of the record that carries work completed after its cell ended.
LATE_KIND = "cluster-late"


class ClusterObserver:
    def __init__(self, session: Any) -> None:
        self.session = session
        self.meters: dict[int, Any] = {}  # id(client) -> ClusterMeter
        self._open: dict[int, tuple[Any, Any] | str] = {}  # id(measurement) -> (meter, window), or why it is not measured

    # --- the client -----------------------------------------------------------------------------

    def client(self) -> Any:
        mode = getattr(self.session.config, "dask", "auto")
        if mode == "off":
            return None
        if "distributed" not in sys.modules:
            if mode == "on":
                self.session.problem("dask=on but distributed is not imported in this kernel: create a distributed.Client first")
            return None
        from distributed import default_client

        try:
            client = default_client()
        except ValueError:
            if mode == "on":
                self.session.problem("dask=on but this kernel has no distributed.Client: create one, e.g. Client('tcp://scheduler:8786')")
            return None
        return client if getattr(client, "status", "") == "running" else None

    def meter(self, client: Any) -> Any:
        meter = self.meters.get(id(client))
        if meter is None or meter.client is not client:
            from .client import ClusterMeter

            meter = ClusterMeter(client, on_late=self._on_late)
            self.meters[id(client)] = meter
            meter.install()
            for problem in meter.problems:
                self.session.problem(problem)
        return meter

    # --- the observer protocol ------------------------------------------------------------------

    def window_started(self, m: Any) -> None:
        if m._meta.get("kind") == LATE_KIND:
            return
        client = self.client()
        if client is None:
            return
        try:
            meter = self.meter(client)
            self._open[id(m)] = (meter, meter.begin(context=m))
        except Exception as exc:  # an unreachable or slow cluster: the cell goes on, its record says so
            self._open[id(m)] = f"cluster: not measured ({type(exc).__name__}: {exc})"

    def window_stopping(self, m: Any) -> tuple[str, ...]:
        entry = self._open.pop(id(m), None)
        if entry is None:
            return ()
        if isinstance(entry, str):
            return (entry,)
        meter, window = entry
        part, flags = meter.end(window)
        m.cluster = part
        return flags

    def _on_late(self, late: Any, part: ClusterPart) -> None:
        from ..display.text import record_name

        m = late.window.context
        record = m.record
        cell = record.cell if record is not None else m._meta.get("cell")
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
        self._open.clear()

    def status_lines(self) -> list[str]:
        from .text import status_lines

        return status_lines(self)


def attach_cluster(session: Any) -> ClusterObserver:
    """Add the Dask observer to ``session`` (once)."""
    for observer in session.observers:
        if isinstance(observer, ClusterObserver):
            return observer
    observer = ClusterObserver(session)
    session.observers.append(observer)
    return observer


def detach_cluster(session: Any) -> None:
    """Remove the observer and the workers' plugin (``%unload_ext``)."""
    for observer in list(session.observers):
        if isinstance(observer, ClusterObserver):
            session.observers.remove(observer)
            observer.close()
