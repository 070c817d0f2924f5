"""A methods paragraph for a paper (Markdown or LaTeX), with its references.

Energy and CO2e with their uncertainty band, how each component's figure was obtained (a
counter or a model), the hardware, the region, the carbon intensity with its source and year,
the PUE and the scope; every energy in one unit and every CO2e in one unit. With items, a table
per 1,000 items beside Power Hungry Processing's Table 2 (whole node) and AI Energy Score
(GPU energy only: hence the GPU-only column).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._version import __version__
from ..intensity import UnknownRegionError, lookup_region
from ..reference import REFERENCE_KWH_PER_1000, REFERENCE_SOURCE, resolve_task
from ..units import (
    CO2E_UNITS,
    ENERGY_UNITS,
    J_PER_KWH,
    format_duration,
    significant,
    unit_for,
)
from .comparisons import AI_ENERGY_SCORE_SOURCE, ai_energy_score_range
from .options import PublishError

if TYPE_CHECKING:
    from .figures import Figures

__all__ = ["METHODS_STYLES", "methods_text", "latex_escape"]

METHODS_STYLES = ("markdown", "latex")

_HOW = {
    "rapl": "read from the CPU's RAPL energy counters",
    "nvml-energy": "read from the GPU's NVML energy counter",
    "nvml-power": "integrated from NVML power readings",
    "amdsmi-energy": "read from the GPU's amdsmi energy counter",
    "amdsmi-power": "integrated from amdsmi power readings",
    "intel-gpu": "read from the GPU's hwmon energy counter",
    "cpu-model": "estimated from CPU utilisation and the CPU's rated power (TDP)",
    "ram-model": "estimated from the memory in use",
    "constant": "a constant power set by the user",
}
#: A paper's units: mWh to kWh, mg to kg CO2e.
_ENERGY_UNITS = ENERGY_UNITS[1:4]
_MASS_UNITS = CO2E_UNITS[1:4]
_LATEX = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}", "×": r"$\times$", "–": "--",
    "“": "``", "”": "''",
}  # fmt: skip


def latex_escape(text: str) -> str:
    """``text`` for LaTeX: its special characters escaped, CO2e with a subscript."""
    text = "".join(_LATEX.get(ch, ch) for ch in text)
    return text.replace("CO2e", r"CO\textsubscript{2}e")


@dataclass
class _Writer:
    """Text in one style: Markdown or LaTeX (escaped), with numbered references."""

    style: str
    refs: list[str] = field(default_factory=list)

    def text(self, text: str) -> str:
        return latex_escape(text) if self.style == "latex" else text

    def cite(self, reference: str) -> str:
        if reference not in self.refs:
            self.refs.append(reference)
        return f"[{self.refs.index(reference) + 1}]"


def _intensity_phrase(figures: Figures, w: _Writer) -> str:
    parts = []
    for g_per_kwh, source in figures.intensities:
        if source == "world average":
            iea = w.cite(
                "IEA, Global Energy & CO2 Status Report 2019, "
                "https://www.iea.org/reports/global-energy-co2-status-report-2019/emissions "
                "(via CodeCarbon)"
            )
            parts.append(f"{g_per_kwh:g} gCO2e/kWh (world average, IEA 2019 {iea})")
        elif source.startswith("table:"):
            reference = w.cite(_table_reference(source))
            parts.append(f"{g_per_kwh:g} gCO2e/kWh ({source[len('table:') :]} {reference})")
        elif source == "user":
            parts.append(f"{g_per_kwh:g} gCO2e/kWh (set by the authors)")
        else:
            parts.append(f"{g_per_kwh:g} gCO2e/kWh (live: {source})")
    return "; ".join(parts)


def _table_reference(source: str) -> str:
    if "OWID" in source or "Ember" in source:
        return (
            "Our World in Data, Energy dataset (Ember; Energy Institute), CC BY 4.0, "
            "https://github.com/owid/energy-data"
        )
    if "eGRID" in source:
        return "US EPA eGRID, https://www.epa.gov/egrid"
    return f"{source} (jupyter_carbon's intensity table, data/NOTICE.md)"


def _regions(figures: Figures) -> str:
    names = []
    for key in figures.regions:
        try:
            names.append(lookup_region(key).name)
        except UnknownRegionError:
            names.append(key)
    return ", ".join(names) or "no region set"


def _how(figures: Figures, factor: float, unit: str) -> str:
    parts = []
    for c in figures.components:
        hows = "; ".join(_HOW.get(m, f"{c.how} ({m})") for m in c.methods)
        parts.append(f"{c.component.upper()} {significant(c.energy_j / factor)} {unit}, {hows}")
    return ", ".join(parts)


def _items_table(figures: Figures, items: int, task: str, w: _Writer) -> str:
    per = 1000.0 / items
    energy_j, gpu_j = figures.totals.energy_j * per, figures.gpu_energy_j * per
    reference_j = REFERENCE_KWH_PER_1000[task] * J_PER_KWH
    ai = ai_energy_score_range(task)
    largest = max(energy_j, reference_j, ai.high_kwh * J_PER_KWH if ai is not None else 0.0)
    factor, unit = unit_for(largest, _ENERGY_UNITS)
    rows = [
        (
            "This work: all components (" + figures.how + ")",
            significant(energy_j / factor),
            significant(gpu_j / factor) if gpu_j else "0 (no GPU measured)",
        ),
        (
            f"Power Hungry Processing, {task} mean, 8x A100, whole node {w.cite(REFERENCE_SOURCE)}",
            significant(reference_j / factor),
            "not available",
        ),
    ]
    if ai is not None:
        low, high = (kwh * J_PER_KWH / factor for kwh in (ai.low_kwh, ai.high_kwh))
        span = f"{significant(low)}–{significant(high)}"
        rows.append(
            (
                f"AI Energy Score, {task}, {ai.models} models, 1x H100, GPU only "
                f"{w.cite(AI_ENERGY_SCORE_SOURCE)}",
                "not available",
                span,
            )
        )
    else:
        rows.append((f"AI Energy Score, {task}", "not available", "not available"))
    head = ("Per 1,000 items", f"Energy ({unit})", f"GPU energy only ({unit})")
    if w.style == "latex":
        body = "\n".join(f"{w.text(a)} & {w.text(b)} & {w.text(c)} \\\\" for a, b, c in rows)
        return (
            "\\begin{tabular}{lrr}\n\\hline\n" + " & ".join(w.text(h) for h in head)
            + " \\\\\n\\hline\n" + body + "\n\\hline\n\\end{tabular}\n"
            + w.text(
                f"This work: {items:,} items. "
                "AI Energy Score counts GPU energy only; compare its column with ours."
            )
            + "\n"
        )  # fmt: skip
    lines = [
        f"| {' | '.join(head)} |",
        "| --- | ---: | ---: |",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
    ]
    return (
        "\n".join(lines) + f"\n\nThis work: {items:,} items. "
        "AI Energy Score counts GPU energy only; compare its column with ours.\n"
    )


def methods_text(
    figures: Figures,
    *,
    style: str = "markdown",
    items: int | None = None,
    task: str | None = None,
    embodied_note: str = "embodied emissions of the hardware are not included",
) -> str:
    """The paragraph (and with ``items`` the per-1,000-items table), then the references."""
    if style not in METHODS_STYLES:
        raise PublishError(
            f"unknown methods format {style!r}; choose one of: {', '.join(METHODS_STYLES)}"
        )
    w = _Writer(style)
    t = figures.totals
    factor, unit = unit_for(max(t.high_j, 1e-9), _ENERGY_UNITS)
    mass, munit = unit_for(max(t.co2e_high_g, 1e-12), _MASS_UNITS)
    windows = f"{len(figures.records)} measured window{'s' if len(figures.records) != 1 else ''}"
    if figures.labels:
        windows += " (" + ", ".join(f"“{label}”" for label in figures.labels) + ")"
    pue = ", ".join(f"{p:g}" for p in figures.pues)
    text = (
        f"We measured the energy of {windows}, {format_duration(t.duration_s)} in all, "
        f"with jupyter_carbon {__version__} "
        f"{w.cite(f'jupyter_carbon {__version__}, https://pypi.org/project/jupyter-carbon/')}. "
        f"They used {significant(t.energy_j / factor)} {unit} of electricity "
        f"(uncertainty band {significant(t.low_j / factor)}–"
        f"{significant(t.high_j / factor)} {unit}; {figures.how}): {_how(figures, factor, unit)}. "
        f"Hardware: {figures.hardware}. Region: {_regions(figures)}. At a carbon intensity of "
        f"{_intensity_phrase(figures, w)} and a PUE of {pue}, "
        f"this is {significant(t.co2e_g / mass)} {munit} CO2e "
        f"(band {significant(t.co2e_low_g / mass)}–"
        f"{significant(t.co2e_high_g / mass)} {munit} CO2e). "
        f"The figures cover the {' and '.join(figures.scopes)} scope; {embodied_note}."
    )
    out = [w.text(text), ""]
    units = items if items is not None else figures.items
    if units is not None:
        try:
            canonical = resolve_task(
                task or (figures.tasks[0] if figures.tasks else "text-classification")
            )
        except ValueError as exc:
            raise PublishError(str(exc)) from None
        out += [_items_table(figures, units, canonical, w), ""]
    heading = "\\paragraph{References}" if style == "latex" else "References:"
    out.append(heading)
    out += [
        w.text(f"[{i}] {ref}") + ("\\\\" if style == "latex" else "")
        for i, ref in enumerate(w.refs, 1)
    ]
    return "\n".join(out).rstrip("\\") + "\n"
