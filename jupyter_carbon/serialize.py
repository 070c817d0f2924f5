"""CellRecord <-> plain JSON-able dict, lossless (``record_from_dict(record_to_dict(r)) == r``),
and ``record_json``: the same dict as one compact JSON text, written directly (the session log
writes one per cell, and building the dict then encoding it cost ~4× as much)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from .record import CellRecord, DeviceEnergy, SessionTotals, Timeline, from_utc_us

__all__ = ["record_to_dict", "record_from_dict", "record_json", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def record_to_dict(record: CellRecord) -> dict[str, Any]:
    """Plain JSON-able dict of ``record``, plus the derived totals for readers that do not rebuild it.

    Built field by field (no ``dataclasses.asdict``, which deep-copies): this runs for every cell
    when the session log is on.
    """
    timeline = record.timeline
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
        "timeline": {"t_s": list(timeline.t_s), "power_w": {k: list(v) for k, v in timeline.power_w.items()}},
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
    timeline = values.get("timeline") or {}
    values["timeline"] = Timeline(tuple(timeline.get("t_s", ())), {k: tuple(v) for k, v in timeline.get("power_w", {}).items()})
    values["extra"] = values.get("extra") or {}
    return CellRecord(**values)


# --- record_json ------------------------------------------------------------------------------

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_encode = _ENCODER.encode
_string = json.encoder.encode_basestring  # the C version when the accelerator is built


def _float(x: float) -> str:
    return float.__repr__(x) if x - x == 0.0 else _encode(x)  # NaN and ±inf as json.dumps writes them


def _value(x: Any) -> str:
    kind = type(x)
    if kind is str:
        return _string(x)
    if x is None:
        return "null"
    if kind is float:
        return _float(x)
    return _encode(x)


def record_json(record: CellRecord) -> str:
    """``json.dumps(record_to_dict(record), ensure_ascii=False, separators=(",", ":"))``, faster.

    Field order and every value's text are the same (a test checks it on many records); the
    parts that can hold anything (timeline, baseline, extra) go through the same encoder.
    """
    (rid, cell, start_s, end_s, start_us, end_us, g_per_kwh, pue, *totals), e = record.numbers()
    devices = ",".join(
        f'{{"component":{_string(c)},"device":{_string(d)},"method":{_string(m)},"measured":{"true" if ms else "false"},'
        f'"energy_j":{_float(e[3 * i])},"low_j":{_float(e[3 * i + 1])},"high_j":{_float(e[3 * i + 2])}}}'
        for i, (c, d, m, ms) in enumerate(record._info)
    )
    cells, t_energy, t_low, t_high, t_co2e, t_duration = totals
    timeline = record.timeline
    energy_j = sum(e[0::3])
    utc = record.intensity_utc
    return (
        f'{{"schema":{SCHEMA_VERSION},"id":{rid},"label":{_value(record.label)},"cell":{"null" if cell is None else cell},'
        f'"kind":{_value(record.kind)},"start_utc":"{from_utc_us(start_us).isoformat()}","end_utc":"{from_utc_us(end_us).isoformat()}",'
        f'"start_s":{_float(start_s)},"end_s":{_float(end_s)},"devices":[{devices}],"status":{_value(record.status)},'
        f'"flags":{_encode(list(record.flags)) if record.flags else "[]"},"intensity_g_per_kwh":{_float(g_per_kwh)},'
        f'"intensity_source":{_value(record.intensity_source)},"intensity_utc":{"null" if utc is None else _string(utc.isoformat())},'
        f'"pue":{_float(pue)},"scope":{_value(record.scope)},"totals":{{"cells":{cells},"energy_j":{_float(t_energy)},'
        f'"low_j":{_float(t_low)},"high_j":{_float(t_high)},"co2e_g":{_float(t_co2e)},"duration_s":{_float(t_duration)}}},'
        f'"items":{_value(record.items)},"task":{_value(record.task)},'
        f'"timeline":{_encode({"t_s": list(timeline.t_s), "power_w": {k: list(v) for k, v in timeline.power_w.items()}}) if timeline.t_s or timeline.power_w else """{"t_s":[],"power_w":{}}"""},'
        f'"baseline_w":{"null" if record.baseline_w is None else _encode(dict(record.baseline_w))},'
        f'"extra":{_encode(dict(record.extra)) if record.extra else "{}"},'
        f'"energy_j":{_float(energy_j)},"co2e_g":{_float(record.co2e_g_of(energy_j))},"duration_s":{_float(end_s - start_s)}}}'
    )
