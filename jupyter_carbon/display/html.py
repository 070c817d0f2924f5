"""HTML fragments for records: the one-line auto-mode report, the full ``%%carbon`` report, the
running figures and a small per-cell bar chart drawn with plain ``<div>``s (no matplotlib per
cell).

Styles are inline (a saved notebook keeps them; no stylesheet to inject) and use JupyterLab's CSS
variables with fallbacks, so the same markup follows the light and dark themes, and reads in
nbviewer and nbconvert's HTML. The detail (methods, uncertainty bands, sources) sits in tooltips
and a ``<details>`` element: the default view stays short. No ipywidgets or matplotlib here.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence

from ..record import ComponentEnergy, SessionTotals, WindowRecord, record_name
from ..sampler import Progress
from ..units import (
    co2e_g_from_j,
    format_co2e,
    format_co2e_range,
    format_duration,
    format_energy,
    format_energy_range,
    format_power,
)
from .equivalents import comparisons

# one palette for the HTML bars and the plots (matplotlib is imported lazily there)
from .plots import COMPONENT_COLORS, png_width_px
from .text import (
    cluster_lines,
    format_per_item,
    format_record_line,
    how_word,
    plural,
    record_notes,
    session_phrase,
)

__all__ = [
    "FG", "FG2", "BORDER", "BG", "FONT", "box_style", "status_html", "record_html",
    "record_line_html", "progress_html", "equivalents_html", "totals_html", "bars_html", "img_html",
    "esc", "COMPONENT_COLORS", "ROW", "moved_html", "moved_text",
]  # fmt: skip

# JupyterLab's theme variables; elsewhere VS Code's, else the surrounding text colour (a fixed
# dark grey would vanish on a dark VS Code theme)
FG = "var(--jp-ui-font-color1, var(--vscode-editor-foreground, inherit))"
FG2 = "var(--jp-ui-font-color2, var(--vscode-descriptionForeground, inherit))"
BORDER = "var(--jp-border-color2, rgba(128, 128, 128, 0.4))"
BG = "var(--jp-layout-color1, transparent)"
OK = "var(--jp-success-color1, #2e7d32)"
WARN = "var(--jp-warn-color1, #b26a00)"
ERROR = "var(--jp-error-color1, #c62828)"
ACCENT = "var(--jp-brand-color1, #1976d2)"
FONT = (
    "font-family: var(--jp-ui-font-family, var(--vscode-font-family, system-ui, sans-serif)); "
    "font-size: var(--jp-ui-font-size1, 13px)"
)
_OTHER_COLOR = "#808080"
#: A table row's style: JupyterLab stripes every ``tbody tr`` of an output (``tbody
#: tr:nth-child(odd)`` gets ``--jp-layout-color0``, near-black in the dark theme, on our box's
#: ``--jp-layout-color1``); an inline background wins over that stylesheet.
ROW = "background: transparent"
#: Where a ``print()``'s text starts in an output: JupyterLab pads ``.jp-RenderedText`` by 1ch of
#: its code font; a line in that font, padded 1ch, starts where the printed text does.
_TEXT_INDENT = "font-family: var(--jp-code-font-family, monospace); padding-left: 1ch"
#: A one-line output (the auto-mode line, the running figures): it starts where a ``print()``'s
#: text starts, never wraps, and ends in "…" when the output area is narrower.
_LINE = (
    f"{_TEXT_INDENT}; color: {FG2}; white-space: nowrap; overflow: hidden; "
    "text-overflow: ellipsis; max-width: 100%; box-sizing: border-box; line-height: 1.4"
)


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def box_style(status: str = "ok") -> str:
    edge = ERROR if status != "ok" else OK
    return (
        f"{FONT}; color: {FG}; background: {BG}; border-left: 3px solid {edge}; "
        "padding: 4px 10px; margin: 2px 0; "
        "line-height: 1.5; max-width: 100%; box-sizing: border-box; overflow-x: auto"
    )


def status_html(status: str) -> str:
    if status == "ok":
        return ""
    return (
        f'<span class="jc-status" style="background: {ERROR}; color: white; border-radius: 3px; '
        f'padding: 0 5px; font-weight: bold">{esc(status.upper())}</span> '
    )


def component_tip(comp: ComponentEnergy) -> str:
    """``CPU 100 µWh: estimated (cpu-model), range 80–120 µWh``."""
    band = (
        f", range {format_energy_range(comp.low_j, comp.high_j)}"
        if comp.high_j > comp.low_j
        else ""
    )
    return f"{comp.component.upper()} {format_energy(comp.energy_j)}: {comp.how}{band}"


def _how_lines(record: WindowRecord, range_label: str) -> list[str]:
    """How a record's figures were obtained: each component's method and band, the CO2e range, the
    intensity, PUE and scope (for the line's tooltip and the report's folded details)."""
    lines = [component_tip(c) for c in record.components.values()]
    low, high = record.co2e_band_g
    if high > low:
        lines.append(f"{range_label} {format_co2e_range(low, high)}")
    lines.append(
        f"intensity {record.intensity_g_per_kwh:g} gCO2e/kWh ({record.intensity_source}) · "
        f"PUE {record.pue:g} · scope {record.scope}"
    )
    return lines


def record_tip(record: WindowRecord) -> str:
    """Everything behind a one-line report, for its tooltip: components, band, intensity, notes."""
    return "\n".join(
        _how_lines(record, "CO2e range") + [f"note: {flag}" for flag in record_notes(record)]
    )


def notes_html(notes: Iterable[str], *, small: bool = False) -> str:
    """Lines of extra information (a loop's prediction …) under a report or the running
    figures."""
    size = "; font-size: 0.9em" if small else ""
    return "".join(f'<div class="jc-note" style="color: {FG2}{size}">{esc(n)}</div>' for n in notes)


def equivalents_html(energy_j: float, co2e_g: float) -> str:
    """``≈ a 10 W LED bulb lit for 7 s · a car driving 3 m``, each with its source as a tooltip;
    '' when nothing is picturable."""
    found = comparisons(energy_j, co2e_g)
    if not found:
        return ""
    parts = [
        f'<span class="jc-equivalent" title="{esc(c.source)}" '
        f'style="border-bottom: 1px dotted {FG2}; cursor: help">{esc(c.text)}</span>'
        for c in found
    ]
    return f'<div class="jc-equivalents" style="color: {FG2}">≈ ' + " · ".join(parts) + "</div>"


def totals_html(totals: SessionTotals) -> str:
    return (
        f'<div class="jc-session" style="color: {FG2}">{esc(session_phrase(totals))} · '
        f"{esc(format_energy(totals.energy_j))}</div>"
    )


def _components_table(record: WindowRecord) -> str:
    td = "padding: 0 12px 0 0; white-space: nowrap"
    rows = []
    for comp in record.components.values():
        color = COMPONENT_COLORS.get(comp.component, _OTHER_COLOR)
        rows.append(
            f'<tr class="jc-component" data-component="{esc(comp.component)}" style="{ROW}" '
            f'title="{esc(component_tip(comp))}">'
            f'<td style="{td}"><span style="color: {color}">■</span> '
            f"{esc(comp.component.upper())}</td>"
            f'<td style="{td}; text-align: right">{esc(format_energy(comp.energy_j))}</td>'
            f'<td style="{td}; text-align: right">'
            f"{esc(format_co2e(record.co2e_g_of(comp.energy_j)))}</td>"
            f'<td style="{td}; color: {FG2}">{esc(comp.how)}</td></tr>'
        )
    return (
        '<table class="jc-components" '
        'style="border-collapse: collapse; margin: 2px 0; font-size: 0.95em">'
        + "".join(rows)
        + "</table>"
    )


def bars_html(
    records: Sequence[WindowRecord], highlight_id: int | None = None, *, height_px: int = 40
) -> str:
    """CO2e per record as a row of small stacked bars (``<div>``s, so crisp at any zoom and themed);
    a record too small to see gets a 2 px stub, each bar says its figures in a tooltip."""
    if not records:
        return ""
    top = max((r.co2e_g for r in records), default=0.0) or 1.0
    bars = []
    for r in records:
        total = r.co2e_g
        bar_px = max(2.0, height_px * total / top) if total > 0 else 1.0
        segments = []
        for name, comp in reversed(list(r.components.items())):
            share = comp.energy_j / r.energy_j if r.energy_j > 0 else 0.0
            if share > 0:
                segments.append(
                    f'<div style="height: {share * 100:.1f}%; '
                    f'background: {COMPONENT_COLORS.get(name, _OTHER_COLOR)}"></div>'
                )
        outline = (
            f"outline: 2px solid {ACCENT}; outline-offset: 1px;" if r.id == highlight_id else ""
        )
        cap = f"border-top: 2px solid {ERROR};" if r.status != "ok" else ""
        tip = (
            f"{record_name(r.label, r.cell, r.id)} · {format_duration(r.duration_s)} · "
            f"{format_energy(r.energy_j)} · {format_co2e(total)}"
            + ("" if r.status == "ok" else f" · {r.status}")
        )
        bars.append(
            f'<div class="jc-bar" title="{esc(tip)}" style="flex: 0 1 12px; min-width: 3px; '
            f'height: {bar_px:.1f}px; display: flex; flex-direction: column; {outline}{cap}">'
            + "".join(segments)
            + "</div>"
        )
    caption = f"CO2e per cell, last {plural(len(records), 'cell')} (tallest {format_co2e(top)})" + (
        "; this cell outlined" if highlight_id is not None else ""
    )
    legend = " ".join(
        f'<span style="color: {color}">■</span> {name.upper()}'
        for name, color in COMPONENT_COLORS.items()
        if any(name in r.components for r in records)
    )
    return (
        f'<div class="jc-bars" style="margin: 6px 0 2px 0">'
        f'<div style="display: flex; align-items: flex-end; gap: 2px; height: {height_px + 3}px; '
        f'max-width: {len(records) * 16}px; border-bottom: 1px solid {BORDER}">'
        f"{''.join(bars)}</div>"
        f'<div style="color: {FG2}; font-size: 0.9em">{esc(caption)} · {legend}</div></div>'
    )


def _details_html(record: WindowRecord) -> str:
    """The 'how was this measured' part, folded: methods and bands, intensity, sources."""
    items = _how_lines(record, "CO2e range of the estimates:")
    items += [f"comparison: {c.source}" for c in comparisons(record.energy_j, record.co2e_g)]
    # session-level (no region set)
    items += [f"note: {note}" for note in record_notes(record)[len(record.flags) :]]
    lis = "".join(f"<li>{esc(item)}</li>" for item in items)
    return (
        f'<details class="jc-details" style="color: {FG2}">'
        '<summary style="cursor: pointer">how this was measured</summary>'
        f'<ul style="margin: 2px 0; padding-left: 18px">{lis}</ul></details>'
    )


def record_html(
    record: WindowRecord, *, notes: Iterable[str] = (), recent: Sequence[WindowRecord] = ()
) -> str:
    """The full report of a ``%%carbon`` cell; ``recent`` records (this one among them) give the
    bar chart."""
    energy_j = record.energy_j
    head = (
        f'<div class="jc-title">{status_html(record.status)}'
        f"<b>carbon · {esc(record_name(record.label, record.cell, record.id))}</b>"
        f'<span style="color: {FG2}"> — {esc(format_duration(record.duration_s))}</span></div>'
        f'<div class="jc-headline" title="{esc(record_tip(record))}">'
        f'<b class="jc-energy">{esc(format_energy(energy_j))}</b> · '
        f'<b class="jc-co2e">{esc(format_co2e(record.co2e_g))}</b> '
        f'<span style="color: {FG2}">({esc(how_word(record.measured_by_component))})</span></div>'
    )
    extra = []
    marginal = record.marginal_energy_j
    if marginal is not None:
        extra.append(
            f"above idle baseline (marginal): {format_energy(marginal)}, "
            f"{format_co2e(record.co2e_g_of(marginal))}"
        )
    extra += format_per_item(record)
    extra += cluster_lines(record)
    lines = "".join(f'<div class="jc-per-item">{esc(line)}</div>' for line in extra)
    flags = "".join(
        f'<div class="jc-flag" style="color: {WARN}">note: {esc(flag)}</div>'
        for flag in record.flags
    )
    return (
        head
        + _components_table(record)
        + lines
        + notes_html(notes)
        + flags
        + equivalents_html(energy_j, record.co2e_g)
        + bars_html(recent, highlight_id=record.id)
        + totals_html(record.totals)
        + _details_html(record)
    )


def record_line_html(record: WindowRecord, line: str | None = None) -> str:
    """The one-line report (auto mode): never wraps, the detail is in its tooltip."""
    text = line or format_record_line(record)
    if record.status != "ok":  # the status is a coloured tag here, not the text's " [ERROR]"
        text = format_record_line(record, status=False)
    return (
        f'<div class="jupyter-carbon jc-compact" title="{esc(record_tip(record))}" '
        f'style="{_LINE}">{_line_text(status_html(record.status) + esc(text))}</div>'
    )


def _line_text(markup: str) -> str:
    """The text of a one-line output in the UI font (its box is in the code font, for the
    indent)."""
    return f'<span style="{FONT}">{markup}</span>'


def progress_html(
    status: Progress, g_per_kwh: float, pue: float, *, name: str = "", compact: bool = False
) -> str:
    """Running figures: elapsed, power per component, energy and CO2e so far."""
    energy_j = sum(status.energy_j.values())
    co2e = co2e_g_from_j(energy_j, g_per_kwh, pue)  # both checked when set
    power = " · ".join(f"{c.upper()} {format_power(w)}" for c, w in status.power_w.items())
    figures = (
        f"{format_duration(status.elapsed_s)} elapsed · {power} · {format_energy(energy_j)} · "
        f"{format_co2e(co2e)} so far"
    )
    who = f"{name}: " if name and not compact else ""
    return (
        f'<div class="jupyter-carbon jc-progress" style="{_LINE}">'
        f"{_line_text(f'carbon: running {esc(who)}{esc(figures)}')}</div>"
    )


def moved_text(record: WindowRecord, *, name: str = "", compact: bool = False) -> str:
    """What the running figures' output says once the cell has ended, its report being at the
    end of the cell's output, after everything the cell printed:
    ``carbon: browser ran 3.01 s · report at the end of the cell's output``."""
    who = f"{name} " if name and not compact else ""
    what = "figures" if compact else "report"
    return (
        f"carbon: {who}ran {format_duration(record.duration_s)} · "
        f"{what} at the end of the cell's output"
    )


def moved_html(record: WindowRecord, *, name: str = "", compact: bool = False) -> str:
    text = moved_text(record, name=name, compact=compact)
    return f'<div class="jupyter-carbon jc-moved" style="{_LINE}">{_line_text(esc(text))}</div>'


def img_html(png: bytes, alt: str, *, scale: int = 2) -> str:
    """A PNG drawn at ``scale``× shown at its CSS size: sharp on HiDPI screens, never wider than
    its box."""
    width = png_width_px(png) // scale
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<img class="jc-plot" alt="{esc(alt)}" width="{width}" '
        f'style="max-width: 100%; height: auto" src="data:image/png;base64,{data}"/>'
    )
