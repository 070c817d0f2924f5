"""Off-screen plots of records, as PNG bytes.

matplotlib is imported here, lazily, and only its object-oriented API is used: a
``matplotlib.figure.Figure`` drawn by the Agg canvas. ``pyplot`` is never imported, so the
user's backend, current figure and ``plt.get_fignums()`` stay as they were, and every figure is
garbage once its PNG is written (nothing registers it anywhere).

Colours are mid-tone and backgrounds transparent, so one image reads on JupyterLab's light and
dark themes alike; labels are 10 pt. ``scale=2`` draws at twice the pixels for HiDPI screens
(show it at half its pixel width: :func:`jupyter_carbon.display.html.img_html`). Only the summary
and the HTML report draw plots; a cell's report draws its bars in HTML (``html.bars_html``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from ..record import CellRecord
from ..units import CO2E_UNITS, unit_for

__all__ = ["COMPONENT_COLORS", "png_width_px", "cumulative_png", "cumulative_co2e_g", "timeline_png"]

COMPONENT_COLORS = {"cpu": "#4c8bf5", "gpu": "#9c5fd6", "ram": "#e8a33d"}
_TEXT = "#808080"  # mid grey: ~4:1 contrast on white and on JupyterLab's dark background
_HIGHLIGHT = "#e0483e"
_DPI = 80  # at scale 1; the CSS size of the image is its inches × 80
_FONT_PT = 10


def png_width_px(png: bytes) -> int:
    """The pixel width in a PNG's header (so frontends show it 1:1, not stretched)."""
    return int.from_bytes(bytes(png[16:20]), "big")


def _new_figure(width_in: float, height_in: float, scale: int = 1) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=_DPI * scale)
    fig.patch.set_alpha(0.0)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.patch.set_alpha(0.0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(_TEXT)
    ax.tick_params(colors=_TEXT, labelsize=_FONT_PT - 1)
    ax.yaxis.label.set_color(_TEXT)
    ax.xaxis.label.set_color(_TEXT)
    ax.title.set_color(_TEXT)
    return fig, ax


def _png(fig: Any, bottom_in: float = 0.45) -> bytes:
    """PNG bytes; fixed margins (in inches) instead of tight_layout, which costs a draw."""
    width_in, height_in = fig.get_size_inches()
    fig.subplots_adjust(left=0.65 / width_in, right=1 - 0.1 / width_in, top=1 - 0.1 / height_in, bottom=bottom_in / height_in)
    buffer = io.BytesIO()
    fig.canvas.print_png(buffer)
    return buffer.getvalue()


def _co2e_scale(max_g: float) -> tuple[float, str]:
    """A factor and unit so the axis reads in µg, mg, g or kg CO2e (no tonnes on a notebook's axis)."""
    return unit_for(max_g, CO2E_UNITS[:-1])


def _legend(ax: Any, components: Sequence[str]) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=COMPONENT_COLORS.get(c, _TEXT), label=c.upper()) for c in components]
    legend = ax.legend(handles=handles, fontsize=_FONT_PT, frameon=False, loc="upper left", ncol=len(handles))
    for text in legend.get_texts():
        text.set_color(_TEXT)


def _tick(record: CellRecord) -> str:
    if record.cell is not None:
        return f"[{record.cell}]"
    return f"#{record.id}"


def cumulative_co2e_g(records: Sequence[CellRecord]) -> list[float]:
    """The running CO2e after each record, overlapping windows counted once (a window nested in
    another adds nothing; see ``jupyter_carbon.totals``), so the curve ends at the session's total."""
    from ..totals import counted_fractions, span_of

    running, out = 0.0, []
    for record, fraction in zip(records, counted_fractions([span_of(r) for r in records])):
        running += record.co2e_g * fraction
        out.append(running)
    return out


def cumulative_png(records: Sequence[CellRecord], *, width_in: float = 4.0, height_in: float = 2.2, max_points: int = 2000, scale: int = 1) -> bytes:
    """The session's cumulative emissions, one step per record (downsampled past ``max_points``),
    overlapping windows counted once."""
    fig, ax = _new_figure(width_in, height_in, scale)
    cumulative = cumulative_co2e_g(records)
    running = cumulative[-1] if cumulative else 0.0
    stride = max(1, len(cumulative) // max_points)
    xs = [0] + list(range(1, len(cumulative) + 1))[::stride]
    factor, unit = _co2e_scale(running)
    ys = [0.0] + [v / factor for v in cumulative[::stride]]
    if stride > 1 and xs[-1] != len(cumulative):
        xs.append(len(cumulative))
        ys.append(running / factor)
    from matplotlib.ticker import MaxNLocator

    ax.plot(xs, ys, color=COMPONENT_COLORS["cpu"], linewidth=1.5, marker="." if len(xs) < 40 else None)
    ax.fill_between(xs, ys, color=COMPONENT_COLORS["cpu"], alpha=0.2)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, max(xs[-1], 1))
    ax.set_xlabel("records", fontsize=_FONT_PT)
    ax.set_ylabel(f"cumulative {unit} CO2e", fontsize=_FONT_PT)
    return _png(fig)


def timeline_png(record: CellRecord, *, width_in: float = 6.0, height_in: float = 2.2, scale: int = 1) -> bytes:
    """Power (W) per component over the record's window, from ``record.timeline``."""
    fig, ax = _new_figure(width_in, height_in, scale)
    timeline = record.timeline
    shown = []
    for comp, values in timeline.power_w.items():
        if values and len(values) == len(timeline.t_s):
            ax.plot(timeline.t_s, values, color=COMPONENT_COLORS.get(comp, _TEXT), linewidth=1.5, marker="." if len(values) < 30 else None)
            shown.append(comp)
    if shown:
        _legend(ax, shown)
        top = max(max(v) for c, v in timeline.power_w.items() if c in shown)
        ax.set_ylim(0, max(top * 1.3, 1e-9))
    else:
        ax.text(0.5, 0.5, "no power samples (cell shorter than the sampling interval)", transform=ax.transAxes, ha="center", va="center", color=_TEXT, fontsize=_FONT_PT)
    ax.set_xlabel("seconds since the cell started", fontsize=_FONT_PT)
    ax.set_ylabel("W", fontsize=_FONT_PT)
    return _png(fig)
