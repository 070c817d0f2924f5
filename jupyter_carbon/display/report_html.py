"""The HTML renderer of a :class:`~jupyter_carbon.digest.Digest`: the notebook summary
(``%carbon summary``, one static fragment) and the standalone report (``jupyter-carbon
run|report --html``), built from the same parts.

Both show the totals (with the estimates' range, the Dask cluster's share and an everyday
comparison), a table of the newest ``MAX_ROWS`` records whose columns each use one unit (the
detail of each record in its *how* cell's tooltip), plots and the assumptions. The notebook
fragment adds a bar per recent cell (``html.bars_html``) and the power timeline of the cells that
used the most energy; the report adds its failed cells, the CO2e bars of every record (binned past
a few hundred) and its notes. Styles are inline (see ``display.html``). Plots are PNG
(``display.plots``); without matplotlib, or when a figure cannot be drawn, the page says so and
keeps the rest. Its size does not grow with the number of records.
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..advice import advice_of
from ..digest import MAX_ROWS, Digest, as_digest
from ..record import record_name
from ..storage.export import _write_atomic, check_output_path
from ..textsafe import visible
from ..units import format_duration, format_energy
from . import html as H
from .plots import cumulative_png, report_plots, timeline_png
from .report_text import (
    EXPORT_HINT,
    advice_sections,
    assumptions_line,
    band_line,
    cluster_line,
    dropped_text,
    figure,
    how_cell,
    idle_text,
    nested_note,
    rows_note,
    totals_figures,
)  # fmt: skip
from .text import column, plural

if TYPE_CHECKING:
    from ..record import WindowRecord

__all__ = [
    "head_html",
    "table_html",
    "assumptions_html",
    "summary_html",
    "html_report",
    "write_html",
]

#: Recent cells drawn as bars in the notebook summary.
_BAR_CELLS = 50
#: Rows of the table before it scrolls inside its box (the notebook summary).
_TABLE_HEIGHT_PX = 320
#: The standalone report's stylesheet.
_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;line-height:1.5}"
    "td,th{font-size:90%}\n"
    ".bad{color:#b00;font-weight:bold}.jc-title{font-size:120%}img{max-width:100%}"
)
#: Each column's alignment, its head's and its cells' alike: numbers right, words left.
_ALIGN = ("right", "right", "left", "right", "right", "right", "left", "left")
# a column's head and cells share their padding and alignment (JupyterLab pads cells 0.5em and
# right-aligns heads, a browser centres heads); the first column is flush with the text
_LEFTS = ("0",) + ("8px",) * 7
_TH = tuple(
    f"padding: 2px 8px 2px {left}; text-align: {align}; "
    f"border-bottom: 1px solid {H.BORDER}; font-weight: 600"
    for left, align in zip(_LEFTS, _ALIGN)
)
_TD = tuple(
    f"padding: 1px 8px 1px {left}; text-align: {align}" for left, align in zip(_LEFTS, _ALIGN)
)
#: The column whose cells carry the record's tooltip (how each component was obtained).
_HOW_COLUMN = 6


def _drawn(draw: Callable[[], str], say: Callable[[str], str]) -> str:
    """``draw()``, or what stood in the way, through ``say``: a missing matplotlib, a figure that
    cannot be drawn (that must not cost the rest of the page)."""
    try:
        return draw()
    except ImportError:
        return say("(plots need matplotlib: pip install matplotlib)")
    except Exception as exc:
        return say(f"(plots not drawn: {str(exc) or type(exc).__name__})")


def head_html(digest: Digest) -> str:
    """The totals, the estimates' range, the cluster's share and an everyday comparison."""
    t = digest.totals
    cells, duration, energy, co2e = totals_figures(t)
    parts = [
        '<div class="jc-title"><b>jupyter_carbon session</b> · '
        f'<span class="jc-totals">{H.esc(cells)} · '
        f"{H.esc(duration)} measured · <b>{H.esc(energy)}</b> · <b>{H.esc(co2e)}</b>"
        f"{H.esc(nested_note(t))}</span></div>"
    ]
    for line, css in (
        (band_line(digest), "jc-band"),
        (idle_text(digest), "jc-idle"),
        (dropped_text(digest), "jc-dropped"),
        (cluster_line(digest), "jc-cluster"),
    ):
        if line:
            parts.append(f'<div class="{css}" style="color: {H.FG2}">{H.esc(line)}</div>')
    if math.isfinite(t.energy_j) and math.isfinite(t.co2e_g):
        parts.append(H.equivalents_html(t.energy_j, t.co2e_g))
    return "".join(parts)


def _tip(r: WindowRecord) -> str:
    """How each component was obtained, with its band, and the record's notes."""
    lines = [H.component_tip(c) for c in r.components.values()]
    return "\n".join(lines + [f"note: {visible(flag, 200)}" for flag in r.flags])


