"""The figures a publication needs, from the selected windows of a session.

Windows are selected by label (default: every window); overlapping windows are counted once,
as in every report (``jupyter_carbon.totals``). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..record import IDLE
from ..sources.base import COMPONENTS
from ..totals import RecordTotals, counted_fractions, span_of, totals_of_spans
from .options import PublishError

if TYPE_CHECKING:
    from ..record import WindowRecord

__all__ = ["PublishError", "ComponentFigures", "Figures", "figures_of", "hardware_used"]


@dataclass(frozen=True)
class ComponentFigures:
    """One component over the selection (counted once). Units: J."""

    component: str
    energy_j: float
    low_j: float
    high_j: float
    measured: bool
    methods: tuple[str, ...]

    @property
    def how(self) -> str:
        return "measured" if self.measured else "estimated"


@dataclass(frozen=True)
class Figures:
    """Totals of the selected windows and what they rest on."""

    records: tuple[WindowRecord, ...]
    labels: tuple[str, ...]  # the labels asked for; () = the whole session
    totals: RecordTotals
    components: tuple[ComponentFigures, ...]
    hardware: str
    intensities: tuple[tuple[float, str], ...]  # distinct (g_per_kwh, source)
    regions: tuple[str, ...]
    pues: tuple[float, ...]
    scopes: tuple[str, ...]
    items: int | None  # the work items of the windows, when every counted one declares them
    tasks: tuple[str, ...]

    @property
    def measured(self) -> bool:
        return all(c.measured for c in self.components)

    @property
    def how(self) -> str:
        """'measured', 'estimated' or 'measured (cpu, gpu) and estimated (ram)'."""
        if all(c.measured for c in self.components):
            return "measured"
        if not any(c.measured for c in self.components):
            return "estimated"
        measured = ", ".join(c.component for c in self.components if c.measured)
        estimated = ", ".join(c.component for c in self.components if not c.measured)
        return f"measured ({measured}) and estimated ({estimated})"

    def component(self, name: str) -> ComponentFigures | None:
        return next((c for c in self.components if c.component == name), None)

    @property
    def gpu_energy_j(self) -> float:
        gpu = self.component("gpu")
        return gpu.energy_j if gpu is not None else 0.0


def _select(records: Sequence[WindowRecord], labels: Sequence[str]) -> list[WindowRecord]:
    records = [r for r in records if r.kind != IDLE]  # the published figures are the windows'
    if not records:
        raise PublishError(
            "no records to publish: measure something first (%%carbon, %carbon on or track())"
        )
    if not labels:
        return list(records)
    known = list(dict.fromkeys(r.label for r in records if r.label))
    unknown = [label for label in labels if label not in known]
    if unknown:
        have = ", ".join(known[:10]) or "none (no window has a label)"
        raise PublishError(f"unknown label {unknown[0]!r}; labels in these records: {have}")
    wanted = set(labels)
    return [r for r in records if r.label in wanted]


_GPU_INDEX = re.compile(r"^gpu\d+\s+")


def hardware_used(records: Iterable[WindowRecord], cpu_model: str | None = None) -> str:
    """'1 x Intel Xeon …, 2 x NVIDIA A100 …' from the records' devices; RAPL packages are
    named by ``cpu_model`` when given (the live session knows it; a log does not)."""
    cpus: dict[str, set[str]] = {}
    gpus: dict[str, set[str]] = {}
    for record in records:
        for d in record.devices:
            if d.component == "gpu":
                gpus.setdefault(_GPU_INDEX.sub("", d.device) or d.device, set()).add(d.device)
            elif d.component == "cpu":
                if d.method == "rapl" or d.device.startswith("package-"):
                    cpus.setdefault(cpu_model or "CPU package", set()).add(d.device)
                elif d.method == "constant":
                    cpus.setdefault("CPU (user-set power)", set()).add(d.device)
                else:
                    cpus.setdefault(d.device, set()).add(d.device)
    parts = [f"{len(devices)} x {name}" for name, devices in (*cpus.items(), *gpus.items())]
    return ", ".join(parts) or "not recorded"


def figures_of(
    records: Sequence[WindowRecord], labels: Sequence[str] = (), *, cpu_model: str | None = None
) -> Figures:
    """The figures of ``records`` whose label is in ``labels`` (all without labels); raises
    :class:`PublishError` for an unknown label or no records."""
    chosen = _select(records, labels)
    spans = [span_of(r) for r in chosen]
    fractions = counted_fractions(spans)
    totals = totals_of_spans(spans, fractions)
    energy: dict[str, list[float]] = {}
    methods: dict[str, dict[str, None]] = {}
    measured: dict[str, bool] = {}
    for record, f in zip(chosen, fractions):
        for d in record.devices:
            sums = energy.setdefault(d.component, [0.0, 0.0, 0.0])
            sums[0] += d.energy_j * f
            sums[1] += d.low_j * f
            sums[2] += d.high_j * f
            methods.setdefault(d.component, {})[d.method] = None
            measured[d.component] = measured.get(d.component, True) and d.measured
    order = [c for c in COMPONENTS if c in energy] + [c for c in energy if c not in COMPONENTS]
    components = tuple(
        ComponentFigures(
            c, energy[c][0], energy[c][1], energy[c][2], measured[c], tuple(methods[c])
        )
        for c in order
    )
    counted = [r for r, f in zip(chosen, fractions) if f > 0]
    items = (
        sum(r.items or 0 for r in counted) if counted and all(r.items for r in counted) else None
    )
    return Figures(
        records=tuple(chosen),
        labels=tuple(labels),
        totals=totals,
        components=components,
        hardware=hardware_used(chosen, cpu_model),
        intensities=tuple(
            dict.fromkeys((r.intensity_g_per_kwh, r.intensity_source) for r in chosen)
        ),
        regions=tuple(dict.fromkeys(r.region for r in chosen if r.region)),
        pues=tuple(dict.fromkeys(r.pue for r in chosen)),
        scopes=tuple(dict.fromkeys(r.scope for r in chosen)),
        items=items,
        tasks=tuple(t for t, _ in Counter(r.task for r in chosen if r.task).most_common()),
    )
