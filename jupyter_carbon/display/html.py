"""HTML fragments for records, shared by the widgets and their static ``text/html`` fallbacks.

Styles are inline (a saved notebook keeps them; no stylesheet to inject) and use JupyterLab's CSS
variables with fallbacks, so the same markup reads in the light and dark themes, in nbviewer and
in nbconvert's HTML. No ipywidgets or matplotlib here.
"""

from __future__ import annotations

import base64
import html
from typing import Any, Iterable

from ..record import CellRecord, ComponentEnergy
from ..sampler import LiveStatus
from ..units import format_co2e, format_duration, format_energy, format_power
from .text import cluster_lines, component_badge, format_per_item, format_record_line, record_name, record_notes

__all__ = ["FG", "FG2", "BORDER", "BG", "box_style", "badge_html", "status_html", "record_html", "record_line_html", "live_html", "equivalents_html", "totals_html", "img_html", "esc"]

FG = "var(--jp-ui-font-color1, #1a1a1a)"
FG2 = "var(--jp-ui-font-color2, #616161)"
BORDER = "var(--jp-border-color2, #d0d0d0)"
BG = "var(--jp-layout-color1, transparent)"
OK = "var(--jp-success-color1, #2e7d32)"
WARN = "var(--jp-warn-color1, #b26a00)"
ERROR = "var(--jp-error-color1, #c62828)"
FONT = "font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: var(--jp-ui-font-size1, 13px)"


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def box_style(status: str = "ok") -> str:
    edge = ERROR if status != "ok" else BORDER
    return f"{FONT}; color: {FG}; background: {BG}; border: 1px solid {edge}; border-left: 4px solid {edge if status != 'ok' else OK}; border-radius: 4px; padding: 6px 10px; margin: 2px 0; line-height: 1.5"


def badge_html(comp: ComponentEnergy) -> str:
    color = OK if comp.measured else WARN
    tip = "read from a hardware energy counter/sensor" if comp.measured else "estimated from a power model; the band is the model's uncertainty"
    return f'<span class="jc-badge" title="{esc(tip)}" style="border: 1px solid {color}; color: {color}; border-radius: 8px; padding: 0 6px; font-size: 0.9em; white-space: nowrap">{esc(component_badge(comp))}</span>'


def status_html(status: str) -> str:
    if status == "ok":
        return ""
    return f'<span class="jc-status" style="background: {ERROR}; color: white; border-radius: 3px; padding: 0 6px; font-weight: bold">{esc(status.upper())}</span> '


def equivalents_html(energy_j: float, co2e_g: float) -> str:
    """Smartphone charges and car distance, each with its source as a tooltip."""
    from ..intensity.emissions import equivalents_by_label

    parts = []
    for label, items in equivalents_by_label(energy_j, co2e_g).items():
        values = " / ".join(f"{e.value:.3g} {'' if e.unit in label else e.unit}".strip() for e in items)
        parts.append(f'<span class="jc-equivalent" title="{esc(items[0].source)}" style="border-bottom: 1px dotted {FG2}; cursor: help">{esc(label)}: {esc(values)}</span>')
    return f'<div class="jc-equivalents" style="color: {FG2}">≈ ' + " · ".join(parts) + "</div>"


def totals_html(totals: Any) -> str:
    return f'<div class="jc-session" style="color: {FG2}">session so far: {totals.cells} cells measured · {esc(format_energy(totals.energy_j))} · {esc(format_co2e(totals.co2e_g))}</div>'


