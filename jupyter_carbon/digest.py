"""A bounded digest of many records: what every summary, report and the history are drawn from.

One digest, several renderers (as pyinstrument hands one session to a renderer per format): the
in-kernel summary digests the session's records (``display.summary.session_digest``), the CLI
report the records it reads from logs or exports; ``display.report_text``, ``display.report_html``
and ``display.plots`` render either.

Records are added one by one (``Digest.add``), so a report of 100,000 logged records never holds
them all: the digest keeps the newest ``MAX_ROWS`` records (for tables), the failed ones (newest
``MAX_ROWS``), the ``TIMELINES`` records that used the most energy among those with a power
timeline, each record's time span and CO2e by component as plain numbers (for totals and plots),
the Dask cluster parts, and at most ``MAX_DISTINCT`` distinct values of each assumption. Pure
data: no I/O, no formatting.

Idle records (kind "idle": the kernel between windows) are kept apart: they are in no cell total,
row, count or plot, but in ``idle_totals`` and ``idle_records`` (the newest ``MAX_ROWS``).
"""

from __future__ import annotations

import heapq
from array import array
from collections import deque
from collections.abc import Hashable, Iterable, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

from .energy import Co2e, Energy
from .record import IDLE, idle_seconds
from .sources.base import COMPONENTS
from .totals import RecordTotals, Span, counted_fractions, span_of, totals_of_spans

if TYPE_CHECKING:
    from .cluster_part import ClusterPart
    from .record import SessionTotals, WindowRecord

__all__ = [
    "Digest",
    "Distinct",
    "MAX_ROWS",
    "MAX_DISTINCT",
    "PLOT_COMPONENTS",
    "TIMELINES",
    "as_digest",
    "totals_of_session",
]

#: Records listed in tables (the newest), in every summary and report; exports have them all.
MAX_ROWS = 200
#: Distinct intensities, PUEs, scopes and methods listed in the assumptions; more are counted.
MAX_DISTINCT = 8
#: Power timelines kept: those of the records that used the most energy.
TIMELINES = 4
#: CO2e is kept per record for these; "other" is a component a newer jupyter_carbon may add.
PLOT_COMPONENTS = (*COMPONENTS, "other")


T = TypeVar("T", bound=Hashable)


class Distinct(Generic[T]):
    """At most ``limit`` distinct values, in first-seen order, and how many more there were."""

    __slots__ = ("values", "limit", "more")

    def __init__(self, limit: int = MAX_DISTINCT) -> None:
        self.values: dict[T, None] = {}
        self.limit = limit
        self.more: set[T] | int = set()

    def add(self, value: T) -> None:
        if value in self.values:
            return
        if len(self.values) < self.limit:
            self.values[value] = None
        elif isinstance(self.more, set):
            self.more.add(value)
            if len(self.more) > 10_000:  # stop remembering: count no further
                self.more = len(self.more)

    @property
    def extra(self) -> int:
        return self.more if isinstance(self.more, int) else len(self.more)


def totals_of_session(t: SessionTotals) -> RecordTotals:
    """A kernel's own totals (exact: the union of its windows) as report totals; the CO2e band
    scales with the energy band (one intensity and PUE per session total)."""
    scale = t.co2e_g / t.energy_j if t.energy_j else 0.0
    co2e = Co2e(t.co2e_g, t.low_j * scale, t.high_j * scale)
    return RecordTotals(t.windows, t.windows, t.energy, co2e, t.duration_s)


