"""``%carbon history``: the sessions logged in this working directory's log folder, with totals."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from ..record import CellRecord, SessionTotals
from ..units import format_co2e, format_duration, format_energy
from .log import get_log
from .reader import LogContents, log_files, read_logs

__all__ = ["SessionSummary", "summarize", "list_sessions", "format_history", "print_history", "totals_of"]


def totals_of(records: Iterable[CellRecord]) -> SessionTotals:
    """Sums over ``records`` (nested windows would count twice; cells do not nest)."""
    records = list(records)
    return SessionTotals(
        cells=len(records),
        energy_j=sum(r.energy_j for r in records),
        low_j=sum(r.energy_band_j[0] for r in records),
        high_j=sum(r.energy_band_j[1] for r in records),
        co2e_g=sum(r.co2e_g for r in records),
        duration_s=sum(r.duration_s for r in records),
    )


@dataclass(frozen=True)
class SessionSummary:
    path: Path
    start_utc: datetime | None
    totals: SessionTotals
    errors: int  # records whose status is "error" or "interrupted"
    notes: tuple[str, ...]


def summarize(contents: LogContents) -> SessionSummary:
    records = contents.records
    errors = sum(1 for r in records if r.status != "ok")
    return SessionSummary(contents.path, contents.start_utc, totals_of(records), errors, tuple(contents.notes))


def list_sessions(folder: str | os.PathLike) -> list[SessionSummary]:
    """Every session logged in ``folder``, oldest first."""
    return [summarize(c) for c in read_logs(log_files(folder))]


def format_history(summaries: list[SessionSummary], *, folder: Any = None, current: Path | None = None) -> str:
    where = f" in {folder}" if folder is not None else ""
    if not summaries:
        return f"jupyter_carbon: no earlier sessions logged{where} (records are logged as cells close)"
    lines = [f"jupyter_carbon history{where}: {len(summaries)} sessions", f"{'start (UTC)':<17} {'cells':>6} {'measured':>10} {'energy':>10} {'CO2e':>16} {'errors':>6}"]
    for s in summaries:
        start = s.start_utc.strftime("%Y-%m-%d %H:%M") if s.start_utc else "?"
        t = s.totals
        mark = "  ← this session" if current is not None and s.path == current else ""
        lines.append(f"{start:<17} {t.cells:>6} {format_duration(t.duration_s):>10} {format_energy(t.energy_j):>10} {format_co2e(t.co2e_g):>16} {s.errors:>6}{mark}")
    all_totals = [s.totals for s in summaries]
    lines.append(f"{'all':<17} {sum(t.cells for t in all_totals):>6} {format_duration(sum(t.duration_s for t in all_totals)):>10} {format_energy(sum(t.energy_j for t in all_totals)):>10} {format_co2e(sum(t.co2e_g for t in all_totals)):>16} {sum(s.errors for s in summaries):>6}")
    lines += [f"note: {note}" for s in summaries for note in s.notes]
    return "\n".join(lines)


def print_history(session: Any) -> None:
    """Print the sessions of ``session.config.log_dir`` (this working directory by default)."""
    if session.config.log_dir is None:
        print("jupyter_carbon: the session log is off (log_dir=none): no history is kept")
        return
    folder = Path(session.config.log_dir).expanduser()
    log = get_log(session)
    print(format_history(list_sessions(folder), folder=folder, current=log.path if log is not None else None))
