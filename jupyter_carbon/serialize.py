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
    if x is None:
        return "null"
    if type(x) is str:
        return _TEXT.get(x) or _text(x)
    return _float(x) if type(x) is float else _encode(x)


_TEXT: dict[str, str] = {}  # the few strings every record repeats (kind, status, scope, sources), encoded once


def _text(x: str) -> str:
    encoded = _string(x)
    if len(_TEXT) < 256:
        _TEXT[x] = encoded
    return encoded


_last_second: tuple[int | None, str] = (None, "")  # replaced whole, so threads never see half of it


def _iso(us: int) -> str:
    """``from_utc_us(us).isoformat()``, reusing the formatted date and time of the same second."""
    global _last_second
    second, micro = divmod(us, 1_000_000)
    cached, prefix = _last_second
    if second != cached:
        prefix = from_utc_us(second * 1_000_000).isoformat()[:19]
        _last_second = (second, prefix)
    return f"{prefix}.{micro:06d}+00:00" if micro else f"{prefix}+00:00"


_last_utc: tuple[Any, str] = (None, "null")


def _utc(when: Any) -> str:
    """The intensity's time: one object shared by many records, formatted once."""
    global _last_utc
    cached, text = _last_utc
    if when is not cached:
        text = "null" if when is None else _string(when.isoformat())
        _last_utc = (when, text)
    return text


# The line's layout. Markers: P a non-numeric field (JSON text), N an integer or an ISO time, F a
# float. A line is made in two steps: the non-numeric fields go into a per-"shape" template (cached:
# in auto mode every record has the same label, kind, status, flags, intensity source …), then the
# numbers go in with one C-level ``%`` call (``%r`` of a float is what json.dumps writes, when finite).
_HEAD = '{"schema":%d,"id":N,"label":P,"cell":N,"kind":P,"start_utc":"N","end_utc":"N","start_s":F,"end_s":F,"devices":[' % SCHEMA_VERSION
_TAIL = (
    '],"status":P,"flags":P,"intensity_g_per_kwh":F,"intensity_source":P,"intensity_utc":P,"pue":F,"scope":P,'
    '"totals":{"cells":N,"energy_j":F,"low_j":F,"high_j":F,"co2e_g":F,"duration_s":F},"items":P,"task":P,'
    '"timeline":P,"baseline_w":P,"extra":P,"energy_j":F,"co2e_g":F,"duration_s":F}'
)
_EMPTY_TIMELINE = '{"t_s":[],"power_w":{}}'
_layouts: dict[tuple, tuple[str, str]] = {}
_shapes: dict[tuple, tuple[tuple, str]] = {}


def _layout(info: tuple) -> tuple[str, str]:
    """The step-one templates for records with these devices: (all floats finite, some not)."""
    found = _layouts.get(info)
    if found is None:
        out = []
        for f in ("%%r", "%%s"):
            devices = ",".join(  # the device names go in after the markers are replaced: they may hold P, N, F or %
                f'{{"component":{_string(c)},"device":{_string(d)},"method":{_string(m)},"measured":{"true" if measured else "false"},'.replace("%", "%%%%")
                + f'"energy_j":{f},"low_j":{f},"high_j":{f}}}'
                for c, d, m, measured in info
            )
            head, tail = (part.replace("P", "%s").replace("N", "%%s").replace("F", f) for part in (_HEAD, _TAIL))
            out.append(head + devices + tail)
        found = out[0], out[1]
        if len(_layouts) < 64:
            _layouts[info] = found
    return found


def _fields(record: CellRecord) -> tuple[str, ...]:
    """The record's non-numeric fields as JSON text, ``%``-escaped, in layout order."""
    timeline, extra, baseline = record.timeline, record.extra, record.baseline_w
    texts = (
        _value(record.label), _value(record.kind), _value(record.status), _encode(list(record.flags)) if record.flags else "[]",
        _value(record.intensity_source), _utc(record.intensity_utc), _value(record.scope), _value(record.items), _value(record.task),
        _encode({"t_s": list(timeline.t_s), "power_w": {k: list(v) for k, v in timeline.power_w.items()}}) if timeline.t_s or timeline.power_w else _EMPTY_TIMELINE,
        "null" if baseline is None else _encode(dict(baseline)),
        _encode(dict(extra)) if extra else "{}",
    )  # fmt: skip
    return tuple(t.replace("%", "%%") for t in texts)


def record_json(record: CellRecord) -> str:
    """``json.dumps(record_to_dict(record), ensure_ascii=False, separators=(",", ":"))``, faster.

    Field order and every value's text are the same (a test checks it on many generated records);
    the parts that can hold anything (flags, timeline, baseline, extra) go through the same encoder.
    """
    (rid, cell, start_s, end_s, start_us, end_us, g_per_kwh, pue, cells, *totals), energies = record.numbers()
    energy_j = sum(energies[0::3])
    floats = (start_s, end_s, *energies, g_per_kwh, pue, *totals, energy_j, record.co2e_g_of(energy_j), end_s - start_s)
    check = sum(floats)
    finite = check - check == 0.0  # else a NaN or an infinity (or an overflow): the slow, exact way
    shape = None
    if finite and record._rest is None:  # the usual record: its shape is cached
        common = record._common  # shared by every record with the same strings (kept alive by the cache entry)
        key = (id(common), record.label)
        entry = _shapes.get(key)
        if entry is None:
            if len(_shapes) > 256:
                _shapes.clear()
            entry = _shapes[key] = (common, _layout(record._info)[0] % _fields(record))
        shape = entry[1]
    if shape is None:
        fast, slow = _layout(record._info)
        shape = (fast if finite else slow) % _fields(record)
        if not finite:
            floats = tuple(_float(x) for x in floats)
    n = len(energies)
    return shape % (rid, "null" if cell is None else cell, _iso(start_us), _iso(end_us), *floats[: 4 + n], cells, *floats[4 + n :])