class Digest:
    """Records added one by one, kept within bounds (see the module's docstring).

    ``totals``: the exact totals when the caller has them (a kernel's own); else they are rebuilt
    from the records' spans (``jupyter_carbon.totals``). ``settings``: phrases for the settings the
    records were made under that records do not carry (``region FR``), when known.
    """

    def __init__(
        self,
        records: Iterable[WindowRecord] = (),
        *,
        max_rows: int = MAX_ROWS,
        totals: RecordTotals | None = None,
        idle_totals: RecordTotals | None = None,
        settings: Iterable[str] = (),
    ) -> None:
        self.count = 0
        self.errors = 0  # records whose status is not "ok"
        self.rows: deque[WindowRecord] = deque(maxlen=max_rows)
        self.failed: deque[WindowRecord] = deque(maxlen=max_rows)
        self.spans: list[Span] = []
        self.co2e_g: dict[str, array] = {name: array("d") for name in PLOT_COMPONENTS}
        self.ok = bytearray()  # 1 per record whose status is "ok"
        self.cluster_parts: list[ClusterPart] = []
        self.intensities: Distinct[tuple[float, str]] = Distinct()
        self.pues: Distinct[float] = Distinct()
        self.scopes: Distinct[str] = Distinct()
        self.methods: Distinct[tuple[tuple[str, str, bool], ...]] = Distinct()  # per device
        self.settings = tuple(settings)
        self._given_totals = totals
        self._timelines: list[tuple[float, int, WindowRecord]] = []  # a min-heap of the biggest
        self._totals: RecordTotals | None = None
        self._fractions: list[float] | None = None
        #: the idle stretches (newest ``max_rows``), their scopes, and their sums
        self.idle_records: deque[WindowRecord] = deque(maxlen=max_rows)
        self.idle_scopes: Distinct[str] = Distinct()
        self._given_idle = idle_totals
        self._idle_count = 0
        self._idle_energy = Energy.ZERO
        self._idle_co2e = Co2e.ZERO
        self._idle_s = 0.0
        # the advice's module loads with the first digest (a summary), not at %load_ext
        from .advice import Tally

        self.tally = Tally()  # what the actionable summary needs (``jupyter_carbon.advice``)
        #: records counted in the given totals that are in no row, count or plot here: dropped
        #: from a kernel's memory (``memory_records``) with no log to read them back from
        self.dropped = 0
        for record in records:
            self.add(record)

    def add(self, record: WindowRecord) -> None:
        if record.kind == IDLE:
            self._add_idle(record)
            return
        self.count += 1
        self._totals = self._fractions = None
        self.rows.append(record)
        ok = record.status == "ok"
        self.ok.append(ok)
        if not ok:
            self.errors += 1
            self.failed.append(record)
        span = span_of(record)
        self.spans.append(span)
        by_component = dict.fromkeys(PLOT_COMPONENTS, 0.0)
        for d in record.devices:
            by_component[d.component if d.component in by_component else "other"] += d.energy_j
        co2e_of = record.co2e_g_of
        for name, energy_j in by_component.items():
            self.co2e_g[name].append(co2e_of(energy_j) if energy_j else 0.0)
        if record.cluster is not None:
            self.cluster_parts.append(record.cluster)
        if (
            record.timeline is not None
            and len(record.timeline) >= 2
            and span.energy.energy_j == span.energy.energy_j
        ):
            # ties: the earlier record stays (it is the larger entry: -count)
            entry = (span.energy.energy_j, -self.count, record)
            if len(self._timelines) < TIMELINES:
                heapq.heappush(self._timelines, entry)
            elif entry[:2] > self._timelines[0][:2]:
                heapq.heapreplace(self._timelines, entry)
        self.intensities.add((record.intensity_g_per_kwh, record.intensity_source))
        self.pues.add(record.pue)
        self.scopes.add(record.scope)
        self.methods.add(tuple((d.component, d.method, d.measured) for d in record.devices))
        self.tally.add(record)

    def _add_idle(self, record: WindowRecord) -> None:
        self._idle_count += 1
        self.idle_records.append(record)
        self.idle_scopes.add(record.scope)
        energy = record.energy
        self._idle_energy += energy
        self._idle_co2e += energy.co2e(record.intensity_g_per_kwh, record.pue)
        self._idle_s += idle_seconds(record)
        self.tally.add(record)

    @property
    def idle_totals(self) -> RecordTotals:
        """The idle time between windows (``windows``: idle records): given by the kernel, else
        the sum of the idle records (stretches never overlap)."""
        if self._given_idle is not None:
            return self._given_idle
        n = self._idle_count
        return RecordTotals(n, n, self._idle_energy, self._idle_co2e, self._idle_s)

    def passing(self, records: Iterable[WindowRecord]) -> Iterator[WindowRecord]:
        """``records`` again, each added to the digest as it goes by (to write an export and
        digest the same stream in one pass)."""
        for record in records:
            self.add(record)
            yield record

    @property
    def timelines(self) -> list[WindowRecord]:
        """The records with a power timeline (≥ 2 samples) that used the most energy, most
        first."""
        return [
            record for _, _, record in sorted(self._timelines, key=lambda e: e[:2], reverse=True)
        ]

    @property
    def fractions(self) -> list[float]:
        """The counted fraction of each record (see ``jupyter_carbon.totals``)."""
        if self._fractions is None:
            self._fractions = counted_fractions(self.spans)
        return self._fractions

    @property
    def totals(self) -> RecordTotals:
        if self._given_totals is not None:
            return self._given_totals
        if self._totals is None:
            self._totals = totals_of_spans(self.spans, self.fractions)
        return self._totals

    def counted_co2e_g(self) -> dict[str, list[float]]:
        """Per record, the CO2e by component that the totals count (nested windows: 0)."""
        fractions = self.fractions
        return {
            name: [v * f for v, f in zip(values, fractions)]
            for name, values in self.co2e_g.items()
            if any(values)
        }

    def counted_record_co2e_g(self) -> list[float]:
        """Per record, the CO2e that the totals count (nested windows: 0)."""
        return [s.co2e.co2e_g * f for s, f in zip(self.spans, self.fractions)]


def as_digest(source: Digest | Iterable[WindowRecord]) -> Digest:
    """``source`` if it is a digest, else a digest of its records."""
    return source if isinstance(source, Digest) else Digest(source)
