"""Totals over records read back from logs and exports: overlapping windows counted once.

The in-kernel totals (``ledger.py``) add the energy of the *union* of the open windows. A reader
only has the records, so it rebuilds that union from their wall-clock intervals
(``start_utc``–``end_utc``, comparable across a session, its forked workers and its subshells;
the monotonic ``start_s``/``end_s`` of two processes need not be), with one rule:

* windows are taken in order of start (on a tie, the longer first); each one counts the
  **fraction of its own interval not already covered** by the windows before it, and adds that
  fraction of its energy, band, CO2e and ``duration_s``;
* so a **nested** window (a ``track()`` block inside a measured cell, ``%carbon baseline`` in
  auto mode, a forked worker's window inside the cell that started it) adds nothing: its time and
  energy are already in the window that contains it (exact, as in the kernel);
* **disjoint** windows add in full (exact);
* a **partial overlap** (two concurrent subshell cells) adds the part after the covered end, pro
  rata: it assumes the later window's power was even over its length (an estimate; the kernel's
  own ``totals``, in each record, is exact for a whole session), and its time is measured on the
  wall clock, which the sampler reads just after the counters (a few ms off on a busy machine);
* ``outer_windows`` counts the windows that added time (those not inside another), ``windows``
  every record (shown as "cells" and "windows"); the kernel's own ``totals.windows`` (the log's
  ``totals.cells``) counts every window too, nested ones included.

The rule reads only each record's own interval and figures, never its ``totals`` (the kernel's
running union at that moment): those are exact for a whole session, but a reader may hold part of
one (lines skipped as unreadable, an export after ``%carbon reset``, several sessions at once).
Records of one machine are meant: windows of two machines that overlap in time would be counted
once (total them separately). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from .energy import Co2e, Energy, EnergyFields

if TYPE_CHECKING:
    from .record import WindowRecord

__all__ = ["Span", "RecordTotals", "span_of", "counted_fractions", "totals_of", "totals_of_spans"]


class Span(NamedTuple):
    """What the totals need of one record. ``start``/``end``: wall clock, POSIX seconds."""

    start: float
    end: float
    duration_s: float
    energy: Energy
    co2e: Co2e


@dataclass(frozen=True, slots=True)
class RecordTotals(EnergyFields):
    """Totals over records, overlapping windows counted once (see the module's rule)."""

    outer_windows: int  # windows not inside another one (shown as "cells")
    windows: int  # every record
    energy: Energy
    co2e: Co2e
    duration_s: float

    @property
    def nested(self) -> int:
        """Windows that added nothing (inside another window)."""
        return self.windows - self.outer_windows

    @property
    def co2e_g(self) -> float:
        return self.co2e.co2e_g

    @property
    def co2e_low_g(self) -> float:
        return self.co2e.low_g

    @property
    def co2e_high_g(self) -> float:
        return self.co2e.high_g


def span_of(record: WindowRecord) -> Span:
    energy = record.energy
    return Span(
        record.start_utc.timestamp(), record.end_utc.timestamp(), record.duration_s,
        energy, energy.co2e(record.intensity_g_per_kwh, record.pue),
    )  # fmt: skip


def counted_fractions(spans: Sequence[Span]) -> list[float]:
    """For each span (in the given order), the fraction of it that the totals count, in [0, 1]."""
    fractions = [0.0] * len(spans)
    covered = float("-inf")  # the end of the union so far
    for i in sorted(range(len(spans)), key=lambda i: (spans[i].start, -spans[i].end)):
        start, end = spans[i].start, spans[i].end
        if end > start:
            fractions[i] = min(1.0, max(0.0, (end - max(start, covered)) / (end - start)))
        else:  # an instant (or a wall clock stepped back): counted when outside every window so far
            fractions[i] = 1.0 if start >= covered else 0.0
            end = start
        covered = max(covered, end)
    return fractions


def totals_of_spans(
    spans: Sequence[Span], fractions: Sequence[float] | None = None
) -> RecordTotals:
    """The totals of ``spans``; ``fractions`` as returned by :func:`counted_fractions` (computed
    when not given)."""
    if fractions is None:
        fractions = counted_fractions(spans)
    outer = 0
    energy, co2e, duration = Energy.ZERO, Co2e.ZERO, 0.0
    for s, f in zip(spans, fractions):
        if f <= 0.0:
            continue
        outer += 1
        energy += s.energy * f
        co2e += s.co2e * f
        duration += s.duration_s * f
    return RecordTotals(outer, len(spans), energy, co2e, duration)


def totals_of(records: Iterable[WindowRecord]) -> RecordTotals:
    """Totals over ``records`` (CellRecords), overlapping windows counted once."""
    return totals_of_spans([span_of(r) for r in records])