def table_html(
    digest: Digest,
    *,
    rows: int = MAX_ROWS,
    export_hint: str = EXPORT_HINT,
    max_height_px: int | None = None,
) -> str:
    """The newest ``rows`` records, one unit per column, then how many are left out.
    ``max_height_px``: the box scrolls past this height (else the table is as long as it is)."""
    shown = list(digest.rows)[-rows:] if rows else []
    energy_unit, energies = column([r.energy_j for r in shown], "energy")
    co2e_unit, co2es = column([r.co2e_g for r in shown], "co2e")
    heads = [
        "#",
        "cell",
        "label",
        "duration",
        f"energy ({energy_unit})",
        f"CO2e ({co2e_unit})",
        "how",
        "status",
    ]
    out = [
        f'<thead><tr style="{H.ROW}">'
        + "".join(f'<th style="{style}">{H.esc(h)}</th>' for style, h in zip(_TH, heads))
        + "</tr></thead><tbody>"
    ]
    for r, energy, co2e in zip(shown, energies, co2es):
        status = H.status_html(visible(r.status, 20)) if r.status != "ok" else "ok"
        cells = (
            H.esc(visible(r.id, 12)),
            "" if r.cell is None else H.esc(f"[{visible(r.cell, 12)}]"),
            H.esc(visible(r.label or "", 200)),
            H.esc(figure(format_duration, r.duration_s)),
            H.esc(energy),
            H.esc(co2e),
            H.esc(how_cell(r.measured_by_component)),
            status,
        )
        tips = {_HOW_COLUMN: f' title="{H.esc(_tip(r))}"'}
        out.append(
            f'<tr class="jc-row" style="{H.ROW}">'
            + "".join(
                f'<td style="{style}"{tips.get(i, "")}>{cell}</td>'
                for i, (style, cell) in enumerate(zip(_TD, cells))
            )
            + "</tr>"
        )
    more = ""
    if digest.count > len(shown):
        note = f"… {rows_note(digest, len(shown))} are shown ({export_hint})"
        more = f'<div style="color: {H.FG2}">{H.esc(note)}</div>'
    height = f"max-height: {max_height_px}px; overflow: auto; " if max_height_px else ""
    return (
        f'<div class="jc-table-box" style="{height}max-width: 100%; margin: 4px 0">'
        '<table class="jc-table" style="border-collapse: separate; border-spacing: 0; '
        "white-space: nowrap; "
        f'text-align: right; font-size: 0.95em">{"".join(out)}</tbody></table></div>{more}'
    )


def assumptions_html(digest: Digest) -> str:
    return (
        f'<div class="jc-assumptions" style="color: {H.FG2}">'
        f"{H.esc(assumptions_line(digest))}</div>"
    )


def _cell_name(record: WindowRecord) -> str:
    name = f"[{record.cell}]" if record.cell is not None else f"#{record.id}"
    return name + (f" {visible(record.label, 80)}" if record.label else "")


def _session_plots_html(digest: Digest) -> str:
    """The cumulative CO2e and the power of the cell that used the most energy (the next three in
    a ``<details>``), side by side while they fit."""
    figures = [
        H.img_html(cumulative_png(digest, width_in=4.5, scale=2), "cumulative CO2e of the session")
    ]
    timelines = digest.timelines
    chosen, others = (timelines[0], timelines[1:]) if timelines else (None, [])
    caption = more = ""
    if chosen is not None:
        name = _cell_name(chosen)
        figures.append(
            H.img_html(timeline_png(chosen, width_in=4.5, scale=2), f"power of cell {name}")
        )
        caption = (
            f'<div style="color: {H.FG2}; font-size: 0.9em">'
            "left: cumulative CO2e · right: power of "
            f"{H.esc(name)}, the cell that used the most energy</div>"
        )
    if others:  # the next ones, one click away
        images = "".join(
            f'<div style="color: {H.FG2}">{H.esc(_cell_name(r))} — '
            f"{H.esc(format_duration(r.duration_s))}, "
            f"{H.esc(format_energy(r.energy_j))}</div>"
            + H.img_html(timeline_png(r, width_in=4.5, scale=2), f"power of cell {_cell_name(r)}")
            for r in others
        )
        more = (
            f'<details class="jc-more-timelines"><summary style="cursor: pointer; color: {H.FG2}">'
            f"power of the next {plural(len(others), 'cell')} by energy</summary>{images}</details>"
        )
    boxes = "".join(f'<div style="flex: 0 1 auto; min-width: 0">{f}</div>' for f in figures)
    return (
        '<div class="jc-plots" style="display: flex; flex-wrap: wrap; gap: 8px; max-width: 100%">'
        f"{boxes}</div>"
        f"{caption}{more}"
    )


