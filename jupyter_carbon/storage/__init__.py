"""Storage: the crash-safe session log, history of earlier sessions and exports.

:mod:`.log`: ``attach_log(session)`` appends every closed record to a JSON-lines file (one per
kernel session). :mod:`.reader`: reads logs back (orjson for the lines), skipping what is damaged.
:mod:`.history`: earlier sessions' totals. :mod:`.export`: CodeCarbon-compatible CSV or
full-fidelity JSON, and ``load_records`` of either.
:mod:`.archive`: a session's own logged records read back (those memory no longer holds).
"""

__all__: list[str] = []
