"""Off-screen plots of a :class:`~jupyter_carbon.digest.Digest` or a record, as PNG bytes: the
one plot renderer of the in-kernel summary and the CLI's HTML report.

matplotlib is imported here, lazily, and only its object-oriented API is used: a
``matplotlib.figure.Figure`` drawn by the Agg canvas. ``pyplot`` is never imported, so the
user's backend, current figure and ``plt.get_fignums()`` stay as they were, and every figure is
garbage once its PNG is written (nothing registers it anywhere).

Colours are mid-tone and backgrounds transparent, so one image reads on JupyterLab's light and
dark themes alike; labels are 12 px and tick labels 11 px at the image's CSS size. ``scale=2``
draws at twice the pixels for HiDPI screens (show it at half its pixel width:
:func:`jupyter_carbon.display.html.img_html`). A cell's report draws its bars in HTML
(``html.bars_html``).

Bounded in cost whatever the number of records: bars are one per record up to ``MAX_BARS``
records, beyond that records are grouped in order into at most ``MAX_BINS`` bins of equal size
(the title says so); the cumulative curve has at most ``MAX_POINTS`` points. Bars and curve show
the CO2e the totals count (a window nested in another adds nothing, see ``jupyter_carbon.totals``),
so the curve ends at the reported total. A figure that is not a finite number raises
:class:`NotFinite` instead of drawing nonsense.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, cast

from ..digest import Digest, as_digest
from ..units import CO2E_UNITS, unit_for
from .text import plural

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..record import WindowRecord

__all__ = [
    "COMPONENT_COLORS",
    "MAX_BARS",
    "MAX_BINS",
    "MAX_POINTS",
    "NotFinite",
    "png_width_px",
    "bars_title",
    "bars_png",
    "cumulative_co2e_g",
    "cumulative_png",
    "timeline_png",
    "report_plots",
]

COMPONENT_COLORS = {"cpu": "#4c8bf5", "gpu": "#9c5fd6", "ram": "#e8a33d"}
#: One bar per record up to this many records.
MAX_BARS = 300
#: Bars beyond ``MAX_BARS`` records: bins of consecutive records.
MAX_BINS = 200
#: Points of the cumulative curve.
MAX_POINTS = 2000
# mid grey, the one ink that reads on both themes (the images are transparent): 3.9:1 on white,
# 4.0:1 on JupyterLab dark's --jp-layout-color1 (#212121, the summary's box), 4.7:1 on #111
_TEXT = "#808080"
_COLORS = {**COMPONENT_COLORS, "other": _TEXT}
_HIGHLIGHT = "#e0483e"
_DPI = 80  # at scale 1; the CSS size of the image is its inches × 80
#: Text sizes in CSS pixels at the image's CSS size (the notebook's own text is 13–14 px), as
#: points: a point is 1/72 in, and an inch is ``_DPI`` CSS pixels.
_LABEL_PX = 12
_TICK_PX = 11
_LABEL_PT = _LABEL_PX * 72 / _DPI
_TICK_PT = _TICK_PX * 72 / _DPI


class NotFinite(ValueError):
    """A figure too large (or not a number) to plot."""


def png_width_px(png: bytes) -> int:
    """The pixel width in a PNG's header (so frontends show it 1:1, not stretched)."""
    return int.from_bytes(bytes(png[16:20]), "big")


def _new_figure(width_in: float, height_in: float, scale: int = 1) -> tuple[Figure, Axes]:
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
    ax.tick_params(colors=_TEXT, labelsize=_TICK_PT)
    ax.yaxis.label.set_color(_TEXT)
    ax.xaxis.label.set_color(_TEXT)
    ax.title.set_color(_TEXT)
    return fig, ax


def _png(fig: Figure, bottom_in: float = 0.5) -> bytes:
    """PNG bytes; fixed margins (in inches) instead of tight_layout, which costs a draw."""
    width_in, height_in = fig.get_size_inches()
    fig.subplots_adjust(
        left=0.8 / width_in,
        right=1 - 0.1 / width_in,
        top=1 - 0.1 / height_in,
        bottom=bottom_in / height_in,
    )
    buffer = io.BytesIO()
    cast("FigureCanvasAgg", fig.canvas).print_png(buffer)  # the canvas _new_figure attached
    return buffer.getvalue()


