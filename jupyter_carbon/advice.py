"""The actionable summary: where a session's energy went and what would change it.

Built from a :class:`~jupyter_carbon.digest.Digest` (whose :class:`Tally` follows its records as
they are added, within fixed bounds), and rendered by ``display.report_text`` and
``display.report_html`` like the rest of the summary. Each part says where its figures come from:

* where it went: the ``TOP_CELLS`` windows with the most CO2e and their share of the session (the
  counted CO2e of every window plus the idle stretches), the idle stretches between cells
  (records of kind ``"idle"``) apart from the cells, by component, and each GPU that a record's
  ``extra["gpu_held"]`` says this kernel held while idle;
* the same work elsewhere: the session's energy at the intensity of other regions of the bundled
  table (``intensity.table``): the regions the records were made in, then the references chosen
  by ``references``' rule (the cleanest and the dirtiest cloud region of the table, where the
  same notebook could run, and the world average);
* later: with a forecast from a live provider, the stretch of the next 24 h with the lowest mean
  intensity as long as the heaviest cell, and what re-running that cell then would save against
  the forecast for now (no forecast: nothing);
* against the last run: cells matched by ``source_sha1`` with the latest earlier session that
  ran the same source (``RunIndex``);
* the session budget (``budget_g``): how much of it is used, with a warning from 80 %.

Pure: no I/O, no formatting (``units`` formats the figures in the renderers).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .intensity.table import WORLD_AVERAGE, Region, all_regions, lookup_region
from .record import record_name
from .sources.base import COMPONENTS
from .units import co2e_g_from_j

if TYPE_CHECKING:
    from .digest import Digest
    from .intensity.providers import Forecast
    from .record import WindowRecord

__all__ = [
    "Advice",
    "BudgetUse",
    "Elsewhere",
    "HeldGpu",
    "IdleShare",
    "LaterWindow",
    "RunChange",
    "RunIndex",
    "TOP_CELLS",
    "Tally",
    "TopCell",
    "advice_of",
    "budget_level",
    "later_window",
    "references",
]

#: Windows listed under "where it went".
TOP_CELLS = 3
#: Cells remembered by source hash (per digest and per run index): bounded however long the log.
MAX_HASHES = 10_000
#: Budget levels warned about, as fractions of the budget.
BUDGET_LEVELS = (0.8, 1.0)
IDLE = "idle"


@dataclass(frozen=True, slots=True)
class TopCell:
    name: str
    energy_j: float
    co2e_g: float
    share: float  # of the session's CO2e (cells counted once, plus idle)
    measured: bool


@dataclass(frozen=True, slots=True)
class IdleShare:
    """The idle stretches between cells. ``components``: (component, J, g CO2e, measured)."""

    energy_j: float
    co2e_g: float
    duration_s: float
    share: float
    components: tuple[tuple[str, float, float, bool], ...]


@dataclass(frozen=True, slots=True)
class HeldGpu:
    """A GPU this kernel held memory on while idle: the idle records' ``extra["gpu_held"]``."""

    gpu: str
    energy_j: float
    co2e_g: float
    duration_s: float
    memory_mib: float

    @property
    def power_w(self) -> float:
        return self.energy_j / self.duration_s if self.duration_s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Elsewhere:
    """The session's energy at ``region``'s intensity; ``why`` it is listed."""

    region: Region
    co2e_g: float
    why: str


@dataclass(frozen=True, slots=True)
class LaterWindow:
    """When to re-run ``cell`` (``energy_j``, ``duration_s``) for the least CO2e, by ``source``."""

    cell: str
    energy_j: float
    start_utc: datetime
    end_utc: datetime
    g_per_kwh: float  # the mean forecast intensity then
    now_g_per_kwh: float  # the mean forecast intensity of the same stretch starting now
    saving_g: float  # at the same PUE, against running it now
    source: str


