"""Reading the packed log lines of jupyter_carbon 0.1.0 (log schema 2), for old logs only.

Those logs wrote a ``{"type": "shape", ...}`` line (kind, status, flags, devices, intensity, PUE,
scope) once per file before the first ``{"type": "cell", "numbers": BASE64, ...}`` line that used
it. ``numbers`` held, little-endian: int64 id, int64 cell (-2**63 for none), float64 start_s and
end_s, int64 start and end (µs since the Unix epoch), int64 totals.cells, float64 totals
energy_j, low_j, high_j, co2e_g, duration_s, then float64 energy_j, low_j, high_j per device.
Here a cell line becomes the record's dict form (``CellRecord.to_dict``), checked like any other.
"""

from __future__ import annotations

import struct
from binascii import a2b_base64
from typing import Any

from ..units import from_utc_us

__all__ = ["read_shape", "cell_to_dict"]

_HEAD = struct.Struct("<qqddqqqddddd")
_NO_CELL = -(2**63)
_SHAPE_KEYS = ("kind", "status", "flags", "devices", "intensity_g_per_kwh", "intensity_source", "intensity_utc", "pue", "scope")


def read_shape(obj: dict[str, Any], shapes: dict[Any, dict[str, Any]]) -> None:
    """Remember a shape line (``shapes`` is the reader's table for one file); KeyError if incomplete."""
    shapes[obj["shape"]] = {key: obj[key] for key in _SHAPE_KEYS}


def cell_to_dict(obj: dict[str, Any], shapes: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    """A cell line as a record dict; KeyError for an unknown shape, ValueError for bad numbers."""
    shape = shapes[obj["shape"]]
    devices = shape["devices"]
    if not isinstance(devices, list):
        raise ValueError("devices: expected a list")
    numbers = a2b_base64(obj["numbers"])
    if len(numbers) != _HEAD.size + 24 * len(devices):
        raise ValueError(f"{len(numbers)} bytes of numbers for {len(devices)} devices")
    head = _HEAD.unpack_from(numbers)
    energies = struct.unpack_from(f"<{3 * len(devices)}d", numbers, _HEAD.size)
    record_id, cell, start_s, end_s, start_us, end_us = head[:6]
    cells, energy_j, low_j, high_j, co2e_g, duration_s = head[6:]
    return {
        **shape,
        "schema": 1,
        "id": record_id,
        "cell": None if cell == _NO_CELL else cell,
        "start_s": start_s,
        "end_s": end_s,
        "start_utc": from_utc_us(start_us).isoformat(),
        "end_utc": from_utc_us(end_us).isoformat(),
        "devices": [{**d, "energy_j": energies[3 * i], "low_j": energies[3 * i + 1], "high_j": energies[3 * i + 2]} for i, d in enumerate(devices)],
        "totals": {"cells": cells, "energy_j": energy_j, "low_j": low_j, "high_j": high_j, "co2e_g": co2e_g, "duration_s": duration_s},
        **{key: obj.get(key) for key in ("label", "items", "task", "timeline", "baseline_w", "extra")},
    }
