"""The session log's record lines: a record's numbers packed, what records share said once per file.

In auto mode a session writes one record per cell, and records differ almost only in their
numbers. Writing each as a whole JSON object meant formatting ~18 shortest-repr floats per cell
(21–34 µs of the 41 µs a record's append took in a shell); with the numbers packed the whole
append takes ~5 µs, and every bit of every number is kept (NaN, infinities, -0.0). Two line
types, written as JSON:

* ``{"type": "shape", "shape": K, "kind", "status", "flags", "devices": [{"component", "device",
  "method", "measured"}, ...], "intensity_g_per_kwh", "intensity_source", "intensity_utc", "pue",
  "scope"}`` — written once per file before the first record with these values;
* ``{"type": "cell", "id": N, "shape": K, "numbers": BASE64}`` plus, only when set, ``label``,
  ``items``, ``task``, ``timeline`` ({"t_s": [...], "power_w": {...}}), ``baseline_w``, ``extra``.

``numbers`` is the base64 of the record's packed numbers, little-endian, no padding: int64 id,
int64 cell (-2**63 for none), float64 start_s and end_s (monotonic clock), int64 start and end
(µs since the Unix epoch, UTC), int64 totals.cells, float64 totals.energy_j, low_j, high_j,
co2e_g, duration_s, then float64 energy_j, low_j, high_j for each device of the shape, in order.
``id`` repeats the first number for people reading the file. Readable exports:
``jupyter-carbon report LOG --json OUT.json`` or ``--csv``.
"""

from __future__ import annotations

import json
from binascii import a2b_base64, b2a_base64
from datetime import datetime
from typing import Any

from ..record import ID_FIELD, CellRecord, packed_size
from ..serialize import timeline_from_dict, timeline_to_dict

__all__ = ["Shapes", "read_shape", "read_cell"]

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class Shapes:
    """The writer's side, one per log file: which shapes the file already holds."""

    limit = 1024  # shapes remembered (past it they are written again: correct, a little longer)

    def __init__(self) -> None:
        self._known: dict[int, tuple[tuple, bytes]] = {}  # id(shared tuple) -> (the tuple, b"K")
        self._next = 1

    def lines(self, record: CellRecord) -> bytes:
        """The bytes to append for ``record``: its cell line, after its shape's line when new.

        Raises TypeError or ValueError (before remembering anything) for a value JSON cannot hold.
        """
        common = record._common  # one tuple shared by every record with the same strings (see record.py)
        known = self._known.get(id(common))
        head = b""
        if known is None:
            head = _shape_line(self._next, record)
            known = (common, b"%d" % self._next)  # holding the tuple keeps its id from being reused
        numbers = record._numbers
        line = b'{"type":"cell","id":%d,"shape":%s,"numbers":"%s"' % (ID_FIELD.unpack_from(numbers)[0], known[1], b2a_base64(numbers, newline=False))
        own = _own_fields(record)
        line = head + line + (b"}\n" if own is None else b"," + own + b"}\n")
        if head:
            if len(self._known) >= self.limit:
                self._known.clear()
            self._known[id(common)] = known
            self._next += 1
        return line


def _shape_line(number: int, record: CellRecord) -> bytes:
    utc = record.intensity_utc
    shape = {
        "type": "shape",
        "shape": number,
        "kind": record.kind,
        "status": record.status,
        "flags": list(record.flags),
        "devices": [{"component": c, "device": d, "method": m, "measured": measured} for c, d, m, measured in record._info],
        "intensity_g_per_kwh": record.intensity_g_per_kwh,
        "intensity_source": record.intensity_source,
        "intensity_utc": None if utc is None else utc.isoformat(),
        "pue": record.pue,
        "scope": record.scope,
    }
    return _encode(shape).encode("utf-8") + b"\n"


def _own_fields(record: CellRecord) -> bytes | None:
    """A record's own fields other than numbers (``"label":…,"items":…``), or None when all unset."""
    if record.label is None and record._rest is None:
        return None  # most records (auto mode): nothing of their own
    timeline, baseline_w = record.timeline, record.baseline_w
    own = {
        "label": record.label,
        "items": record.items,
        "task": record.task,
        "timeline": timeline_to_dict(timeline) if timeline.t_s or timeline.power_w else None,
        "baseline_w": None if baseline_w is None else dict(baseline_w),
        "extra": dict(record.extra) or None,
    }
    own = {k: v for k, v in own.items() if v is not None}
    return _encode(own).encode("utf-8")[1:-1] if own else None


# --- reading ----------------------------------------------------------------------------------------


def read_shape(obj: dict[str, Any], shapes: dict[int, dict[str, Any]]) -> None:
    """Remember a shape line's values (``shapes`` is the reader's table for one file)."""
    utc = obj["intensity_utc"]
    shapes[obj["shape"]] = {
        "info": tuple((d["component"], d["device"], d["method"], d["measured"]) for d in obj["devices"]),
        "kind": obj["kind"],
        "status": obj["status"],
        "flags": tuple(obj["flags"]),
        "intensity_g_per_kwh": obj["intensity_g_per_kwh"],
        "intensity_source": obj["intensity_source"],
        "intensity_utc": None if utc is None else datetime.fromisoformat(utc),
        "pue": obj["pue"],
        "scope": obj["scope"],
    }


def read_cell(obj: dict[str, Any], shapes: dict[int, dict[str, Any]]) -> CellRecord:
    """The record of a cell line; KeyError for a shape not seen before it, ValueError for numbers
    of the wrong size."""
    shape = shapes[obj["shape"]]
    numbers = a2b_base64(obj["numbers"])
    if len(numbers) != packed_size(len(shape["info"])):
        raise ValueError(f"{len(numbers)} bytes of numbers for {len(shape['info'])} devices")
    timeline = obj.get("timeline")
    return CellRecord.packed(
        numbers,
        label=obj.get("label"),
        items=obj.get("items"),
        task=obj.get("task"),
        timeline=None if timeline is None else timeline_from_dict(timeline),
        baseline_w=obj.get("baseline_w"),
        extra=obj.get("extra"),
        **shape,
    )
