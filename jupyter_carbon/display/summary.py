"""The session summary in a kernel (``%carbon summary``, ``jupyter_carbon.summary()``).

A digest of the session's records (with the kernel's own totals, exact for overlapping windows,
the settings the records do not carry, and for the actionable summary the live provider's
forecast that has arrived, the earlier runs of its cells in the log folder and the budget),
rendered by the same text and HTML renderers as the CLI's report (``display.report_text``,
``display.report_html``). One static output
(``text/plain`` and ``text/html``, plots embedded as PNG drawn at 2×), so a saved or exported
notebook shows it whatever widget state was saved. It never gets wider than the notebook: the
table scrolls inside its box.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..cluster.observer import settle_cluster
from ..digest import Digest, totals_of_session
from ..storage.log import get_log
from ..storage.runs import earlier_runs
from .report_html import summary_html
from .report_text import summary_text

if TYPE_CHECKING:
    from ..carbon_session import CarbonSession

__all__ = ["EXPORT_HINT", "session_digest", "summary_bundle", "show_summary_html"]

#: Where the records the summary's table leaves out are.
EXPORT_HINT = "%carbon export has them all"


def session_digest(session: CarbonSession) -> Digest:
    """The session's records and idle stretches (those dropped from memory read back from its
    log), its own totals (cells, and idle apart), and its region and sampling interval."""
    settle_cluster(session)  # the Dask shares that follow cells ended just now
    cfg = session.config
    intensity = session.intensity()
    region = cfg.region or getattr(intensity, "region", None) or "not set (world average)"
    settings = (f"region: {region}", f"sampling interval {cfg.interval:g} s")
    totals = totals_of_session(session.totals())
    digest = Digest(
        session.every_record(idle=True),
        totals=totals,
        idle_totals=totals_of_session(session.idle_totals()),  # the stretch running now included
        settings=settings,
    )
    digest.dropped = max(session.ledger.made - digest.count, 0)
    tally = digest.tally  # what the actionable summary adds: the forecast, earlier runs, budget
    tally.forecast = session.forecast()
    tally.budget_g = cfg.budget_g
    if cfg.log_dir and len(tally.run):
        log = get_log(session)
        tally.last_runs = earlier_runs(cfg.log_dir, log.path if log is not None else None)
        tally.runs_from = cfg.log_dir
    return digest


def summary_bundle(session: CarbonSession) -> dict[str, str]:
    digest = session_digest(session)
    return {
        "text/plain": summary_text(digest, export_hint=EXPORT_HINT),
        "text/html": summary_html(digest, export_hint=EXPORT_HINT),
    }


def show_summary_html(
    session: CarbonSession, *, display: Callable[..., object] | None = None
) -> None:
    """Display the session summary under the current cell (one output)."""
    if display is None:
        from IPython.display import display as ipython_display

        display = ipython_display
    display(summary_bundle(session), raw=True)
