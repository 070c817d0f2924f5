"""CellRecord <-> plain JSON-able dict, lossless (``record_from_dict(record_to_dict(r)) == r``):
the JSON export's records (the session log writes its own compact lines: ``storage.compact``)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from .record import CellRecord, DeviceEnergy, SessionTotals, Timeline

__all__ = ["record_to_dict", "record_from_dict", "timeline_to_dict", "timeline_from_dict", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def record_to_dict(record: CellRecord) -> dict[str, Any]:
    """Plain JSON-able dict of ``record``, plus the derived totals for readers that do not rebuild it.

    Built field by field (no ``dataclasses.asdict``, which deep-copies).
    """
    return {
        "schema": SCHEMA_VERSION,
        "id": record.id,
        "label": record.label,
        "cell": record.cell,
        "kind": record.kind,
        "start_utc": record.start_utc.isoformat(),
        "end_utc": record.end_utc.isoformat(),
        "start_s": record.start_s,
        "end_s": record.end_s,
        "devices": [
            {"component": d.component, "device": d.device, "method": d.method, "measured": d.measured, "energy_j": d.energy_j, "low_j": d.low_j, "high_j": d.high_j}
            for d in record.devices
        ],
        "status": record.status,
        "flags": list(record.flags),
        "intensity_g_per_kwh": record.intensity_g_per_kwh,
        "intensity_source": record.intensity_source,
        "intensity_utc": _time(record.intensity_utc),
        "pue": record.pue,
        "scope": record.scope,
        "totals": {f.name: getattr(record.totals, f.name) for f in _TOTALS_FIELDS},
        "items": record.items,
        "task": record.task,
        "timeline": timeline_to_dict(record.timeline),
        "baseline_w": dict(record.baseline_w) if record.baseline_w is not None else None,
        "extra": dict(record.extra),
        "energy_j": record.energy_j,
        "co2e_g": record.co2e_g,
        "duration_s": record.duration_s,
    }


_TOTALS_FIELDS = dataclasses.fields(SessionTotals)


def record_from_dict(data: dict[str, Any]) -> CellRecord:
    names = set(CellRecord.FIELDS)
    values = {k: v for k, v in data.items() if k in names}
    for key in ("start_utc", "end_utc", "intensity_utc"):
        if values.get(key) is not None:
            values[key] = datetime.fromisoformat(values[key])
    values["devices"] = tuple(DeviceEnergy(**d) for d in values.get("devices", ()))
    values["totals"] = SessionTotals(**values["totals"])
    values["flags"] = tuple(values.get("flags", ()))
    values["timeline"] = timeline_from_dict(values.get("timeline") or {})
    values["extra"] = values.get("extra") or {}
    return CellRecord(**values)


def timeline_to_dict(timeline: Timeline) -> dict[str, Any]:
    return {"t_s": list(timeline.t_s), "power_w": {k: list(v) for k, v in timeline.power_w.items()}}


def timeline_from_dict(data: dict[str, Any]) -> Timeline:
    return Timeline(tuple(data.get("t_s", ())), {k: tuple(v) for k, v in data.get("power_w", {}).items()})