@dataclass(frozen=True, slots=True)
class RunChange:
    name: str
    energy_j: float
    last_energy_j: float

    @property
    def change(self) -> float | None:
        """(this run − last run) / last run; None when the last run used no energy."""
        return (
            (self.energy_j - self.last_energy_j) / self.last_energy_j
            if self.last_energy_j
            else None
        )


@dataclass(frozen=True, slots=True)
class BudgetUse:
    budget_g: float
    used_g: float

    @property
    def fraction(self) -> float:
        return self.used_g / self.budget_g if self.budget_g > 0 else math.inf

    @property
    def level(self) -> float:
        """The highest of ``BUDGET_LEVELS`` reached (0.0 for none)."""
        return budget_level(self.used_g, self.budget_g)


def budget_level(used_g: float, budget_g: float) -> float:
    """The highest of ``BUDGET_LEVELS`` that ``used_g`` reaches of ``budget_g`` (0.0: none)."""
    reached = 0.0
    for level in BUDGET_LEVELS:
        if used_g >= level * budget_g:
            reached = level
    return reached


@dataclass(frozen=True, slots=True)
class Advice:
    top: tuple[TopCell, ...] = ()
    idle: IdleShare | None = None
    held: tuple[HeldGpu, ...] = ()
    components: tuple[tuple[str, float], ...] = ()  # (component, share of the session's CO2e)
    energy_j: float = 0.0  # the session's energy (cells counted once, plus idle)
    pue: float = 1.0
    elsewhere: tuple[Elsewhere, ...] = ()
    later: LaterWindow | None = None
    runs: tuple[RunChange, ...] = ()
    runs_from: str | None = None  # where the earlier runs were read
    budget: BudgetUse | None = None

    def __bool__(self) -> bool:
        return bool(self.top or self.idle or self.held or self.elsewhere or self.runs) or (
            self.later is not None or self.budget is not None
        )


class RunIndex:
    """Per cell source hash, the name and energy of its latest run among the records added
    (at most ``MAX_HASHES`` hashes; records of another kind than a cell are ignored)."""

    __slots__ = ("runs",)

    def __init__(self, records: Iterable[WindowRecord] = ()) -> None:
        self.runs: dict[str, tuple[str, float]] = {}
        for record in records:
            self.add(record)

    def add(self, record: WindowRecord) -> None:
        sha = record.source_sha1
        if sha is None or record.kind == IDLE or record.status != "ok":
            return
        if sha in self.runs or len(self.runs) < MAX_HASHES:
            self.runs.pop(sha, None)  # newest last
            self.runs[sha] = (record_name(record.label, record.cell, record.id), record.energy_j)

    def __len__(self) -> int:
        return len(self.runs)


