"""Storage: the crash-safe session log, history of earlier sessions and exports.

``attach_log(session)`` appends every closed record to a JSON-lines file (one per kernel
session); ``export_records`` writes CodeCarbon-compatible CSV or full-fidelity JSON;
``load_records`` reads JSON exports and logs back. Stdlib only (pandas is optional).
"""

from __future__ import annotations

from .log import SessionLog, attach_log, detach_log, get_log
from .reader import LogContents, read_log

_EXPORT = ("CODECARBON_COLUMNS", "OUR_COLUMNS", "export_records", "load_records", "to_dataframe")


def __getattr__(name: str):  # exports (csv, platform, uuid …) load on first use, not at %load_ext
    if name in _EXPORT:
        from . import export

        return getattr(export, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "SessionLog",
    "LogContents",
    "attach_log",
    "detach_log",
    "get_log",
    "read_log",
    "export_records",
    "load_records",
    "to_dataframe",
    "CODECARBON_COLUMNS",
    "OUR_COLUMNS",
]
