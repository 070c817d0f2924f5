"""``%carbon history`` as text: one line per logged session, then the totals of all.

Totals count overlapping windows once (``jupyter_carbon.totals``); file names and notes pass
through ``textsafe.visible``; each log's skipped lines are one note, whatever their number.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..storage.history import SessionSummary, list_sessions, overall_totals
from ..storage.log import get_log
from ..textsafe import visible
from ..units import format_co2e, format_duration, format_energy
from .report_text import figure
from .text import idle_line, plural

if TYPE_CHECKING:
    from ..carbon_session import CarbonSession
    from ..totals import RecordTotals

__all__ = ["format_history", "print_history"]


def _line(start: str, t: RecordTotals, errors: int, mark: str = "") -> str:
    return (
        f"{start:<17} {t.outer_windows:>6} {figure(format_duration, t.duration_s):>10} "
        f"{figure(format_energy, t.energy_j):>10} {figure(format_co2e, t.co2e_g):>16} "
        f"{errors:>6}{mark}"
    )


def format_history(
    summaries: list[SessionSummary],
    *,
    folder: str | os.PathLike[str] | None = None,
    current: Path | None = None,
) -> str:
    where = f" in {visible(folder)}" if folder is not None else ""
    if not summaries:
        return (
            f"jupyter_carbon: no earlier sessions logged{where} (records are logged as cells close)"
        )
    lines = [
        f"jupyter_carbon history{where}: {plural(len(summaries), 'session')}",
        f"{'start (UTC)':<17} {'cells':>6} {'measured':>10} {'energy':>10} {'CO2e':>16} "
        f"{'errors':>6}",
    ]
    for s in summaries:
        start = s.start_utc.strftime("%Y-%m-%d %H:%M") if s.start_utc else "?"
        mark = "  ← this session" if current is not None and s.path == current else ""
        lines.append(_line(start, s.totals, s.errors, mark))
    lines.append(_line("all", overall_totals(summaries), sum(s.errors for s in summaries)))
    idle = [s for s in summaries if s.idle is not None and s.idle.duration_s]
    if idle:
        lines.append(
            idle_line(
                sum(s.idle.duration_s for s in idle if s.idle),
                sum(s.idle.energy_j for s in idle if s.idle),
                sum(s.idle.co2e_g for s in idle if s.idle),
                (scope for s in idle for scope in s.idle_scopes),
            )
            + " (not in the totals above)"
        )
    nested = sum(s.totals.nested for s in summaries)
    if nested:
        lines.append(
            f"({nested:,} window(s) inside others are counted once, in the cell that contains them)"
        )
    lines += [f"note: {visible(note)}" for s in summaries for note in s.notes]
    return "\n".join(lines)


def print_history(session: CarbonSession) -> None:
    """Print the sessions of ``session.config.log_dir`` (this working directory by default)."""
    if session.config.log_dir is None:
        print("jupyter_carbon: the session log is off (log_dir=none): no history is kept")
        return
    folder = Path(session.config.log_dir).expanduser()
    log = get_log(session)
    print(
        format_history(
            list_sessions(folder), folder=folder, current=log.path if log is not None else None
        )
    )