def _component_rows(record: CellRecord) -> Iterable[str]:
    cell = f"padding: 1px 10px 1px 0; border-bottom: 1px solid {BORDER}"
    for comp in record.components.values():
        yield (
            f'<tr class="jc-component" data-component="{esc(comp.component)}"><td style="{cell}; font-weight: bold">{esc(comp.component.upper())}</td>'
            f'<td style="{cell}; text-align: right">{esc(format_energy(comp.energy_j))}</td>'
            f'<td style="{cell}; text-align: right">{esc(format_co2e(record.co2e_g_of(comp.energy_j)))}</td>'
            f'<td style="{cell}">{badge_html(comp)}</td></tr>'
        )
    low, high = record.co2e_band_g
    band = f'<span style="color: {FG2}; font-weight: normal"> ({esc(format_co2e(low))} – {esc(format_co2e(high))})</span>' if high > low else ""
    yield (
        f'<tr class="jc-total" style="font-weight: bold"><td style="padding: 1px 10px 1px 0">TOTAL</td>'
        f'<td class="jc-energy" style="padding: 1px 10px 1px 0; text-align: right">{esc(format_energy(record.energy_j))}</td>'
        f'<td class="jc-co2e" style="padding: 1px 10px 1px 0; text-align: right">{esc(format_co2e(record.co2e_g))}</td><td>{band}</td></tr>'
    )


def record_html(record: CellRecord, *, notes: Iterable[str] = ()) -> str:
    """The full report of a ``%%carbon`` cell (without the plot)."""
    head = (
        f'<div class="jc-title" style="font-weight: bold">{status_html(record.status)}carbon · {esc(record_name(record.label, record.cell, record.id))}'
        f'<span style="font-weight: normal; color: {FG2}"> — {esc(format_duration(record.duration_s))}</span></div>'
    )
    table = '<table class="jc-components" style="border-collapse: collapse; margin: 4px 0">' + "".join(_component_rows(record)) + "</table>"
    extra = []
    marginal = record.marginal_energy_j
    if marginal is not None:
        extra.append(f"above idle baseline (marginal): {format_energy(marginal)}, {format_co2e(record.co2e_g_of(marginal))}")
    extra += format_per_item(record)
    extra += cluster_lines(record)
    lines = "".join(f'<div class="jc-per-item">{esc(line)}</div>' for line in extra)
    context = (
        f'<div style="color: {FG2}">intensity {record.intensity_g_per_kwh:g} gCO2e/kWh ({esc(record.intensity_source)}) · '
        f"PUE {record.pue:g} · scope {esc(record.scope)}</div>"
    )
    flags = "".join(f'<div class="jc-flag" style="color: {WARN}">note: {esc(flag)}</div>' for flag in record_notes(record))
    notes_part = "".join(f'<div class="jc-note" style="color: {FG2}">{esc(n)}</div>' for n in notes)
    return head + table + lines + equivalents_html(record.energy_j, record.co2e_g) + totals_html(record.totals) + context + notes_part + flags


def record_line_html(record: CellRecord, line: str | None = None) -> str:
    """One line (auto mode): the text ``line`` (default: ``format_record_line``), with the status and badges' colours."""
    how = " ".join(badge_html(c) for c in record.components.values())
    return f'<span class="jc-line">{status_html(record.status)}{esc(line or format_record_line(record))}</span> {how}'


def live_html(status: LiveStatus, g_per_kwh: float, pue: float, *, compact: bool = False) -> str:
    """Running figures: elapsed, power per component, energy and CO2e so far."""
    from ..intensity.emissions import co2e_g

    energy_j = sum(status.energy_j.values())
    co2e = co2e_g(max(energy_j, 0.0), g_per_kwh, pue)
    power = " · ".join(f"{c.upper()} {format_power(w)}" for c, w in status.power_w.items())
    figures = f"{format_duration(status.elapsed_s)} elapsed · {power} · {format_energy(energy_j)} · {format_co2e(co2e)} so far"
    if compact:
        return f'<span class="jc-live-text" style="color: {FG2}">carbon: running {esc(figures)}</span>'
    return f'<div class="jc-live-text" style="color: {FG2}">running: {esc(figures)}</div>'


def img_html(png: bytes, alt: str) -> str:
    return f'<img class="jc-plot" alt="{esc(alt)}" style="max-width: 100%" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}"/>'
