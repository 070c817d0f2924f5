"""A session's own logged records, read back: where the records it no longer holds in memory are
(``CarbonSession.archive``; the session keeps only the newest ``memory_records``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .reader import stream_log

if TYPE_CHECKING:
    from ..record import WindowRecord
    from .log import SessionLog

__all__ = ["logged_records"]


def logged_records(log: SessionLog) -> Iterator[WindowRecord]:
    """The records in ``log``'s files, in the order written, one at a time; a file that cannot
    be read (deleted since) is passed over."""
    for path in list(log.paths):
        try:
            _, records = stream_log(path)
        except OSError:
            continue
        yield from records