class Tally:
    """What the advice needs of every record, kept within bounds as a digest adds them, and
    what its maker knows besides (``forecast``, ``last_runs`` read from ``runs_from``,
    ``budget_g``), for every renderer of the digest."""

    __slots__ = (
        "_top", "_seq", "heaviest", "idle_energy", "idle_co2e",
        "idle_measured", "idle_s", "held", "regions", "run", "forecast", "last_runs",
        "runs_from", "budget_g", "this_run",
    )  # fmt: skip

    def __init__(self) -> None:
        self._top: list[tuple[float, int, WindowRecord]] = []  # min-heap of the largest CO2e
        self._seq = 0
        self.heaviest: WindowRecord | None = None  # the cell that used the most energy
        self.idle_energy: dict[str, float] = {}
        self.idle_co2e: dict[str, float] = {}
        self.idle_measured: dict[str, bool] = {}
        self.idle_s = 0.0
        self.held: dict[str, list[float]] = {}  # gpu → [J, g CO2e, s, MiB (max)]
        self.regions: dict[str, None] = {}
        self.run = RunIndex()
        self.forecast: Forecast | None = None
        self.last_runs: RunIndex | None = None
        self.runs_from: str | None = None
        self.budget_g: float | None = None
        #: the cells of this run when the digest holds earlier runs too (a folder's report)
        self.this_run: RunIndex | None = None

    def add(self, record: WindowRecord) -> None:
        self._seq += 1
        if record.region and len(self.regions) < 8:
            self.regions[record.region] = None
        if record.kind == IDLE:
            self._add_idle(record)
            return
        self.run.add(record)
        co2e_g = record.co2e_g
        if not co2e_g == co2e_g:
            return
        entry = (co2e_g, -self._seq, record)
        if len(self._top) < TOP_CELLS:
            heapq.heappush(self._top, entry)
        elif entry[:2] > self._top[0][:2]:
            heapq.heapreplace(self._top, entry)
        if self.heaviest is None or record.energy_j > self.heaviest.energy_j:
            self.heaviest = record

    def _add_idle(self, record: WindowRecord) -> None:
        self.idle_s += record.duration_s
        for d in record.devices:
            name = d.component
            self.idle_energy[name] = self.idle_energy.get(name, 0.0) + d.energy.energy_j
            self.idle_co2e[name] = self.idle_co2e.get(name, 0.0) + record.co2e_g_of(
                d.energy.energy_j
            )
            self.idle_measured[name] = self.idle_measured.get(name, True) and d.measured
        held = record.extra.get("gpu_held") if record.extra else None
        if not isinstance(held, (list, tuple)):
            return
        for entry in held[:16]:
            if not isinstance(entry, Mapping):
                continue
            gpu = str(entry.get("gpu", "GPU"))[:80]
            energy_j = _number(entry.get("energy_j"))
            duration_s = _number(entry.get("duration_s"))
            if gpu not in self.held and len(self.held) >= 16:
                continue
            totals = self.held.setdefault(gpu, [0.0, 0.0, 0.0, 0.0])
            totals[0] += energy_j
            totals[1] += record.co2e_g_of(energy_j)
            totals[2] += duration_s
            totals[3] = max(totals[3], _number(entry.get("memory_mib")))

    @property
    def top(self) -> list[WindowRecord]:
        return [r for _, _, r in sorted(self._top, key=lambda e: e[:2], reverse=True)]


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value) if math.isfinite(value) and value > 0 else 0.0


def references() -> list[tuple[Region, str]]:
    """The reference regions, by rule: the cleanest and the dirtiest cloud region of the bundled
    table (a notebook can be run there), and the world average."""
    clouds = [r for r in all_regions() if r.kind == "cloud"]
    out: list[tuple[Region, str]] = []
    if clouds:
        out.append((min(clouds, key=lambda r: (r.g_per_kwh, r.key)), "cleanest cloud region"))
    out.append((WORLD_AVERAGE, "world average"))
    if clouds:
        out.append((max(clouds, key=lambda r: (r.g_per_kwh, r.key)), "dirtiest cloud region"))
    return out


def later_window(
    forecast: Forecast, cell: str, energy_j: float, duration_s: float, pue: float
) -> LaterWindow | None:
    """The stretch of consecutive forecast slots long enough for ``duration_s`` (at least one
    slot) with the lowest mean intensity, and the saving against the stretch starting now (the
    first slot); None when none is cleaner than now. Equal means: the earliest."""
    slots = forecast.slots
    means: list[tuple[float, int, int]] = []  # (mean, first slot, slot after the last)
    for i in range(len(slots)):
        j, total = i, 0.0
        while j < len(slots):
            total += slots[j].g_per_kwh
            j += 1
            if (slots[j - 1].end_utc - slots[i].start_utc).total_seconds() >= duration_s:
                break
        if (slots[j - 1].end_utc - slots[i].start_utc).total_seconds() < duration_s and i:
            break  # the forecast ends before the cell would: later starts cannot fit either
        means.append((total / (j - i), i, j))
    if len(means) < 2:
        return None
    now = means[0][0]
    mean, i, j = min(means)
    if not mean < now:
        return None
    saving = co2e_g_from_j(energy_j, now, pue) - co2e_g_from_j(energy_j, mean, pue)
    return LaterWindow(
        cell, energy_j, slots[i].start_utc, slots[j - 1].end_utc, mean, now, saving, forecast.source
    )


