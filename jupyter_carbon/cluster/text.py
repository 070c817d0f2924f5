"""Lines about the cluster part, for the cell report, the summary and ``%carbon status``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from ..units import format_energy, format_energy_range

if TYPE_CHECKING:
    from ..cluster_part import ClusterPart
    from .observer import ClusterObserver

__all__ = ["record_lines", "short_phrase", "status_lines", "session_line"]


class _Clustered(Protocol):
    """A record, or anything with its cluster part."""

    @property
    def cluster(self) -> ClusterPart | None: ...


def record_lines(record: _Clustered) -> list[str]:
    """One line for the cluster and one per host; [] for a record without a cluster part."""
    part = record.cluster
    if part is None:
        return []
    head = "cluster (Dask)"
    if part.follows:
        return [
            "cluster (Dask): measured after the cell ended; its share follows in a record of "
            "its own"
        ] + _pending_lines(part)
    if part.late_for is not None and any(host.late for host in part.hosts):
        head += f": work of record {part.late_for} completed later"
    elif part.late_for is not None:
        head += f": share of record {part.late_for}"
    lines = [
        f"{head}: {format_energy(part.energy_j)} charged · "
        f"idle {format_energy(part.idle_j)} not charged · {len(part.hosts)} host(s)"
    ]
    for host in part.hosts:
        band = (
            f" {format_energy_range(host.low_j, host.high_j)}" if host.high_j > host.low_j else ""
        )
        lines.append(
            f"  {host.host}: {format_energy(host.energy_j)}{band} {host.how} · "
            f"{host.task_s:.3g} task-s, host busy {host.busy_share:.0%} · "
            f"idle {format_energy(host.idle_j)}, other clients {format_energy(host.others_j)}"
            + (" · completed later" if host.late else "")
        )
    return lines + _pending_lines(part)


def _pending_lines(part: ClusterPart) -> list[str]:
    if not part.pending_futures:
        return []
    return [
        f"  {part.pending_futures} future(s) still running: their tasks are charged to "
        "this cell when they complete (completed later)"
    ]


def short_phrase(record: _Clustered) -> str:
    """`` · cluster 12.3 J`` for the one-line report, or ''."""
    part = record.cluster
    if part is None:
        return ""
    pending = (
        f" (+{part.pending_futures} future(s) completing later)" if part.pending_futures else ""
    )
    if part.follows:
        return f" · cluster share follows{pending}"
    return f" · cluster {format_energy(part.energy_j)}{pending}"


def session_line(records: Iterable[_Clustered]) -> str | None:
    """The cluster energy charged over ``records`` (cells and their work completed later), or
    None."""
    parts = [p for p in (r.cluster for r in records) if p is not None and not p.follows]
    if not parts:
        return None
    energy = sum(p.energy_j for p in parts)
    idle = sum(p.idle_j for p in parts)
    how = "measured" if all(p.measured for p in parts) else "estimated"
    return (
        f"cluster (Dask): {format_energy(energy)} charged ({how}) over {len(parts)} record(s) · "
        f"idle {format_energy(idle)} not charged"
    )


def status_lines(observer: ClusterObserver) -> list[str]:
    """Hosts and their sources; workers without jupyter_carbon; dead workers."""
    mode = getattr(observer.session.config, "dask", "auto")
    meters = list(observer.meters.values())
    if not meters:
        return [
            f"cluster (Dask): none in use (dask={mode}; "
            "a distributed.Client in this kernel is measured automatically)"
        ]
    lines = []
    for meter in meters:
        lines.append(f"cluster (Dask): scheduler {meter.scheduler or '?'} (dask={mode})")
        if meter.following:  # before the round below, which may wait behind theirs
            lines.append(f"  {meter.following} cell share(s) still being measured")
        try:
            reports = meter.query([])
        except Exception as exc:
            lines.append(f"  could not reach the workers: {type(exc).__name__}: {exc}")
            continue
        hosts: dict[str, list] = {}
        for report in reports.values():
            if isinstance(report, dict) and "host" in report and not report.get("missing"):
                hosts.setdefault(report["host"], []).append(report)
        for host in sorted(hosts):
            workers = hosts[host]
            meter_report = next((w["meter"] for w in workers if w.get("meter")), None)
            lines.append(
                f"  host {host}: {len(workers)} worker(s), "
                f"{sum(int(w.get('nthreads', 1)) for w in workers)} thread(s)"
            )
            if meter_report is None:
                lines.append("    no meter: the host's energy is not measured")
                continue
            for component, device, method, measured in meter_report["sources"]:
                lines.append(
                    f"    {component.upper():<4} {device} — {method} "
                    f"({'measured' if measured else 'estimated'})"
                )
            for error in meter_report.get("errors", ()):
                lines.append(f"    problem: {error}")
        for line in meter.missing:
            lines.append(f"  not measured: {line}")
        for problem in meter.problems:
            lines.append(f"  problem: {problem}")
        for incident in meter.incidents:
            lines.append(f"  recent: {incident}")
        if meter.late:
            lines.append(
                f"  {len(meter.late)} cell(s) with work still running (charged when it completes)"
            )
    return lines
