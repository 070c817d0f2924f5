"""Storage: the crash-safe session log, history of earlier sessions and exports.

``attach_log(session)`` appends every closed record to a JSON-lines file (one per kernel
session); ``export_records`` writes CodeCarbon-compatible CSV or full-fidelity JSON;
``load_records`` reads JSON exports and logs back (orjson for the log's lines; pandas optional).
"""

from __future__ import annotations

from .log import SessionLog, attach_log, detach_log, get_log

#: Loaded on first use, not at %load_ext (which only appends to the log): the readers and exports.
_LAZY = {
    **dict.fromkeys(("LogContents", "read_log"), "reader"),
    **dict.fromkeys(("CODECARBON_COLUMNS", "OUR_COLUMNS", "export_records", "load_records", "to_dataframe"), "export"),
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
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
