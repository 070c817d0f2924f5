"""The HTML report's plots, bounded in cost whatever the number of records.

Up to ``MAX_BARS`` records, one bar per record; beyond, records are grouped in order into at
most ``MAX_BINS`` bins of equal size and each bar is a bin's sum (the title says so). Bars and
the cumulative curve show the CO2e the totals count (a window nested in another adds nothing,
see ``jupyter_carbon.totals``), so the curve ends at the reported total. Off-screen figures
(Agg), as in ``display.plots``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ..digest import Digest
from .plots import _TEXT, COMPONENT_COLORS, _co2e_scale, _legend, _new_figure, _png

__all__ = ["MAX_BARS", "MAX_BINS", "MAX_POINTS", "bars_title", "bars_png", "cumulative_png", "report_plots"]

#: One bar per record up to this many records.
MAX_BARS = 300
#: Bars beyond ``MAX_BARS`` records: bins of consecutive records.
MAX_BINS = 200
#: Points of the cumulative curve.
MAX_POINTS = 2000
_COLORS = {**COMPONENT_COLORS, "other": _TEXT}


class NotFinite(ValueError):
    """A figure too large (or not a number) to plot."""


def _bin_size(count: int) -> int:
    return 1 if count <= MAX_BARS else -(-count // MAX_BINS)


def bars_title(count: int) -> str:
    size = _bin_size(count)
    if size == 1:
        return "CO2e per window, by component"
    bins = -(-count // size)
    return f"CO2e per bin of {size:,} consecutive records ({bins:,} bins for {count:,} records), by component"


def _binned(values: Sequence[float], size: int) -> list[float]:
    return [sum(values[i : i + size]) for i in range(0, len(values), size)] if size > 1 else list(values)


def _check(values: Sequence[float]) -> None:
    if not all(math.isfinite(v) for v in values):
        raise NotFinite("some figures are too large to plot")


def bars_png(per_component: Mapping[str, Sequence[float]], ok: Sequence[int], *, width_in: float = 8.0, height_in: float = 3.2) -> bytes:
    """Stacked bars of CO2e by component, one per record or per bin; a bin with a failed record gets ``!``."""
    count = len(ok)
    size = _bin_size(count)
    bars = {name: _binned(values, size) for name, values in per_component.items()}
    flagged = [not all(ok[i : i + size]) for i in range(0, count, size)]
    n = len(flagged)
    tops = [sum(v[i] for v in bars.values()) for i in range(n)]
    for values in bars.values():
        _check(values)
    _check(tops)
    scale, unit = _co2e_scale(max((abs(t) for t in tops), default=0.0))
    fig, ax = _new_figure(width_in, height_in)
    xs = list(range(n))
    bottoms = [0.0] * n
    for name, values in bars.items():
        heights = [v / scale for v in values]
        ax.bar(xs, heights, bottom=bottoms, color=_COLORS.get(name, _TEXT), width=0.75 if size == 1 else 1.0)
        bottoms = [b + h for b, h in zip(bottoms, heights)]
    for x, bad, top in zip(xs, flagged, bottoms):
        if bad:
            ax.annotate("!", (x, top), ha="center", va="bottom", color="#e0483e", fontsize=8, fontweight="bold")
    _check(bottoms)
    top = max(bottoms, default=0.0)
    ax.set_xlim(-0.6, max(n, 10) - 0.4)
    ax.set_ylim(min(0.0, min(bottoms, default=0.0) * 1.1), max(top * 1.3, 1e-12))
    ax.set_ylabel(f"{unit} CO2e", fontsize=8)
    ax.set_xlabel("windows, in order" if size == 1 else f"bins of {size:,} records, in order", fontsize=8)
    if bars:
        _legend(ax, list(bars))
    return _png(fig)


def cumulative_png(counted: Sequence[float], *, width_in: float = 8.0, height_in: float = 3.0) -> bytes:
    """Cumulative counted CO2e over the records, at most ``MAX_POINTS`` points."""
    running, xs, ys = 0.0, [0], [0.0]
    stride = max(1, -(-len(counted) // MAX_POINTS))
    for i, value in enumerate(counted, 1):
        running += value
        if i % stride == 0 or i == len(counted):
            xs.append(i)
            ys.append(running)
    _check(ys)
    scale, unit = _co2e_scale(max((abs(y) for y in ys), default=0.0))
    ys = [y / scale for y in ys]
    fig, ax = _new_figure(width_in, height_in)
    ax.plot(xs, ys, color=COMPONENT_COLORS["cpu"], linewidth=1.5, marker="." if len(xs) < 40 else None)
    ax.fill_between(xs, ys, color=COMPONENT_COLORS["cpu"], alpha=0.2)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, max(xs[-1], 1))
    ax.set_xlabel("records", fontsize=8)
    ax.set_ylabel(f"cumulative {unit} CO2e", fontsize=8)
    return _png(fig)


def report_plots(digest: Digest) -> list[tuple[str, bytes]]:
    """(title, PNG) of the report's plots; raises ImportError without matplotlib and
    :class:`NotFinite` when the figures cannot be drawn."""
    if not digest.count:
        return []
    per_component = digest.counted_co2e_g()
    counted = [sum(values) for values in zip(*per_component.values())] if per_component else [0.0] * digest.count
    return [
        (bars_title(digest.count), bars_png(per_component, digest.ok)),
        (f"Cumulative CO2e ({digest.count:,} records)", cumulative_png(counted)),
    ]
