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
* ``outer_windows`` counts the windows that added time (those not inside another) but not the
  follow-ups (a Dask share or work completed after its cell, ``WindowRecord.is_follow_up``:
  ``follow_ups``), ``windows`` every record (shown as "cells" and "windows"); the kernel's own
  ``totals.windows`` (the log's ``totals.cells``) counts every window but the follow-ups, nested
  ones included.

The rule reads only each record's own interval and figures, never its ``totals`` (the kernel's
running union at that moment): those are exact for a whole session, but a reader may hold part of
one (lines skipped as unreadable, an export after ``%carbon reset``, several sessions at once).

Which windows may overlap, and on which clock:

* only windows that **measure the same energy** overlap: each record's ``meter`` names what it
  measured (``sources.scope.meters``): a machine (its host name), a container or a process on
  it. Windows of one meter overlap; a machine's windows also cover those of its containers and
  processes; windows of two processes in process scope (two kernels in one folder), of two
  containers, or of two machines measure different energy and add. Records written before
  ``meter`` count as one meter, as before;
* **within one session** (the record's ``session``) windows are placed on its monotonic clock
  (``start_s``/``end_s``), shifted to the wall clock by the session's typical offset (the median
  of its records' start offsets): a wall-clock step during a session moves nothing, and a
  window's span is exactly its duration. Sessions are placed against each other on the wall
  clock. A record without a session keeps its wall-clock start, and its span is never longer
  than its duration.

Pure: no I/O.
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
    """What the totals need of one record. ``start``/``end``: wall clock, POSIX seconds;
    ``start_s``: the session's monotonic clock; ``session``/``meter``: the record's."""

    start: float
    end: float
    duration_s: float
    energy: Energy
    co2e: Co2e
    start_s: float = 0.0
    session: str | None = None
    meter: str | None = None
    follow_up: bool = False  # a follow-up record (``WindowRecord.is_follow_up``): no cell


@dataclass(frozen=True, slots=True)
class RecordTotals(EnergyFields):
    """Totals over records, overlapping windows counted once (see the module's rule)."""

    outer_windows: int  # windows not inside another one (shown as "cells")
    windows: int  # every record
    energy: Energy
    co2e: Co2e
    duration_s: float
    follow_ups: int = 0  # follow-up records that added energy (no cells)

    @property
    def nested(self) -> int:
        """Windows that added nothing (inside another window)."""
        return self.windows - self.outer_windows - self.follow_ups

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
        record.start_s, record.session, record.meter, record.is_follow_up,
    )  # fmt: skip


def _placed(spans: Sequence[Span]) -> list[tuple[float, float]]:
    """Each span's (start, end) on one timeline: a session's on its monotonic clock shifted by
    its median wall-clock offset; one without a session on the wall clock, at most its duration
    long."""
    offsets: dict[str, list[float]] = {}
    for s in spans:
        if s.session is not None:
            offsets.setdefault(s.session, []).append(s.start - s.start_s)
    median = {k: sorted(v)[len(v) // 2] for k, v in offsets.items()}
    out = []
    for s in spans:
        duration = max(0.0, s.duration_s)
        if s.session is not None:
            start = s.start_s + median[s.session]
            out.append((start, start + duration))
        else:
            out.append((s.start, max(s.start, min(s.end, s.start + duration))))
    return out


def _covers(outer: str | None, inner: str | None) -> bool:
    """Whether windows of meter ``outer`` measure the energy of meter ``inner`` (one above it)."""
    return outer is not None and inner is not None and inner.startswith(outer + "/")


def _measure(start: float, end: float, union: list[tuple[float, float]]) -> float:
    """The length of [start, end] inside ``union`` (disjoint intervals in order)."""
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in union if b > start and a < end)


def _union(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def counted_fractions(spans: Sequence[Span]) -> list[float]:
    """For each span (in the given order), the fraction of it that the totals count, in [0, 1]."""
    fractions = [0.0] * len(spans)
    placed = _placed(spans)
    by_meter: dict[str | None, list[int]] = {}
    for i, s in enumerate(spans):
        by_meter.setdefault(s.meter, []).append(i)
    unions = {m: _union(placed[i] for i in ids) for m, ids in by_meter.items()}
    for meter, ids in by_meter.items():
        above = _union(iv for m, u in unions.items() if _covers(m, meter) for iv in u)
        covered = float("-inf")  # the end of this meter's union so far
        for i in sorted(ids, key=lambda i: (placed[i][0], -placed[i][1])):
            start, end = placed[i]
            if end > start:
                begin = max(start, covered)
                free = max(0.0, end - begin) - (_measure(begin, end, above) if end > begin else 0.0)
                fractions[i] = min(1.0, max(0.0, free / (end - start)))
            else:  # an instant: counted when outside every window so far
                inside = start < covered or any(a <= start < b for a, b in above)
                fractions[i] = 0.0 if inside else 1.0
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
    outer = follow_ups = 0
    energy, co2e, duration = Energy.ZERO, Co2e.ZERO, 0.0
    for s, f in zip(spans, fractions):
        if f <= 0.0:
            continue
        if s.follow_up:
            follow_ups += 1
        else:
            outer += 1
        energy += s.energy * f
        co2e += s.co2e * f
        duration += s.duration_s * f
    return RecordTotals(outer, len(spans), energy, co2e, duration, follow_ups)


def totals_of(records: Iterable[WindowRecord]) -> RecordTotals:
    """Totals over ``records`` (WindowRecords), overlapping windows counted once."""
    return totals_of_spans([span_of(r) for r in records])