def advice_of(digest: Digest) -> Advice:
    """The advice for ``digest``'s records; its tally's ``forecast`` (a live provider's),
    ``last_runs`` (the earlier sessions' cells) and ``budget_g`` add their parts when set."""
    tally = digest.tally
    forecast, last_runs, budget_g = tally.forecast, tally.last_runs, tally.budget_g
    # cells counted once (the digest's fractions), idle stretches apart (they never overlap)
    cells_g = sum(digest.counted_record_co2e_g())
    cells_j = sum(span.energy.energy_j * f for span, f in zip(digest.spans, digest.fractions))
    idle_totals = digest.idle_totals
    idle_g, idle_j = idle_totals.co2e_g, idle_totals.energy_j
    whole_g, energy_j = cells_g + idle_g, cells_j + idle_j
    share = (lambda g: g / whole_g) if whole_g > 0 else (lambda g: 0.0)
    top = tuple(
        TopCell(
            record_name(r.label, r.cell, r.id), r.energy_j, r.co2e_g, share(r.co2e_g), r.measured
        )
        for r in tally.top
    )
    idle = None
    if tally.idle_s > 0 or tally.idle_energy:
        idle = IdleShare(
            idle_j,
            idle_g,
            idle_totals.duration_s,  # the kernel's own, with the stretch running now
            share(idle_g),
            tuple(
                (c, tally.idle_energy[c], tally.idle_co2e.get(c, 0.0), tally.idle_measured[c])
                for c in (*COMPONENTS, *sorted(set(tally.idle_energy) - set(COMPONENTS)))
                if c in tally.idle_energy
            ),
        )
    held = tuple(HeldGpu(gpu, *values) for gpu, values in tally.held.items() if values[0] > 0)
    by_component = {name: sum(values) for name, values in digest.counted_co2e_g().items()}
    for name, g in tally.idle_co2e.items():  # the idle stretches' components (not in the cells')
        key = name if name in by_component else "other"
        by_component[key] = by_component.get(key, 0.0) + g
    total_g = sum(by_component.values())
    components = tuple(
        (name, g / total_g) for name, g in by_component.items() if total_g > 0 and g > 0
    )
    pues = list(digest.pues.values)
    pue = pues[0] if len(pues) == 1 and not digest.pues.extra else 1.0
    elsewhere: list[Elsewhere] = []
    if energy_j > 0:
        seen: set[str] = set()
        regions: list[tuple[Region, str]] = []
        for key in tally.regions:
            try:
                regions.append((lookup_region(key), "this session's region"))
            except ValueError:
                continue  # a live zone or a cloud region the table does not hold
        for region, why in [*regions, *references()]:
            if region.key not in seen:
                seen.add(region.key)
                elsewhere.append(
                    Elsewhere(region, co2e_g_from_j(energy_j, region.g_per_kwh, pue), why)
                )
    later = None
    heaviest = tally.heaviest
    if forecast is not None and heaviest is not None and heaviest.energy_j > 0:
        name = record_name(heaviest.label, heaviest.cell, heaviest.id)
        later = later_window(forecast, name, heaviest.energy_j, heaviest.duration_s, heaviest.pue)
    runs: list[RunChange] = []
    if last_runs is not None:
        this_run = tally.this_run if tally.this_run is not None else tally.run
        for sha, (name, energy) in this_run.runs.items():
            last = last_runs.runs.get(sha)
            if last is not None:
                runs.append(RunChange(name, energy, last[1]))
        runs.sort(key=lambda r: -abs(r.energy_j - r.last_energy_j))
    budget = None
    if budget_g is not None:
        budget = BudgetUse(budget_g, digest.totals.co2e_g)
    return Advice(
        top, idle, held, components, energy_j, pue, tuple(elsewhere), later,
        tuple(runs[:TOP_CELLS * 2]), tally.runs_from if runs else None, budget,
    )  # fmt: skip