def advice_html(digest: Digest, heading_tag: str = "div") -> str:
    """The actionable summary (``display.report_text.advice_sections``): each heading, then
    its lines indented."""
    out = []
    for heading, items in advice_sections(advice_of(digest)):
        lines = "".join(
            f'<div class="jc-advice-line" style="margin-left: 1em">{H.esc(item)}</div>'
            for item in items
        )
        out.append(
            f'<{heading_tag} style="font-weight: 600; margin-top: 0.4em">{H.esc(heading)}'
            f"</{heading_tag}>{lines}"
        )
    return f'<div class="jc-advice">{"".join(out)}</div>' if out else ""


def summary_html(source: Digest | Iterable[WindowRecord], *, export_hint: str = EXPORT_HINT) -> str:
    """The notebook summary as one static HTML fragment."""
    digest = as_digest(source)
    parts = [head_html(digest)]
    if digest.count:
        parts.append(H.bars_html(list(digest.rows)[-_BAR_CELLS:]))
        parts.append(table_html(digest, export_hint=export_hint, max_height_px=_TABLE_HEIGHT_PX))
        parts.append(
            _drawn(
                lambda: _session_plots_html(digest),
                lambda text: f'<div style="color: {H.FG2}">{H.esc(text)}</div>',
            )
        )
    else:
        parts.append(
            f'<div style="color: {H.FG2}">'
            "no cells measured yet: use %%carbon on a cell or %carbon on</div>"
        )
    parts.append(advice_html(digest))
    parts.append(assumptions_html(digest))
    return (
        f'<div class="jupyter-carbon jc-summary" style="{H.box_style()}">'
        + "".join(parts)
        + "</div>"
    )


def _report_plots_html(digest: Digest) -> str:
    e = html.escape
    return "".join(
        f'<figure><img alt="{e(caption)}" '
        f'src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        f"<figcaption>{e(caption)}</figcaption></figure>"
        for caption, png in report_plots(digest)
    )


def html_report(
    source: Digest | Iterable[WindowRecord],
    *,
    title: str = "jupyter_carbon report",
    failures: Iterable[str] = (),
    notes: Iterable[str] = (),
    rows: int = MAX_ROWS,
) -> str:
    """The report as one HTML document (``source``: a Digest or records)."""
    e = html.escape
    digest = as_digest(source)
    failures = list(failures) or [
        f"{record_name(r.label, r.cell, r.id)}: {r.status}" for r in digest.failed
    ]
    failed = "".join(f"<li>{e(visible(f, 300))}</li>" for f in failures[-rows:])
    listed, of = min(len(failures), rows), max(len(failures), digest.errors)
    failed_note = f" (the newest {listed:,} of {of:,})" if of > listed else ""
    note_items = "".join(f"<li>{e(n)}</li>" for n in notes)
    shown = min(digest.count, len(digest.rows), rows)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>{_CSS}</style></head><body>
<h1>{e(title)}</h1>
{head_html(digest)}
{f'<h2>Failed cells{e(failed_note)}</h2><ul class="bad">{failed}</ul>' if failed else ""}
<h2>Cells: {e(rows_note(digest, shown))}</h2>
{table_html(digest, rows=rows)}
<h2>Plots</h2>{_drawn(lambda: _report_plots_html(digest), lambda text: f"<p>{e(text)}</p>")}
{_advice_section(digest)}
<h2>Assumptions</h2>{assumptions_html(digest)}
{f"<h2>Notes</h2><ul>{note_items}</ul>" if note_items else ""}
<p><small>generated by jupyter_carbon on {e(generated)}</small></p>
</body></html>
"""


def _advice_section(digest: Digest) -> str:
    body = advice_html(digest, "h3")
    return f"<h2>What to do next</h2>{body}" if body else ""


def write_html(
    source: Digest | Iterable[WindowRecord], path: str | os.PathLike, **options: Any
) -> Path:
    """Write the standalone HTML report; ValueError with a one-line message for a bad path."""
    target = check_output_path(path, (".html", ".htm"))
    text = html_report(source, **options)
    return _write_atomic(target, lambda handle: handle.write(text))
