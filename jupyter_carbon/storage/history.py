"""The sessions logged in a folder, each with its totals (data for ``%carbon history``).

Each log is read record by record into a :class:`~jupyter_carbon.digest.Digest`, so a long
session is never held whole; totals count overlapping windows once (``jupyter_carbon.totals``),
and :func:`overall_totals` does so across sessions too (a forked worker's own log overlaps the
cell of the session that forked it). Formatting is in ``display.history_text``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..digest import Digest
from ..totals import RecordTotals, Span, totals_of_spans
from .reader import LogContents, log_files, stream_log, unreadable_note

__all__ = ["SessionSummary", "summarize", "read_session", "list_sessions", "overall_totals"]


@dataclass(frozen=True)
class SessionSummary:
    path: Path
    start_utc: datetime | None
    totals: RecordTotals
    errors: int  # records whose status is not "ok"
    notes: tuple[str, ...]
    spans: tuple[Span, ...] = field(default=(), repr=False)  # for totals across sessions
    #: the idle time between its windows (records of kind "idle"), apart from ``totals``
    idle: RecordTotals | None = None
    idle_scopes: tuple[str, ...] = ()


def summarize(
    contents: LogContents, digest: Digest | None = None, first_start: datetime | None = None
) -> SessionSummary:
    """The summary of a log already read (``digest``: of its records, when already made;
    ``first_start``: its first record's start, when its header has none)."""
    digest = digest if digest is not None else Digest(contents.records, max_rows=1)
    start = contents.start_utc or first_start
    return SessionSummary(
        contents.path,
        start,
        digest.totals,
        digest.errors,
        tuple(contents.notes),
        tuple(digest.spans),
        digest.idle_totals,
        tuple(digest.idle_scopes.values),
    )


def read_session(path: str | os.PathLike) -> SessionSummary:
    """One log's summary, read record by record; an unreadable file gives an empty one with a
    note."""
    path = Path(path)
    try:
        contents, records = stream_log(path)
    except OSError as exc:
        return summarize(LogContents(path, notes=[unreadable_note(path, exc)]))
    digest = Digest(max_rows=1)
    first = None
    for record in records:
        if first is None:
            first = record.start_utc
        digest.add(record)
    return summarize(contents, digest, first)


def list_sessions(folder: str | os.PathLike) -> list[SessionSummary]:
    """Every session logged in ``folder``, oldest first."""
    return [read_session(p) for p in log_files(folder)]


def overall_totals(summaries: Iterable[SessionSummary]) -> RecordTotals:
    """Totals over every session, windows that overlap across sessions counted once."""
    return totals_of_spans([s for summary in summaries for s in summary.spans])
