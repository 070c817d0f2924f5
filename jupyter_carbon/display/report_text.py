"""Plain-text report of records read back from logs or exports (``jupyter-carbon run|report``).

Drawn from a :class:`~jupyter_carbon.digest.Digest`, so its size does not grow with the number
of records: the totals line counts overlapping windows once (``jupyter_carbon.totals``), the
table lists the newest ``MAX_TEXT_ROWS`` records and says how many are left out. Every string
that came from a record passes through ``textsafe.visible`` (no raw control characters reach the
terminal), and a figure too large to be a number prints as ``overflow``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from ..digest import Digest
from ..textsafe import visible
from ..units import format_co2e, format_duration, format_energy
from .text import plural

__all__ = ["MAX_TEXT_ROWS", "as_digest", "figure", "plural", "totals_line", "assumptions_line", "summary_text"]

#: Rows of the text table (the newest records); exports have every record.
MAX_TEXT_ROWS = 200


def as_digest(source: Digest | Iterable[Any]) -> Digest:
    return source if isinstance(source, Digest) else Digest(source)


def figure(format_fn: Callable[[float], str], value: float) -> str:
    """``format_fn(value)``, or ``overflow`` for a value that is not a finite number."""
    if not math.isfinite(value):
        return "overflow" if value == value else "not a number"
    try:
        return format_fn(value)
    except (OverflowError, ValueError):
        return "overflow"


def totals_line(digest: Digest) -> str:
    """``3 cells · 12.3 s measured · 4.5 Wh · 1.2 g CO2e (range …)``, then the nesting note."""
    t = digest.totals
    band = f" (range {figure(format_co2e, t.co2e_low_g)} – {figure(format_co2e, t.co2e_high_g)})" if t.co2e_high_g > t.co2e_low_g else ""
    line = f"{plural(t.cells, 'cell')} · {figure(format_duration, t.duration_s)} measured · {figure(format_energy, t.energy_j)} · {figure(format_co2e, t.co2e_g)}{band}"
    if t.nested:
        line += f" · {plural(t.nested, 'window')} inside others, counted once"
    return line


def _distinct(values: Any, show: Callable[[Any], str] = str) -> str:
    text = ", ".join(visible(show(v), 80) for v in values.values)
    return text + (f" (+{values.extra:,} more)" if values.extra else "")


def _methods(digest: Digest) -> str:
    """``CPU measured (rapl); RAM estimated (ram-model)``: each component's methods, as in ``ComponentEnergy.how``."""
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
    return "; ".join(f"{visible(c.upper(), 20)} {visible(', '.join(hows), 200)}" for c, hows in per_component.items()) + more


def assumptions_line(digest: Digest) -> str:
    """The assumptions behind the records: intensities, PUE, scope, how each component was obtained."""
    if not digest.count:
        return "assumptions: none (no records)"
    intensities = _distinct(digest.intensities, lambda v: f"{v[0]:g} gCO2e/kWh ({v[1]})")
    how = _methods(digest)
    return f"assumptions: {intensities} · PUE {_distinct(digest.pues, lambda v: f'{v:g}')} · scope {_distinct(digest.scopes)}" + (f" · {how}" if how else "")


def _name(record: Any) -> str:
    from .text import record_name

    return visible(record_name(record.label, record.cell, record.id), 20)


def _how(record: Any) -> str:
    from .text import how_short

    return visible(how_short(record.measured_by_component).lower(), 60)


def summary_text(source: Digest | Iterable[Any], *, rows: int = MAX_TEXT_ROWS) -> str:
    """The report: totals, the newest ``rows`` records, the assumptions."""
    digest = as_digest(source)
    lines = [f"jupyter_carbon session: {totals_line(digest)}"]
    shown = list(digest.rows)[-rows:] if rows else []
    if shown:
        lines.append(f"{'#':>6}  {'label':<20} {'duration':>10} {'energy':>10} {'CO2e':>16}  {'how':<24} status")
        for r in shown:
            lines.append(
                f"{visible(r.id, 6):>6}  {_name(r):<20} {figure(format_duration, r.duration_s):>10} {figure(format_energy, r.energy_j):>10} "
                f"{figure(format_co2e, r.co2e_g):>16}  {_how(r):<24} {visible(r.status, 20)}"
            )
        if digest.count > len(shown):
            lines.append(f"… the newest {len(shown):,} of {digest.count:,} records are shown (exports with --csv or --json have them all)")
    lines.append(assumptions_line(digest))
    return "\n".join(lines)