def _co2e_scale(max_g: float) -> tuple[float, str]:
    """A factor and unit so the axis reads in µg, mg, g or kg CO2e (no tonnes on a notebook's
    axis)."""
    return unit_for(max_g, CO2E_UNITS[:-1])


def _legend(ax: Axes, components: Sequence[str]) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=_COLORS.get(c, _TEXT), label=c.upper()) for c in components]
    legend = ax.legend(
        handles=handles, fontsize=_LABEL_PT, frameon=False, loc="upper left", ncol=len(handles)
    )
    for text in legend.get_texts():
        text.set_color(_TEXT)


def _check(values: Iterable[float]) -> None:
    if not all(math.isfinite(v) for v in values):
        raise NotFinite("some figures are too large to plot")


def _bin_size(count: int) -> int:
    return 1 if count <= MAX_BARS else -(-count // MAX_BINS)


def bars_title(count: int) -> str:
    size = _bin_size(count)
    if size == 1:
        return "CO2e per window, by component"
    bins = -(-count // size)
    return (
        f"CO2e per bin of {size:,} consecutive records ({bins:,} bins for {count:,} records),"
        " by component"
    )


def _binned(values: Sequence[float], size: int) -> list[float]:
    return (
        [sum(values[i : i + size]) for i in range(0, len(values), size)]
        if size > 1
        else list(values)
    )


def bars_png(
    per_component: Mapping[str, Sequence[float]],
    ok: Sequence[int],
    *,
    width_in: float = 8.0,
    height_in: float = 3.2,
    scale: int = 1,
) -> bytes:
    """Stacked bars of CO2e by component, one per record or per bin; a bin with a failed record
    gets ``!``."""
    return _png(bars_figure(per_component, ok, width_in=width_in, height_in=height_in, scale=scale))


def bars_figure(
    per_component: Mapping[str, Sequence[float]],
    ok: Sequence[int],
    *,
    width_in: float = 8.0,
    height_in: float = 3.2,
    scale: int = 1,
) -> Figure:
    """The figure of :func:`bars_png`: its x axis spans the bars drawn (4 bars: ticks 1 to 4, each
    window or bin named by its position from 1), and a few bars keep the width of ten."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    count = len(ok)
    size = _bin_size(count)
    bars = {name: _binned(values, size) for name, values in per_component.items()}
    flagged = [not all(ok[i : i + size]) for i in range(0, count, size)]
    n = len(flagged)
    tops = [sum(v[i] for v in bars.values()) for i in range(n)]
    for values in bars.values():
        _check(values)
    _check(tops)
    factor, unit = _co2e_scale(max((abs(t) for t in tops), default=0.0))
    fig, ax = _new_figure(width_in, height_in, scale)
    xs = list(range(n))
    bottoms = [0.0] * n
    for name, values in bars.items():
        heights = [v / factor for v in values]
        ax.bar(
            xs,
            heights,
            bottom=bottoms,
            color=_COLORS.get(name, _TEXT),
            width=(0.75 if size == 1 else 1.0) * min(1.0, n / 10),  # a few bars stay slim
        )
        bottoms = [b + h for b, h in zip(bottoms, heights)]
    for x, bad, top in zip(xs, flagged, bottoms):
        if bad:
            ax.annotate(
                "!",
                (x, top),
                ha="center",
                va="bottom",
                color=_HIGHLIGHT,
                fontsize=_TICK_PT,
                fontweight="bold",
            )
    _check(bottoms)
    top = max(bottoms, default=0.0)
    ax.set_xlim(-0.6, max(n, 1) - 0.4)  # the axis spans the bars drawn, no empty slots
    if n <= 10:
        ax.set_xticks(range(n))  # one tick per bar
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{int(x) + 1:,}"))
    ax.set_ylim(min(0.0, min(bottoms, default=0.0) * 1.1), max(top * 1.3, 1e-12))
    ax.set_ylabel(f"{unit} CO2e", fontsize=_LABEL_PT)
    ax.set_xlabel(
        "windows, in order" if size == 1 else f"bins of {size:,} records, in order",
        fontsize=_LABEL_PT,
    )
    if bars:
        _legend(ax, list(bars))
    return fig


def cumulative_co2e_g(source: Digest | Iterable[WindowRecord]) -> list[float]:
    """The running CO2e after each record, overlapping windows counted once (a window nested in
    another adds nothing; see ``jupyter_carbon.totals``), so the curve ends at the total."""
    running, out = 0.0, []
    for value in as_digest(source).counted_record_co2e_g():
        running += value
        out.append(running)
    return out


def cumulative_png(
    source: Digest | Iterable[WindowRecord],
    *,
    width_in: float = 4.0,
    height_in: float = 2.2,
    scale: int = 1,
) -> bytes:
    """The cumulative counted CO2e over the records, one step per record (at most
    ``MAX_POINTS``)."""
    cumulative = cumulative_co2e_g(source)
    stride = max(1, -(-len(cumulative) // MAX_POINTS))
    xs, ys = [0], [0.0]
    for i, value in enumerate(cumulative, 1):
        if i % stride == 0 or i == len(cumulative):
            xs.append(i)
            ys.append(value)
    _check(ys)
    factor, unit = _co2e_scale(max((abs(y) for y in ys), default=0.0))
    ys = [y / factor for y in ys]
    from matplotlib.ticker import MaxNLocator

    fig, ax = _new_figure(width_in, height_in, scale)
    ax.plot(
        xs, ys, color=COMPONENT_COLORS["cpu"], linewidth=1.5, marker="." if len(xs) < 40 else None
    )
    ax.fill_between(xs, ys, color=COMPONENT_COLORS["cpu"], alpha=0.2)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, max(xs[-1], 1))
    ax.set_xlabel("records", fontsize=_LABEL_PT)
    ax.set_ylabel(f"cumulative {unit} CO2e", fontsize=_LABEL_PT)
    return _png(fig)


def timeline_png(
    record: WindowRecord, *, width_in: float = 6.0, height_in: float = 2.2, scale: int = 1
) -> bytes:
    """Power (W) per component over the record's window, from ``record.timeline``."""
    fig, ax = _new_figure(width_in, height_in, scale)
    timeline = record.timeline
    shown = []
    for comp, values in timeline.power_w.items():
        if values and len(values) == len(timeline.t_s):
            marker = "." if len(values) < 30 else None
            ax.plot(
                timeline.t_s, values, color=_COLORS.get(comp, _TEXT), linewidth=1.5, marker=marker
            )
            shown.append(comp)
    if shown:
        _legend(ax, shown)
        top = max(max(v) for c, v in timeline.power_w.items() if c in shown)
        ax.set_ylim(0, max(top * 1.3, 1e-9))
    else:
        ax.text(
            0.5, 0.5, "no power samples (cell shorter than the sampling interval)",
            transform=ax.transAxes, ha="center", va="center", color=_TEXT, fontsize=_LABEL_PT,
        )  # fmt: skip
    ax.set_xlabel("seconds since the cell started", fontsize=_LABEL_PT)
    ax.set_ylabel("W", fontsize=_LABEL_PT)
    return _png(fig)


def report_plots(digest: Digest) -> list[tuple[str, bytes]]:
    """(title, PNG) of the standalone report's plots: the bars and the cumulative curve; raises
    ImportError without matplotlib and :class:`NotFinite` when the figures cannot be drawn."""
    if not digest.count:
        return []
    per_component = digest.counted_co2e_g()
    return [
        (bars_title(digest.count), bars_png(per_component, digest.ok)),
        (
            f"Cumulative CO2e ({plural(digest.count, 'record')})",
            cumulative_png(digest, width_in=8.0, height_in=3.0),
        ),
    ]
