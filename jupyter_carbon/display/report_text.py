"""The text renderer of a :class:`~jupyter_carbon.digest.Digest`: ``%carbon summary`` in a
terminal, the ``text/plain`` of the notebook summary, ``jupyter-carbon run|report``.

Its size does not grow with the number of records: the totals line (overlapping windows counted
once, ``jupyter_carbon.totals``, or the kernel's own totals), the estimates' range, the newest
``MAX_ROWS`` records in a table whose columns each use one unit (and how many are left out), the
Dask cluster's share, the assumptions. Every string that came from a record passes through
``textsafe.visible`` (no raw control characters reach the terminal), and a figure too large to be
a number prints as ``overflow``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import TYPE_CHECKING, TypeVar

from ..advice import Advice, advice_of
from ..cluster.text import session_line
from ..digest import MAX_ROWS, Digest, Distinct, as_digest
from ..record import record_name
from ..textsafe import visible
from ..units import (
    format_co2e,
    format_co2e_range,
    format_duration,
    format_energy,
    format_energy_range,
    format_power,
)
from .text import budget_phrase, column, how_short, how_word, idle_line, plural

if TYPE_CHECKING:
    from ..record import WindowRecord
    from ..totals import RecordTotals

__all__ = [
    "EXPORT_HINT",
    "figure",
    "totals_line",
    "idle_text",
    "dropped_text",
    "band_line",
    "cluster_line",
    "rows_note",
    "how_cell",
    "assumptions_line",
    "advice_sections",
    "summary_text",
]

#: Where the records a table leaves out are (the CLI's; the kernel's summary names %carbon export).
EXPORT_HINT = "exports with --csv or --json have them all"


def figure(format_fn: Callable[[float], str], value: float) -> str:
    """``format_fn(value)``, or ``overflow`` for a value that is not a finite number."""
    if not math.isfinite(value):
        return "overflow" if value == value else "not a number"
    try:
        return format_fn(value)
    except (OverflowError, ValueError):
        return "overflow"


def totals_figures(t: RecordTotals) -> tuple[str, str, str, str]:
    """``3 cells``, ``12.3 s``, ``4.5 Wh``, ``1.2 g CO2e``."""
    return (
        plural(t.outer_windows, "cell"),
        figure(format_duration, t.duration_s),
        figure(format_energy, t.energy_j),
        figure(format_co2e, t.co2e_g),
    )


def nested_note(t: RecordTotals) -> str:
    return f" · {plural(t.nested, 'window')} inside others, counted once" if t.nested else ""


def totals_line(digest: Digest) -> str:
    """``3 cells · 12.3 s measured · 4.5 Wh · 1.2 g CO2e``, then the nesting note."""
    cells, duration, energy, co2e = totals_figures(digest.totals)
    return f"{cells} · {duration} measured · {energy} · {co2e}{nested_note(digest.totals)}"


def band_line(digest: Digest) -> str | None:
    """``range of the estimates: 4–5 Wh, 1–1.3 g CO2e`` (each range in one unit), or None
    without a band."""
    t = digest.totals
    if not t.high_j > t.low_j:
        return None
    energy = format_energy_range(t.low_j, t.high_j)
    return f"range of the estimates: {energy}, {format_co2e_range(t.co2e_low_g, t.co2e_high_g)}"


def cluster_line(digest: Digest) -> str | None:
    """The Dask cluster energy charged over the records, or None when none has a cluster part."""
    if not digest.cluster_parts:
        return None
    return session_line(SimpleNamespace(cluster=part) for part in digest.cluster_parts)


def idle_text(digest: Digest) -> str | None:
    """``idle between cells: 6.2 s · 0.41 Wh · 195 mg CO2e (machine's idle draw)``; None when the
    records hold no idle time (logs written before idle stretches were recorded)."""
    t = digest.idle_totals
    if not t.duration_s and not t.windows:
        return None
    return idle_line(t.duration_s, t.energy_j, t.co2e_g, digest.idle_scopes.values)


def dropped_text(digest: Digest) -> str | None:
    """What the totals count that the table, plots and exports lack (records dropped from a
    kernel's memory and not in its log), or None."""
    n = digest.dropped
    if not n:
        return None
    return (
        f"{plural(n, 'older record')} dropped from memory (memory_records) and not in the log "
        "(log_dir=none, or it could not be written): the totals include them, "
        "the table, plots and exports do not"
    )


def rows_note(digest: Digest, shown: int) -> str:
    """``the newest 200 of 2,345 records`` when the table leaves some out, else ``12 records``."""
    if digest.count > shown:
        return f"the newest {shown:,} of {digest.count:,} records"
    return plural(digest.count, "record")


def how_cell(measured_by_component: tuple[tuple[str, bool], ...]) -> str:
    """``estimated``/``measured``, or ``CPU meas., RAM est.`` when they differ (a table cell)."""
    word = how_word(measured_by_component)
    return word if word in ("estimated", "measured") else how_short(measured_by_component)


_T = TypeVar("_T")


def _distinct(values: Distinct[_T], show: Callable[[_T], str] = str) -> str:
    text = ", ".join(visible(show(v), 80) for v in values.values)
    return text + (f" (+{values.extra:,} more)" if values.extra else "")


def _methods(digest: Digest) -> str:
    """``CPU measured (rapl); RAM estimated (ram-model)``: each component's methods, as in
    ``ComponentEnergy.how``."""
    per_component: dict[str, dict[str, None]] = {}
    for devices in digest.methods.values:
        grouped: dict[str, list[tuple[str, bool]]] = {}
        for component, method, measured in devices:
            grouped.setdefault(component, []).append((method, measured))
        for component, pairs in grouped.items():
            methods = "/".join(dict.fromkeys(m for m, _ in pairs))
            how = f"{'measured' if all(ok for _, ok in pairs) else 'estimated'} ({methods})"
            per_component.setdefault(component, {})[how] = None
    more = f" (+{digest.methods.extra:,} more combinations)" if digest.methods.extra else ""
    return (
        "; ".join(
            f"{visible(c.upper(), 20)} {visible(', '.join(hows), 200)}"
            for c, hows in per_component.items()
        )
        + more
    )


def assumptions_line(digest: Digest) -> str:
    """The assumptions behind the records: the session's settings when known, the intensities,
    PUE, scope, how each component was obtained."""
    parts = list(digest.settings)
    if not digest.count:
        return "assumptions: " + " · ".join([*parts, "none (no records)"])
    parts.append(_distinct(digest.intensities, lambda v: f"{v[0]:g} gCO2e/kWh ({v[1]})"))
    parts.append(f"PUE {_distinct(digest.pues, lambda v: f'{v:g}')}")
    parts.append(f"scope {_distinct(digest.scopes)}")
    how = _methods(digest)
    return "assumptions: " + " · ".join(parts + ([how] if how else []))


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.0f} %" if math.isfinite(fraction) else "overflow"


#: What frees a GPU that an idle kernel holds.
RELEASE_HINT = (
    "release cached memory (e.g. torch.cuda.empty_cache(), del the tensors) or restart the kernel"
)


def advice_sections(advice: Advice) -> list[tuple[str, list[str]]]:
    """The actionable summary as (heading with its source, lines), for text and HTML alike."""
    energy, co2e = (lambda j: figure(format_energy, j)), (lambda g: figure(format_co2e, g))
    sections: list[tuple[str, list[str]]] = []
    went: list[str] = []
    if advice.top:
        went.append(
            "top: "
            + " · ".join(
                f"{visible(c.name, 40)} {_percent(c.share)} ({co2e(c.co2e_g)}, "
                f"{'measured' if c.measured else 'estimated'})"
                for c in advice.top
            )
        )
    idle = advice.idle
    if idle is not None:
        parts = ", ".join(
            f"{visible(name.upper(), 20)} {energy(j)} {'measured' if ok else 'estimated'}"
            for name, j, _, ok in idle.components
        )
        went.append(
            f"idle between cells: {_percent(idle.share)} ({co2e(idle.co2e_g)}, "
            f"{energy(idle.energy_j)} over {figure(format_duration, idle.duration_s)}"
            f"{'; ' + parts if parts else ''})"
        )
    for gpu in advice.held:
        went.append(
            f"{visible(gpu.gpu, 80)} held by this kernel, idle "
            f"{figure(format_duration, gpu.duration_s)}: {energy(gpu.energy_j)}, "
            f"{co2e(gpu.co2e_g)}, ~{figure(format_power, gpu.power_w)}"
            f" — {RELEASE_HINT}"
        )
    if advice.components:
        went.append(
            "by component: "
            + ", ".join(f"{visible(n.upper(), 20)} {_percent(f)}" for n, f in advice.components)
        )
    if went:
        sections.append(
            ("where it went (this session's records; cells counted once, idle apart)", went)
        )
    if advice.elsewhere:
        sections.append(
            (
                f"the same work elsewhere ({energy(advice.energy_j)} at PUE {advice.pue:g}, at each"
                " region's intensity from the bundled table)",
                [
                    f"{visible(e.region.key, 40)} {e.region.g_per_kwh:g} gCO2e/kWh: "
                    f"{co2e(e.co2e_g)} ({e.why}; {visible(e.region.name, 80)}; "
                    f"{visible(e.region.source, 40)}"
                    f"{'' if e.region.year is None else ' ' + str(e.region.year)})"
                    for e in advice.elsewhere
                ],
            )
        )
    later = advice.later
    if later is not None:
        when = f"{later.start_utc:%Y-%m-%d %H:%M}–{later.end_utc:%H:%M} UTC"
        sections.append(
            (
                f"later (forecast: {visible(later.source, 80)})",
                [
                    f"re-run {visible(later.cell, 40)} ({energy(later.energy_j)}) {when} at"
                    f" {later.g_per_kwh:.0f} gCO2e/kWh instead of {later.now_g_per_kwh:.0f} now:"
                    f" saves {co2e(later.saving_g)} (estimated)"
                ],
            )
        )
    if advice.runs:
        where = (
            f"; earlier sessions in {visible(advice.runs_from, 120)}" if advice.runs_from else ""
        )
        lines = []
        for run in advice.runs:
            change = run.change
            delta = "" if change is None else f", {change * 100:+.0f} %"
            lines.append(
                f"{visible(run.name, 40)} {energy(run.energy_j)} "
                f"(last run {energy(run.last_energy_j)}{delta})"
            )
        sections.append(
            (f"against the last run (cells matched by a hash of their source{where})", lines)
        )
    if advice.budget is not None:
        sections.append(("budget", [budget_phrase(advice.budget.used_g, advice.budget.budget_g)]))
    return sections


def _row(r: WindowRecord, energy: str, co2e: str) -> str:
    name = visible(record_name(r.label, r.cell, r.id), 20)
    how = visible(how_cell(r.measured_by_component), 60)
    return (
        f"{visible(r.id, 6):>6}  {name:<20} {figure(format_duration, r.duration_s):>10}"
        f" {energy:>11} {co2e:>11}"
        f"  {how:<30} {visible(r.status, 20)}"
    )


def summary_text(
    source: Digest | Iterable[WindowRecord], *, rows: int = MAX_ROWS, export_hint: str = EXPORT_HINT
) -> str:
    """The summary: totals, the newest ``rows`` records, the cluster's share, the assumptions."""
    digest = as_digest(source)
    lines = [f"jupyter_carbon session: {totals_line(digest)}"]
    band = band_line(digest)
    if band:
        lines.append(band)
    idle = idle_text(digest)
    if idle:
        lines.append(idle)
    dropped = dropped_text(digest)
    if dropped:
        lines.append(dropped)
    shown = list(digest.rows)[-rows:] if rows else []
    if shown:
        energy_unit, energies = column([r.energy_j for r in shown], "energy")
        co2e_unit, co2es = column([r.co2e_g for r in shown], "co2e")
        heads = (f"energy {energy_unit}", f"CO2e {co2e_unit}")
        lines.append(
            f"{'#':>6}  {'label':<20} {'duration':>10} {heads[0]:>11} {heads[1]:>11}  "
            f"{'how':<30} status"
        )
        lines += [_row(r, energy, co2e) for r, energy, co2e in zip(shown, energies, co2es)]
        if digest.count > len(shown):
            lines.append(f"… {rows_note(digest, len(shown))} are shown ({export_hint})")
    cluster = cluster_line(digest)
    if cluster:
        lines.append(cluster)
    for heading, items in advice_sections(advice_of(digest)):
        lines.append(f"{heading}:")
        lines += [f"  {item}" for item in items]
    lines.append(assumptions_line(digest))
    return "\n".join(lines)
