"""CellRecord <-> plain JSON-able dict, lossless (``record_from_dict(record_to_dict(r)) == r``)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from .record import CellRecord, DeviceEnergy, SessionTotals, Timeline

__all__ = ["record_to_dict", "record_from_dict", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def record_to_dict(record: CellRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"schema": SCHEMA_VERSION}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif f.name == "devices":
            value = [dataclasses.asdict(d) for d in value]
        elif f.name == "totals":
            value = dataclasses.asdict(value)
        elif f.name == "timeline":
            value = {"t_s": list(value.t_s), "power_w": {k: list(v) for k, v in value.power_w.items()}}
        elif f.name == "flags":
            value = list(value)
        elif f.name in ("baseline_w", "extra"):
            value = dict(value) if value is not None else None
        out[f.name] = value
    # Derived figures, for readers that do not rebuild the record.
    out["energy_j"] = record.energy_j
    out["co2e_g"] = record.co2e_g
    out["duration_s"] = record.duration_s
    return out


def record_from_dict(data: dict[str, Any]) -> CellRecord:
    names = {f.name for f in dataclasses.fields(CellRecord)}
    values = {k: v for k, v in data.items() if k in names}
    for key in ("start_utc", "end_utc", "intensity_utc"):
        if values.get(key) is not None:
            values[key] = datetime.fromisoformat(values[key])
    values["devices"] = tuple(DeviceEnergy(**d) for d in values.get("devices", ()))
    values["totals"] = SessionTotals(**values["totals"])
    values["flags"] = tuple(values.get("flags", ()))
    timeline = values.get("timeline") or {}
    values["timeline"] = Timeline(tuple(timeline.get("t_s", ())), {k: tuple(v) for k, v in timeline.get("power_w", {}).items()})
    values["extra"] = values.get("extra") or {}
    return CellRecord(**values)
