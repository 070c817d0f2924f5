"""The session summary widget (``%carbon summary``, ``jupyter_carbon.summary()`` in a kernel).

Totals, a per-cell table, the per-cell emissions bar plot, the cumulative emissions line, the
power timeline of a cell chosen in a dropdown, equivalents and the assumptions. Its mimebundle
also carries ``text/plain`` and ``text/html`` with the plots embedded, like the cell widget.
The summary is shown on request, so it may read every record; the table and the dropdown are
capped at the last ``MAX_ROWS`` records.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ..record import CellRecord
from ..units import format_co2e, format_duration, format_energy
import ipywidgets as w  # here, not in the constructor: a missing ipywidgets makes show_summary fall back to text

from . import html as H
from .plots import cells_bar_png, cumulative_png, png_width_px, timeline_png
from .text import MAX_ROWS, format_assumptions, format_summary, how_short
from .widget import widget_bundle

__all__ = ["show_summary_widget", "SummaryView", "summary_html", "assumptions_html", "MAX_ROWS"]

_BAR_CELLS = 50


def _components(records: Sequence[CellRecord]) -> list[str]:
    seen: dict[str, None] = {}
    for record in records:
        for name in record.components:
            seen.setdefault(name, None)
    return list(seen)


def _name(record: CellRecord) -> str:
    return record.label or ""


def _table_html(records: Sequence[CellRecord], earlier: int) -> str:
    components = _components(records)
    th = f"padding: 2px 8px; border-bottom: 1px solid {H.BORDER}; text-align: right; white-space: nowrap"
    td = "padding: 1px 8px; text-align: right; white-space: nowrap"
    heads = ["#", "cell", "label", "duration"] + [f"{c.upper()} energy" for c in components] + ["energy"] + [f"{c.upper()} CO2e" for c in components] + ["CO2e", "method", "status"]
    rows = ["<tr>" + "".join(f'<th style="{th}">{H.esc(h)}</th>' for h in heads) + "</tr>"]
    for r in records:
        comps = r.components
        cells = [str(r.id), "" if r.cell is None else f"[{r.cell}]", _name(r), format_duration(r.duration_s)]
        cells += [format_energy(comps[c].energy_j) if c in comps else "–" for c in components] + [format_energy(r.energy_j)]
        cells += [format_co2e(r.co2e_g_of(comps[c].energy_j)) if c in comps else "–" for c in components] + [format_co2e(r.co2e_g)]
        method = how_short(r.measured_by_component)
        method_tip = ", ".join(f"{c.upper()}: {e.how}" for c, e in comps.items())
        status = H.status_html(r.status) if r.status != "ok" else "ok"
        tds = "".join(f'<td style="{td}">{H.esc(v)}</td>' for v in cells)
        rows.append(f'<tr class="jc-row jc-row-{H.esc(r.status)}">{tds}<td style="{td}; text-align: left" title="{H.esc(method_tip)}">{H.esc(method)}</td><td style="{td}">{status}</td></tr>')
    more = f'<div style="color: {H.FG2}">… {earlier} earlier records not shown (see %carbon export)</div>' if earlier else ""
    return f'<div style="max-height: 320px; overflow: auto"><table class="jc-table" style="border-collapse: collapse; font-size: 0.95em">{"".join(rows)}</table></div>{more}'


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
        f'<div class="jc-title" style="font-weight: bold">jupyter_carbon session · <span class="jc-totals">{totals.cells} cells · '
        f"{H.esc(format_duration(totals.duration_s))} measured · {H.esc(format_energy(totals.energy_j))} · {H.esc(format_co2e(totals.co2e_g))}</span></div>"
    )
    low, high = totals.low_j, totals.high_j
    band = f'<div style="color: {H.FG2}">energy range of the estimates: {H.esc(format_energy(low))} – {H.esc(format_energy(high))}</div>' if high > low else ""
    from .text import cluster_session_line

    cluster = cluster_session_line(session.records)
    cluster_html = f'<div class="jc-cluster">{H.esc(cluster)}</div>' if cluster else ""
    return title + band + cluster_html + H.equivalents_html(totals.energy_j, totals.co2e_g)


def summary_html(head: str, table: str | None, assumptions: str, pngs: dict[str, bytes] | None = None) -> str:
    """The whole summary as static HTML from the widget's parts; ``pngs`` (bar, cumulative, timeline) are embedded."""
    parts = [head, table or f'<div style="color: {H.FG2}">no cells measured yet: use %%carbon on a cell or %carbon on</div>']
    alts = {"bar": f"CO2e per cell (last {_BAR_CELLS}), stacked by component", "cumulative": "cumulative CO2e of the session", "timeline": "power timeline of the last cell"}
    for key, png in (pngs or {}).items():
        if png:
            parts.append(H.img_html(png, alts.get(key, key)))
    parts.append(assumptions)
    return f'<div class="jupyter-carbon jc-summary" style="{H.box_style()}">' + "".join(parts) + "</div>"


