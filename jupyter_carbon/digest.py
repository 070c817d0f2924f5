"""A bounded digest of many records: what reports and the history are drawn from.

Records are added one by one (``Digest.add``), so a report of 100,000 logged records never holds
them all: the digest keeps the newest ``max_rows`` records (for tables), the failed ones (newest
``max_rows``), each record's time span and CO2e by component as plain numbers (for totals and
plots), and at most ``MAX_DISTINCT`` distinct values of each assumption. Pure data: no I/O, no
formatting.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from .sources.base import COMPONENTS
from .totals import RecordTotals, Span, counted_fractions, span_of, totals_of_spans

__all__ = ["Digest", "MAX_ROWS", "MAX_DISTINCT", "PLOT_COMPONENTS"]

#: Records kept for tables (the newest); every record still counts in totals and plots.
MAX_ROWS = 500
#: Distinct intensities, PUEs, scopes and methods listed in the assumptions; more are counted.
MAX_DISTINCT = 8
#: CO2e is kept per record for these; "other" is a component a newer jupyter_carbon may add.
PLOT_COMPONENTS = (*COMPONENTS, "other")


class _Distinct:
    """At most ``limit`` distinct values, in first-seen order, and how many more there were."""

    __slots__ = ("values", "limit", "more")

    def __init__(self, limit: int = MAX_DISTINCT) -> None:
        self.values: dict[Any, None] = {}
        self.limit = limit
        self.more: set[Any] | int = set()

    def add(self, value: Any) -> None:
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


class Digest:
    """Records added one by one, kept within bounds (see the module's docstring)."""

    def __init__(self, records: Iterable[Any] = (), *, max_rows: int = MAX_ROWS) -> None:
        self.count = 0
        self.errors = 0  # records whose status is not "ok"
        self.rows: deque[Any] = deque(maxlen=max_rows)
        self.failed: deque[Any] = deque(maxlen=max_rows)
        self.spans: list[Span] = []
        self.co2e_g: dict[str, array] = {name: array("d") for name in PLOT_COMPONENTS}
        self.ok = bytearray()  # 1 per record whose status is "ok"
        self.intensities = _Distinct()
        self.pues = _Distinct()
        self.scopes = _Distinct()
        self.methods = _Distinct()  # each record's (component, method, measured) per device
        self._totals: RecordTotals | None = None
        self._fractions: list[float] | None = None
        for record in records:
            self.add(record)

    def add(self, record: Any) -> None:
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
        self.intensities.add((record.intensity_g_per_kwh, record.intensity_source))
        self.pues.add(record.pue)
        self.scopes.add(record.scope)
        self.methods.add(tuple((d.component, d.method, d.measured) for d in record.devices))

    def passing(self, records: Iterable[Any]) -> Iterator[Any]:
        """``records`` again, each added to the digest as it goes by (to write an export and
        digest the same stream in one pass)."""
        for record in records:
            self.add(record)
            yield record

    @property
    def fractions(self) -> list[float]:
        """The counted fraction of each record (see ``jupyter_carbon.totals``)."""
        if self._fractions is None:
            self._fractions = counted_fractions(self.spans)
        return self._fractions

    @property
    def totals(self) -> RecordTotals:
        if self._totals is None:
            self._totals = totals_of_spans(self.spans, self.fractions)
        return self._totals

    def counted_co2e_g(self) -> dict[str, list[float]]:
        """Per record, the CO2e by component that the totals count (nested windows: 0)."""
        fractions = self.fractions
        return {name: [v * f for v, f in zip(values, fractions)] for name, values in self.co2e_g.items() if any(values)}
