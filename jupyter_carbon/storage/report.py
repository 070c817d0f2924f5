"""Reports from records alone (no live session): text summary and a standalone HTML file.

The HTML report embeds its plots as PNG (matplotlib's Agg canvas, never pyplot, imported only
here); without matplotlib it says so and keeps the tables.
"""

from __future__ import annotations

import base64
import html
import io
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..record import CellRecord
from ..units import format_co2e, format_duration, format_energy
from .export import _write_atomic, check_output_path
from .history import totals_of

__all__ = ["assumptions_of", "summary_text", "write_html", "html_report"]


def assumptions_of(records: Sequence[CellRecord]) -> str:
    """The assumptions behind ``records``: intensities, PUE, scope, how each component was obtained."""
    if not records:
        return "assumptions: none (no records)"
    intensities = dict.fromkeys(f"{r.intensity_g_per_kwh:g} gCO2e/kWh ({r.intensity_source})" for r in records)
    pues = dict.fromkeys(f"{r.pue:g}" for r in records)
    scopes = dict.fromkeys(r.scope for r in records)
    methods: dict[str, dict[str, None]] = {}
    for r in records:
        for comp in r.components.values():
            methods.setdefault(comp.component, {})[f"{'measured' if comp.measured else 'estimated'} ({'/'.join(comp.methods)})"] = None
    how = "; ".join(f"{c.upper()} {', '.join(m)}" for c, m in methods.items())
    return f"assumptions: {' / '.join(intensities)} · PUE {', '.join(pues)} · scope {', '.join(scopes)} · {how}"


def summary_text(records: Sequence[CellRecord]) -> str:
    from ..display.text import format_summary

    return format_summary(records, totals_of(records), assumptions_of(records))


def _plots_png(records: Sequence[CellRecord]) -> list[tuple[str, bytes]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [r.label or (f"[{r.cell}]" if r.cell is not None else f"#{r.id}") for r in records]
    x = list(range(len(records)))
    out = []
    fig = Figure(figsize=(8, 3.2), dpi=100)
    ax = fig.add_subplot()
    bottom = [0.0] * len(records)
    for component, colour in (("cpu", "#4c72b0"), ("gpu", "#dd8452"), ("ram", "#55a868")):
        values = [r.components[component].energy_j / 3600 if component in r.components else 0.0 for r in records]
        if any(values):
            ax.bar(x, values, bottom=bottom, label=component.upper(), color=colour)
            bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel("energy (Wh)")
    ax.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
    ax.legend(fontsize=8)
    ax.set_title("Energy per cell")
    fig.tight_layout()
    out.append(("Energy per cell, by component", _png(FigureCanvasAgg(fig))))
    fig = Figure(figsize=(8, 3.0), dpi=100)
    ax = fig.add_subplot()
    total, cumulative = 0.0, []
    for r in records:
        total += r.co2e_g
        cumulative.append(total)
    ax.step(x, cumulative, where="mid", color="#333333")
    ax.set_ylabel("cumulative CO2e (g)")
    ax.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
    ax.set_title("Cumulative CO2e")
    fig.tight_layout()
    out.append(("Cumulative CO2e", _png(FigureCanvasAgg(fig))))
    return out


def _png(canvas: Any) -> bytes:
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    return buffer.getvalue()


def html_report(records: Sequence[CellRecord], *, title: str = "jupyter_carbon report", failures: Iterable[str] = (), notes: Iterable[str] = ()) -> str:
    e = html.escape
    records = list(records)
    t = totals_of(records)
    low_g = sum(r.co2e_band_g[0] for r in records)
    high_g = sum(r.co2e_band_g[1] for r in records)
    rows = []
    for r in records:
        low_j, high_j = r.energy_band_j
        how = ", ".join(f"{c.component.upper()} {'measured' if c.measured else 'estimated'} ({'/'.join(c.methods)})" for c in r.components.values())
        band = f"{format_energy(low_j)} – {format_energy(high_j)}" if high_j > low_j else ""
        status_class = "" if r.status == "ok" else ' class="bad"'
        rows.append(
            f"<tr><td>{e(str(r.cell) if r.cell is not None else '')}</td><td>{e(r.label or '')}</td><td{status_class}>{e(r.status)}</td>"
            f"<td>{e(format_duration(r.duration_s))}</td><td>{e(format_energy(r.energy_j))}</td><td>{e(band)}</td>"
            f"<td>{e(format_co2e(r.co2e_g))}</td><td>{e(how)}</td><td>{e('; '.join(r.flags))}</td></tr>"
        )
    try:
        plots = "".join(f'<figure><img alt="{e(caption)}" src="data:image/png;base64,{base64.b64encode(png).decode()}"><figcaption>{e(caption)}</figcaption></figure>' for caption, png in _plots_png(records)) if records else ""
    except ImportError:
        plots = "<p>(plots need matplotlib: pip install matplotlib)</p>"
    failed = "".join(f"<li>{e(f)}</li>" for f in failures)
    note_items = "".join(f"<li>{e(n)}</li>" for n in notes)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.25em .5em;text-align:left;font-size:90%}}.bad{{color:#b00;font-weight:bold}}
.totals{{font-size:120%}}img{{max-width:100%}}</style></head><body>
<h1>{e(title)}</h1>
<p class="totals"><b>{t.cells}</b> cells · {e(format_duration(t.duration_s))} measured · <b>{e(format_energy(t.energy_j))}</b> · <b>{e(format_co2e(t.co2e_g))}</b>
(range {e(format_co2e(low_g))} – {e(format_co2e(high_g))})</p>
{f'<h2>Failed cells</h2><ul class="bad">{failed}</ul>' if failed else ''}
<h2>Cells</h2>
<table><thead><tr><th>cell</th><th>label</th><th>status</th><th>duration</th><th>energy</th><th>band</th><th>CO2e</th><th>how</th><th>notes</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<h2>Plots</h2>{plots}
<h2>Assumptions</h2><p>{e(assumptions_of(records))}</p>
{f'<h2>Notes</h2><ul>{note_items}</ul>' if note_items else ''}
<p><small>generated by jupyter_carbon on {e(generated)}</small></p>
</body></html>
"""


def write_html(records: Sequence[CellRecord], path: str | os.PathLike, **options: Any) -> Path:
    """Write the standalone HTML report; ValueError with a one-line message for a bad path."""
    target = check_output_path(path, (".html", ".htm"))
    text = html_report(records, **options)
    return _write_atomic(target, lambda handle: handle.write(text))