def _option(record: CellRecord) -> str:
    cell = f"[{record.cell}] " if record.cell is not None else f"#{record.id} "
    return f"{cell}{record.label or record.kind} — {format_duration(record.duration_s)}, {format_co2e(record.co2e_g)}"


class SummaryView:
    """The summary widget; ``select(record_id)`` re-renders the timeline (what the dropdown does)."""

    def __init__(self, session: Any, *, display: Callable[..., Any] | None = None) -> None:
        self.session = session
        self.records = list(session.records)
        self._by_id = {r.id: r for r in self.records[-MAX_ROWS:]}
        totals = session.totals()
        pngs: dict[str, bytes] = {}
        head, table, assumptions = _head_html(session, totals), None, assumptions_html(session)
        self.head = w.HTML(head)
        children: list[Any] = [self.head]
        self.dropdown = self.timeline = None
        if self.records:
            table = _table_html(list(self._by_id.values()), len(self.records) - len(self._by_id))
            self.table = w.HTML(table)
            pngs["bar"] = cells_bar_png(self.records, last=_BAR_CELLS, width_in=7.0)
            pngs["cumulative"] = cumulative_png(self.records)
            self.bar = w.Image(value=pngs["bar"], format="png", width=str(png_width_px(pngs["bar"])))
            self.cumulative = w.Image(value=pngs["cumulative"], format="png", width=str(png_width_px(pngs["cumulative"])))
            last = self.records[-1]
            options = [(_option(r), r.id) for r in reversed(list(self._by_id.values()))]
            self.dropdown = w.Dropdown(options=options, value=last.id, description="power of", layout=w.Layout(width="max-content"))
            self.dropdown.add_class("jc-timeline-select")
            self.timeline = w.Image(format="png")
            self.timeline.add_class("jc-timeline")
            self.select(last.id)
            pngs["timeline"] = bytes(self.timeline.value)
            self.dropdown.observe(self._on_select, names="value")
            children += [self.table, w.HBox([self.bar, self.cumulative]), self.dropdown, self.timeline]
        self.assumptions = w.HTML(assumptions)
        children.append(self.assumptions)
        self.box = w.VBox(children)
        self.box.add_class("jupyter-carbon")
        self.box.add_class("jc-summary")
        bundle = widget_bundle(self.box, format_summary(self.records, totals, format_assumptions(session)), summary_html(head, table, assumptions, pngs))
        if display is None:
            from IPython.display import display
        display(bundle, raw=True)

    def _on_select(self, change: Any) -> None:
        try:
            self.select(change["new"])
        except Exception:  # a bad record must not spoil the rest of the summary
            pass

    def select(self, record_id: int) -> None:
        record = self._by_id.get(record_id)
        if record is not None and self.timeline is not None:
            png = timeline_png(record)
            with self.timeline.hold_sync():
                self.timeline.value = png
                self.timeline.width = str(png_width_px(png))


def show_summary_widget(session: Any) -> SummaryView:
    """Display the session summary widget under the current cell."""
    return SummaryView(session)
