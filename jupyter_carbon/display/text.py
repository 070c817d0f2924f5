"""Plain-text rendering: the one-line and full reports, status and summary.

Every figure says how it was obtained: ``measured (rapl)`` or ``estimated (cpu-model)``, and an
estimate shows its uncertainty band.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Hashable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..cluster.text import record_lines, short_phrase
from ..config import SETTINGS, Config
from ..intensity.value import NO_REGION_NOTE, WORLD_AVERAGE_SOURCE
from ..record import ComponentEnergy, SessionTotals, WindowRecord, record_name
from ..sampler import Progress
from ..sources.base import COMPONENTS, EnergySource
from ..textsafe import visible
from ..units import (
    CO2E_UNITS,
    ENERGY_UNITS,
    format_co2e,
    format_co2e_range,
    format_duration,
    format_energy,
    format_energy_range,
    significant,
    unit_for,
)
from .equivalents import comparisons

if TYPE_CHECKING:
    from ..carbon_session import CarbonSession

__all__ = [
    "TextView",
    "format_record",
    "format_record_line",
    "format_component",
    "component_badge",
    "column",
    "plural",
    "format_config_changes",
    "budget_phrase",
    "budget_status",
]


def intensity_notes(source: str, note: str | None = None) -> tuple[str, ...]:
    """Notes about an intensity: its own (e.g. a live provider's fallback), and the no-region note
    when it is the world average (a session-level fact, so it is not stored in every record)."""
    return ((note,) if note else ()) + ((NO_REGION_NOTE,) if source == WORLD_AVERAGE_SOURCE else ())


def record_notes(record: WindowRecord) -> tuple[str, ...]:
    """The record's flags, plus the no-region note when it was computed at the world average."""
    return tuple(visible(flag) for flag in record.flags) + intensity_notes(record.intensity_source)


def component_badge(comp: ComponentEnergy) -> str:
    if comp.measured:
        return comp.how
    band = f" {format_energy_range(comp.low_j, comp.high_j)}" if comp.high_j > comp.low_j else ""
    return f"estimated ({'/'.join(comp.methods)}{band and ','}{band})"


def format_component(comp: ComponentEnergy, record: WindowRecord) -> str:
    return (
        f"{comp.component.upper():>4} {format_energy(comp.energy_j):>10}  "
        f"{format_co2e(record.co2e_g_of(comp.energy_j)):>16}  {component_badge(comp)}"
    )


def _status(record: WindowRecord) -> str:
    return "" if record.status == "ok" else f" [{record.status.upper()}]"


def plural(count: int, noun: str) -> str:
    """``1 cell``, ``2 cells``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def session_phrase(totals: SessionTotals) -> str:
    """``session 1.13 mg CO2e (7 cells)``: the same words and digits everywhere."""
    return f"session {format_co2e(totals.co2e_g)} ({plural(totals.windows, 'cell')})"


def format_record_line(record: WindowRecord, *, status: bool = True) -> str:
    """Compact, one line:
    ``carbon: 1.2 s · 0.31 Wh · 0.15 g CO2e (estimated) · session 1.13 g CO2e (7 cells)``;
    ``carbon [ERROR]: …`` for a cell that failed, unless ``status`` is False."""
    energy_j = record.energy_j
    return (
        f"carbon{_status(record) if status else ''}: {format_duration(record.duration_s)} · "
        f"{format_energy(energy_j)} · "
        f"{format_co2e(record.co2e_g_of(energy_j))} ({how_word(record.measured_by_component)})"
        f"{_cluster_phrase(record)} · {session_phrase(record.totals)}"
    )


#: What each scope charges for the time between cells (the idle line says it).
IDLE_SCOPE = {
    "machine": "machine's idle draw",
    "process": "this kernel's share",
    "container": "the container's share",
}
#: What frees a GPU an idle kernel holds.
GPU_FREE_HINT = "release cached memory: torch.cuda.empty_cache(); or restart the kernel"


def idle_line(duration_s: float, energy_j: float, co2e_g: float, scopes: Iterable[str]) -> str:
    """``idle between cells: 6.2 s · 0.41 Wh · 195 mg CO2e (machine's idle draw)``."""
    said = ", ".join(dict.fromkeys(IDLE_SCOPE.get(s, f"{s} scope") for s in scopes))
    return (
        f"idle between cells: {format_duration(duration_s)} · {format_energy(energy_j)} · "
        f"{format_co2e(co2e_g)}" + (f" ({said})" if said else "")
    )


def gpu_held_lines(record: WindowRecord) -> list[str]:
    """For an idle record whose GPUs the kernel held: one calm line per GPU, with the cost of the
    stretch, per hour, and what frees it; [] for none."""
    lines = []
    for held in record.extra.get("gpu_held") or ():
        energy_j, power_w = float(held["energy_j"]), float(held["power_w"])
        memory = held.get("memory_mib")
        holding = f"{memory:,.0f} MiB held" if isinstance(memory, (int, float)) else "held"
        lines.append(
            f"{visible(str(held['gpu']))} {holding} by this kernel, idle "
            f"{format_duration(float(held['duration_s']))}: {format_energy(energy_j)}, "
            f"{format_co2e(record.co2e_g_of(energy_j))}, ~{power_w:.0f} W "
            f"({format_energy(power_w * 3600)}, {format_co2e(record.co2e_g_of(power_w * 3600))} "
            f"per hour) — {GPU_FREE_HINT}"
        )
    return lines


def _cluster_phrase(record: WindowRecord) -> str:
    if record.cluster is None:
        return ""
    return short_phrase(record)


def cluster_lines(record: WindowRecord) -> list[str]:
    """The record's cluster part (Dask), one line per host; [] without one."""
    if record.cluster is None:
        return []
    return record_lines(record)


@lru_cache(maxsize=64)
def how_word(measured_by_component: tuple[tuple[str, bool], ...]) -> str:
    """``estimated`` or ``measured`` when all components agree, else
    ``CPU measured, RAM estimated``."""
    kinds = {measured for _, measured in measured_by_component}
    if len(kinds) == 1:
        return "measured" if kinds.pop() else "estimated"
    return ", ".join(
        f"{component.upper()} {'measured' if measured else 'estimated'}"
        for component, measured in measured_by_component
    )


@lru_cache(maxsize=64)
def how_short(measured_by_component: tuple[tuple[str, bool], ...]) -> str:
    """``CPU est., RAM est.``"""
    return ", ".join(
        f"{component.upper()} {'meas.' if measured else 'est.'}"
        for component, measured in measured_by_component
    )


def column(values: list[float], kind: str) -> tuple[str, list[str]]:
    """One unit for a whole column (``kind`` 'energy' or 'co2e'), chosen from its largest value:
    returns the unit and the numbers, each with 3 significant digits like every other figure
    (``units.significant``: 59 µWh in a mWh column is ``0.059``, not ``0.1``)."""
    top = max((abs(v) for v in values if math.isfinite(v)), default=0.0)
    factor, unit = unit_for(top, ENERGY_UNITS if kind == "energy" else CO2E_UNITS)
    cells = []
    for v in values:
        if math.isfinite(v) and abs(v / factor) >= 1e15:  # a number no column is wide enough for
            cells.append(f"{v / factor:.3g}")
        else:
            cells.append(significant(v / factor))  # inf and nan stay so: 'overflow', 'n/a'
    return unit, cells


def format_per_item(record: WindowRecord) -> list[str]:
    """``per item: 0.169 µWh, 0.08 µg CO2e · per 1,000 items: 169 µWh, 80.2 µg CO2e``, then how
    that compares with the task's published mean: each figure once, in its own unit by the one
    rule (``units.format_energy``), one wording (``per 1,000 items``)."""
    if not record.items:
        return []
    per_item_j, per_item_g = record.energy_j / record.items, record.co2e_g / record.items
    lines = [
        f"per item: {format_energy(per_item_j)}, {format_co2e(per_item_g)} · "
        f"per 1,000 items: {format_energy(per_item_j * 1000)}, {format_co2e(per_item_g * 1000)}"
    ]
    try:
        from ..reference import per_item, versus  # not loaded at %load_ext: only with items

        task = record.task or "text-classification"
        comparison = per_item(record.energy_j, record.co2e_g, record.items).compare(task)
        lines.append(versus(comparison.ratio, comparison.task))
    except (ImportError, ValueError, AttributeError):
        pass
    return lines


def format_equivalents(record: WindowRecord) -> list[str]:
    """``≈ a 10 W LED bulb lit for 7 s · a car driving 3 m``, or nothing when no comparison is
    picturable."""
    found = comparisons(record.energy_j, record.co2e_g)
    return ["≈ " + " · ".join(c.text for c in found)] if found else []


def format_record(record: WindowRecord) -> str:
    """The full report printed under a ``%%carbon`` cell in a terminal."""
    name = record_name(record.label, record.cell, record.id)
    title = f"carbon{_status(record)}: {name} — {format_duration(record.duration_s)}"
    lines = [title]
    lines += [format_component(c, record) for c in record.components.values()]
    low, high = record.co2e_band_g
    band = f" (range {format_co2e_range(low, high)})" if high > low else ""
    lines.append(
        f"TOTAL {format_energy(record.energy_j):>9}  {format_co2e(record.co2e_g):>16}{band}"
    )
    marginal = record.marginal_energy_j
    if marginal is not None:
        lines.append(
            f"above idle baseline (marginal): {format_energy(marginal)}, "
            f"{format_co2e(record.co2e_g_of(marginal))}"
        )
    lines += format_per_item(record)
    lines += cluster_lines(record)
    lines += format_equivalents(record)
    lines.append(
        f"intensity {record.intensity_g_per_kwh:g} gCO2e/kWh ({visible(record.intensity_source)}) "
        f"· PUE {record.pue:g} · scope {visible(record.scope)}"
    )
    lines.append(session_phrase(record.totals))
    lines += [f"note: {flag}" for flag in record_notes(record)]
    return "\n".join(lines)


class TextView:
    """Prints the report when the window closes (terminal IPython, scripts, text-only frontends)."""

    def __init__(self, *, compact: bool) -> None:
        self.compact = compact

    def on_progress(self, status: Progress) -> None:
        pass  # a terminal cannot redraw above the cell's own output

    def note(self, text: str, key: Hashable = None) -> None:
        print(text)

    def finish(self, record: WindowRecord) -> None:
        # one write: a line printed by another thread cannot fall between the text and its newline
        sys.stdout.write(
            (format_record_line(record) if self.compact else format_record(record)) + "\n"
        )


_METHOD_WORDS = {
    "rapl": "RAPL, measured",
    "nvml-energy": "NVML energy counter, measured",
    "nvml-power": "NVML power samples, measured",
    "amd-energy": "amdsmi energy counter, measured",
    "amd-power": "amdsmi power samples, measured",
    "intel-hwmon": "hwmon energy counter, measured",
    "apple-energy-model": "Apple SoC energy-model counter, measured",
    "cpu-model": "model, estimated",
    "ram-model": "model, estimated",
    "constant": "user-set power, estimated",
}


def _sources_phrase(sources: Iterable[EnergySource]) -> str:
    groups: dict[str, list[EnergySource]] = {}
    for source in sources:
        groups.setdefault(source.component, []).append(source)
    parts = []
    for component in COMPONENTS:
        members = groups.get(component)
        if not members:
            continue
        if component == "gpu":
            parts += _gpu_phrases(members)
            continue
        methods = ", ".join(dict.fromkeys(_METHOD_WORDS.get(s.method, s.method) for s in members))
        parts.append(f"{component.upper()} ({methods})")
    return ", ".join(parts)


def _gpu_phrases(members: list[Any]) -> list[str]:
    """``GPU 0-3 NVIDIA A100 (NVML energy counter, measured)``: one phrase per model and method."""
    groups: dict[tuple[str, str], list[int]] = {}
    for source in members:
        index = getattr(source, "index", None)
        if index is not None:
            groups.setdefault((source.model, source.method), []).append(index)
        else:  # a named part, e.g. "Apple SoC GPU"
            groups.setdefault((source.device, source.method), [])
    phrases = []
    for (model, method), ids in groups.items():
        span = (
            ""
            if not ids
            else str(ids[0])
            if len(ids) == 1
            else f"{ids[0]}-{ids[-1]}"
            if ids == list(range(ids[0], ids[0] + len(ids)))
            else ",".join(map(str, ids))
        )
        name = f"GPU {span} {model}" if ids else model
        phrases.append(f"{name} ({_METHOD_WORDS.get(method, method)})")
    return phrases


def _intensity_phrase(session: CarbonSession) -> str:
    intensity = session.intensity()
    where = intensity.source
    if session.config.region is None and session.config.intensity is None:
        where = "world average — set a region"
    return f"{intensity.g_per_kwh:g} gCO2e/kWh ({where})"


def _scope_phrase(session: CarbonSession) -> str:
    """``scope container (auto: the kernel runs in a limiting cgroup (…))``"""
    scope = getattr(session, "scope", session.config.scope)
    reason = getattr(session, "scope_reason", "")
    return f"scope {scope} ({reason})" if reason else f"scope {scope}"


def format_load_line(session: CarbonSession) -> str:
    """``jupyter_carbon: CPU (model, estimated), RAM (model, estimated) · 475 gCO2e/kWh
    (world average — set a region) · scope machine (auto: …)``"""
    return (
        f"jupyter_carbon: {_sources_phrase(session.detection.sources)} · "
        f"{_intensity_phrase(session)} · {_scope_phrase(session)}"
    )


def format_config(config: Config) -> str:
    return "\n".join(f"{name} = {getattr(config, name)!r}" for name in SETTINGS)


def _setting(value: object) -> str:
    return "unset" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def format_config_changes(before: Config, session: CarbonSession, names: Iterable[str]) -> str:
    """What ``%carbon config key=value`` changed, on one line: ``region FR → 56 gCO2e/kWh (…)``;
    the intensity in use is added when a setting it depends on changed."""
    names = list(names)
    parts = []
    for name in names:
        old, new = getattr(before, name), getattr(session.config, name)
        was = "" if old == new else f" (was {_setting(old)})" if old is not None else ""
        parts.append(f"{name} {_setting(new)}{was}" + (" (unchanged)" if old == new else ""))
    line = "jupyter_carbon: " + ", ".join(parts)
    if set(names) & {"region", "intensity", "live", "zone", "pue"}:
        line += f" → {_intensity_phrase(session)}" + (
            f" · PUE {session.config.pue:g}" if "pue" in names else ""
        )
    return line


def budget_phrase(used_g: float, budget_g: float) -> str:
    """``session budget 20 g CO2e: 16.2 g CO2e used (81 %)``, and from 80 % what that means."""
    from ..advice import budget_level  # the advice loads with a budget, not at %load_ext

    level = budget_level(used_g, budget_g)
    text = (
        f"session budget {format_co2e(budget_g)}: {format_co2e(used_g)} used "
        f"({used_g / budget_g * 100:.0f} %)"
    )
    if level >= 1.0:
        return text + " — the budget is spent; cells still run and are measured (%carbon budget)"
    if level > 0:
        return text + f" — past {level * 100:.0f} % of the budget"
    return text


def budget_status(session: CarbonSession) -> str:
    """The session budget and how much of it is used, or how to set one."""
    budget_g = session.config.budget_g
    if budget_g is None:
        return "no session budget (set one with %carbon budget 20g)"
    return budget_phrase(session.totals().co2e_g, budget_g)


def format_status(session: CarbonSession, auto: bool = False) -> str:
    cfg = session.config
    lines = ["jupyter_carbon status", "sources in use:"]
    for source in session.detection.sources:
        how = _METHOD_WORDS.get(source.method) or ("measured" if source.measured else "estimated")
        lines.append(
            f"  {source.component.upper():<4} {visible(source.device)} — {source.method} ({how})"
        )
    for source in getattr(session.detection, "scoped", ()):
        if source.scope == getattr(session, "scope", None):
            how = "measured" if source.measured else "estimated"
            lines.append(
                f"  {source.component.upper():<4} {source.device} — {source.method} "
                f"({how}, {source.scope} scope)"
            )
    for note in session.detection.notes:
        lines.append(f"  note: {note}")
    if session.detection.skipped:
        lines.append("not used:")
        for backend, reason in session.detection.skipped.items():
            lines.append(f"  {backend}: {visible(reason)}")
    intensity = session.intensity()
    notes = intensity_notes(intensity.source, intensity.note)
    lines.append(
        f"intensity: {intensity.g_per_kwh:g} gCO2e/kWh from {intensity.source}"
        + (f" ({'; '.join(notes)})" if notes else "")
    )
    lines.append(
        f"PUE {cfg.pue:g} · {_scope_phrase(session)} · interval {cfg.interval:g} s · "
        f"every cell: {'on' if auto else 'off'}"
    )
    if getattr(cfg, "budget_g", None) is not None:
        lines.append(budget_status(session))
    if session.baseline_w:
        lines.append(
            "idle baseline: " + ", ".join(f"{k} {v:.3g} W" for k, v in session.baseline_w.items())
        )
    for error in session.sampler.errors:
        lines.append(f"problem: {visible(error)}")
    for source in session.detection.sources:
        glitches = getattr(source, "glitches", 0)  # counter sources only
        if glitches:
            lines.append(
                f"problem: {visible(source.device)}: {glitches} implausible counter step(s) "
                "dropped, replaced by the last power × time"
            )
        resets = getattr(source, "resets", 0)  # counter sources only
        if resets:
            lines.append(
                f"problem: {visible(source.device)}: its counter restarted from zero {resets} "
                "time(s) (a reset); the energy since each restart is counted"
            )
    for observer in getattr(session, "observers", ()):
        lines += observer.status_lines() if hasattr(observer, "status_lines") else []
    return "\n".join(lines)
