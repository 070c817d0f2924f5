"""The session summary (``%carbon summary``, ``jupyter_carbon.summary()`` in a kernel).

One static output (``text/plain`` and ``text/html``, plots embedded as PNG drawn at 2×), so a
saved or exported notebook shows it whatever widget state was saved: totals, a comparison, the
per-cell bars, a table whose columns each use one unit, the cumulative emissions and the power
timeline of the cell that used the most energy (among those long enough to have power samples;
the next three in a ``<details>``), then the assumptions. It never gets wider than the notebook: the table scrolls inside its box.
The summary is shown on request, so it may read every record; the table is capped at the last
``MAX_ROWS`` records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..record import CellRecord
from ..textsafe import visible
from ..units import format_co2e, format_duration, format_energy
from . import html as H
from .text import MAX_ROWS, column, format_assumptions, format_summary, how_word, plural

__all__ = ["show_summary_html", "summary_bundle", "summary_html", "assumptions_html", "timeline_record", "timeline_records", "MAX_ROWS"]

_BAR_CELLS = 50


def _table_html(records: Sequence[CellRecord], earlier: int) -> str:
    th = f"padding: 2px 8px; border-bottom: 1px solid {H.BORDER}; text-align: right; white-space: nowrap; font-weight: 600"
    td = "padding: 1px 8px; text-align: right; white-space: nowrap"
    energy_unit, energies = column([r.energy_j for r in records], "energy")
    co2e_unit, co2es = column([r.co2e_g for r in records], "co2e")
    heads = ["#", "cell", "label", "duration", f"energy ({energy_unit})", f"CO2e ({co2e_unit})", "how", "status"]
    rows = ["<thead><tr>" + "".join(f'<th style="{th}">{H.esc(h)}</th>' for h in heads) + "</tr></thead><tbody>"]
    for r, energy, co2e in zip(records, energies, co2es):
        tip = "\n".join(H.component_tip(c) for c in r.components.values())
        cells = [str(r.id), "" if r.cell is None else f"[{r.cell}]", visible(r.label or ""), format_duration(r.duration_s), energy, co2e]
        tds = "".join(f'<td style="{td}{"; text-align: left" if i == 2 else ""}">{H.esc(v)}</td>' for i, v in enumerate(cells))
        status = H.status_html(r.status) if r.status != "ok" else "ok"
        rows.append(
            f'<tr class="jc-row jc-row-{H.esc(r.status)}" title="{H.esc(tip)}">{tds}'
            f'<td style="{td}; text-align: left">{H.esc(how_word(r.measured_by_component))}</td><td style="{td}; text-align: left">{status}</td></tr>'
        )
    more = f'<div style="color: {H.FG2}">… {earlier} earlier records not shown (see %carbon export)</div>' if earlier else ""
    return (
        f'<div class="jc-table-box" style="max-height: 320px; overflow: auto; max-width: 100%; margin: 4px 0">'
        f'<table class="jc-table" style="border-collapse: collapse; font-size: 0.95em">{"".join(rows)}</tbody></table></div>{more}'
    )


def assumptions_html(session: Any) -> str:
    cfg = session.config
    intensity = session.intensity()
    region = cfg.region or getattr(intensity, "region", None) or "none set (world average)"
    return (
        f'<div class="jc-assumptions" style="color: {H.FG2}">assumptions: region {H.esc(region)} · '
        f"intensity {intensity.g_per_kwh:g} gCO2e/kWh (source: {H.esc(intensity.source)}) · PUE {cfg.pue:g} · "
        f"scope {H.esc(getattr(session, 'scope', cfg.scope))} · sampling interval {cfg.interval:g} s</div>"
    )


def _head_html(session: Any, totals: Any) -> str:
    title = (
        f'<div class="jc-title"><b>jupyter_carbon session</b> · <span class="jc-totals">{plural(totals.cells, "cell")} · '
        f"{H.esc(format_duration(totals.duration_s))} measured · <b>{H.esc(format_energy(totals.energy_j))}</b> · <b>{H.esc(format_co2e(totals.co2e_g))}</b></span></div>"
    )
    low, high = totals.low_j, totals.high_j
    band = f'<div style="color: {H.FG2}">energy range of the estimates: {H.esc(format_energy(low))} – {H.esc(format_energy(high))}</div>' if high > low else ""
    from .text import cluster_session_line

    cluster = cluster_session_line(session.records)
    cluster_html = f'<div class="jc-cluster">{H.esc(cluster)}</div>' if cluster else ""
    return title + band + cluster_html + H.equivalents_html(totals.energy_j, totals.co2e_g)


def timeline_records(records: Sequence[CellRecord], n: int = 4) -> list[CellRecord]:
    """The records whose power timelines are worth a plot: the most energy first, among those with ≥ 2 samples."""
    sampled = [r for r in records if r.timeline is not None and len(r.timeline) >= 2]
    return sorted(sampled, key=lambda r: r.energy_j, reverse=True)[:n]


def timeline_record(records: Sequence[CellRecord]) -> CellRecord | None:
    """The record whose power timeline the summary shows: the one that used the most energy."""
    chosen = timeline_records(records, 1)
    return chosen[0] if chosen else None


def _cell_name(record: CellRecord) -> str:
    return (f"[{record.cell}]" if record.cell is not None else f"#{record.id}") + (f" {visible(record.label)}" if record.label else "")


def _plots_html(records: Sequence[CellRecord]) -> str:
    from .plots import cumulative_png, timeline_png

    figures = [H.img_html(cumulative_png(records, width_in=4.5, scale=2), "cumulative CO2e of the session")]
    timelines = timeline_records(records)
    chosen, others = (timelines[0], timelines[1:]) if timelines else (None, [])
    caption = more = ""
    if chosen is not None:
        figures.append(H.img_html(timeline_png(chosen, width_in=4.5, scale=2), f"power of cell {_cell_name(chosen)}"))
        caption = f'<div style="color: {H.FG2}; font-size: 0.9em">left: cumulative CO2e · right: power of {H.esc(_cell_name(chosen))}, the cell that used the most energy</div>'
    if others:  # the next ones, one click away
        images = "".join(
            f'<div style="color: {H.FG2}">{H.esc(_cell_name(r))} — {H.esc(format_duration(r.duration_s))}, {H.esc(format_energy(r.energy_j))}</div>'
            + H.img_html(timeline_png(r, width_in=4.5, scale=2), f"power of cell {_cell_name(r)}")
            for r in others
        )
        more = f'<details class="jc-more-timelines"><summary style="cursor: pointer; color: {H.FG2}">power of the next {plural(len(others), "cell")} by energy</summary>{images}</details>'
    boxes = "".join(f'<div style="flex: 0 1 auto; min-width: 0">{f}</div>' for f in figures)
    return f'<div class="jc-plots" style="display: flex; flex-wrap: wrap; gap: 8px; max-width: 100%">{boxes}</div>{caption}{more}'


def summary_html(session: Any) -> str:
    """The whole summary as one static HTML fragment."""
    records = list(session.records)
    totals = session.totals()
    parts = [_head_html(session, totals)]
    if records:
        shown = records[-MAX_ROWS:]
        parts.append(H.bars_html(records[-_BAR_CELLS:]))
        parts.append(_table_html(shown, len(records) - len(shown)))
        try:
            parts.append(_plots_html(records))
        except ImportError:  # matplotlib missing: the rest of the summary still stands
            parts.append(f'<div style="color: {H.FG2}">(plots need matplotlib: pip install matplotlib)</div>')
    else:
        parts.append(f'<div style="color: {H.FG2}">no cells measured yet: use %%carbon on a cell or %carbon on</div>')
    parts.append(assumptions_html(session))
    return f'<div class="jupyter-carbon jc-summary" style="{H.box_style()}">' + "".join(parts) + "</div>"


def summary_bundle(session: Any) -> dict[str, str]:
    return {"text/plain": format_summary(session.records, session.totals(), format_assumptions(session)), "text/html": summary_html(session)}


def show_summary_html(session: Any, *, display: Callable[..., Any] | None = None) -> None:
    """Display the session summary under the current cell (one output)."""
    if display is None:
        from IPython.display import display as ipython_display

        display = ipython_display
    display(summary_bundle(session), raw=True)
