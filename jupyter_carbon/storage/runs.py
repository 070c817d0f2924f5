"""Earlier runs of the same cells: the session logs of a folder indexed by cell source hash.

A cell record carries ``source_sha1`` (a hash of the cell's text, never the text), so a cell run
again in a later session is matched to its earlier runs (``advice.RunIndex``: per hash, the
latest run's name and energy). At most ``MAX_RUN_LOGS`` logs are read, the newest, record by
record (none is held whole); unreadable lines and files are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..advice import RunIndex
from ..record import WindowRecord
from .reader import log_files, stream_log

__all__ = ["MAX_RUN_LOGS", "earlier_runs", "indexing"]

#: The newest logs of a folder read for the comparison with the last run.
MAX_RUN_LOGS = 20


def earlier_runs(folder: str | os.PathLike, exclude: Path | None = None) -> RunIndex:
    """The cells of the newest ``MAX_RUN_LOGS`` logs in ``folder`` other than ``exclude`` (this
    session's own), the latest run of each source hash winning."""
    index = RunIndex()
    skip = exclude.resolve() if exclude is not None else None
    paths = [p for p in log_files(folder) if skip is None or p.resolve() != skip]
    for path in paths[-MAX_RUN_LOGS:]:
        try:
            _, records = stream_log(path)
            for record in records:
                index.add(record)
        except OSError:
            continue
    return index


def indexing(records: Iterable[WindowRecord], index: RunIndex) -> Iterator[WindowRecord]:
    """``records`` again, each added to ``index`` as it goes by (one pass: a report of a folder
    indexes its earlier sessions while it reads them)."""
    for record in records:
        index.add(record)
        yield record
