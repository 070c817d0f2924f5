"""The log's record lines: lossless for any record, the documented byte layout, each shape said
once per file, and readers (read_log, LogTail) that follow the shapes."""

from __future__ import annotations

import base64
import json
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_carbon.record import CellRecord, DeviceEnergy
from jupyter_carbon.serialize import record_to_dict
from jupyter_carbon.storage.compact import Shapes
from jupyter_carbon.storage.log import LogTail, SessionLog, _parse_line, read_log
from storage_helpers import make_record

text = st.text(st.characters(codec="utf-8"), max_size=12)  # quotes, backslashes, control characters, non-ASCII
number = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-1e-300, 1e-300)
json_value = st.recursive(st.none() | st.booleans() | st.integers(-(2**70), 2**70) | number | text, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=6)


def read_back(data: bytes) -> list[CellRecord]:
    shapes: dict = {}
    parsed = [_parse_line(raw, shapes) for raw in data.splitlines()]
    return [value for kind, value in parsed if kind == "record"]


def as_text(record: CellRecord) -> str:
    """Every field as JSON text: equal texts mean equal records, NaN included."""
    return json.dumps(record_to_dict(record), ensure_ascii=False, separators=(",", ":"))


@settings(max_examples=300, deadline=None)
@given(
    label=st.none() | text, cell=st.none() | st.integers(0, 2**62), status=text, flags=st.lists(text, max_size=3),
    source=text, energies=st.lists(number, min_size=3, max_size=3), g_per_kwh=number, pue=number,
    items=st.none() | st.integers(0, 2**62), task=st.none() | text, points=st.integers(0, 3),
    baseline=st.none() | st.dictionaries(text, number, max_size=2), extra=st.dictionaries(text, json_value, max_size=3),
    utc=st.none() | st.datetimes(timezones=st.just(timezone.utc)), device=text, measured=st.booleans(),
    start=st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=st.just(timezone.utc)), micros=st.integers(0, 10**8),
)  # fmt: skip
def test_any_record_comes_back_exactly(label, cell, status, flags, source, energies, g_per_kwh, pue, items, task, points, baseline, extra, utc, device, measured, start, micros):
    fields = make_record(1, points=points).fields()
    devices = (DeviceEnergy("cpu", device, "rapl", measured, *energies),) + fields["devices"][1:]
    record = CellRecord(**fields | {
        "label": label, "cell": cell, "status": status, "flags": tuple(flags), "intensity_source": source, "devices": devices,
        "intensity_g_per_kwh": g_per_kwh, "pue": pue, "items": items, "task": task, "baseline_w": baseline, "extra": extra, "intensity_utc": utc,
        "start_utc": start, "end_utc": start + timedelta(microseconds=micros),
    })  # fmt: skip
    (again,) = read_back(Shapes().lines(record))
    assert as_text(again) == as_text(record)
    assert again._numbers == record._numbers  # every bit: -0.0, NaN payloads, subnormals
    if "NaN" not in as_text(record):  # NaN != NaN in the shared fields
        assert again == record


def test_numbers_follow_the_documented_little_endian_layout() -> None:
    record = make_record(7)
    shape_line, cell_line = Shapes().lines(record).splitlines()
    cell = json.loads(cell_line)
    shape = json.loads(shape_line)
    assert (cell["type"], shape["type"], cell["shape"], shape["shape"], cell["id"]) == ("cell", "shape", 1, 1, 7)
    assert [d["device"] for d in shape["devices"]] == [d.device for d in record.devices]
    raw = base64.b64decode(cell["numbers"])
    values = struct.unpack("<qqddqqqddddd" + "ddd" * len(record.devices), raw)  # the layout compact.py documents
    t = record.totals
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert values[:12] == (7, 7, record.start_s, record.end_s, (record.start_utc - epoch) // timedelta(microseconds=1), (record.end_utc - epoch) // timedelta(microseconds=1), t.cells, t.energy_j, t.low_j, t.high_j, t.co2e_g, t.duration_s)
    assert values[12:] == tuple(x for d in record.devices for x in (d.energy_j, d.low_j, d.high_j))
    assert cell["label"] == "cell 7" and "items" not in cell and "timeline" in cell  # only what is set


def auto_record(i: int, **changes) -> CellRecord:
    """Records as auto mode makes them: the same strings and intensity, only the numbers differ."""
    base = make_record(1, points=0).fields() | {"label": None, "items": None, "task": None, "baseline_w": None, "timeline": None}
    return CellRecord(**base | {"id": i, "cell": i, "start_s": 100.0 + i, "end_s": 100.5 + i} | changes)


def test_each_shape_is_written_once_and_only_numbers_after_it(tmp_path: Path) -> None:
    log = SessionLog(tmp_path)
    records = [auto_record(i) for i in range(1, 51)] + [auto_record(51, status="error")] + [auto_record(52)]
    for r in records:
        assert log.append(r)
    log.close()
    kinds = [json.loads(line)["type"] for line in log.path.read_bytes().splitlines()]
    assert kinds == ["session", "shape"] + ["cell"] * 50 + ["shape", "cell", "cell"]
    assert read_log(log.path).records == records
    cell_line = log.path.read_bytes().splitlines()[2]
    assert len(cell_line) < 300, cell_line  # as a whole JSON object the record took ~1.1 kB


def test_past_the_shape_limit_shapes_are_said_again_and_read_back_right(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(Shapes, "limit", 2)
    log = SessionLog(tmp_path)
    statuses = ["ok", "error", "interrupted"] * 4
    records = [auto_record(i, status=s) for i, s in enumerate(statuses, 1)]
    for r in records:
        assert log.append(r)
    log.close()
    assert read_log(log.path).records == records
    shapes = [json.loads(line)["shape"] for line in log.path.read_bytes().splitlines() if b'"type":"shape"' in line]
    assert len(shapes) > 3 and len(set(shapes)) == len(shapes)  # said again, under new numbers


def test_a_record_json_cannot_hold_is_refused_and_the_next_one_is_whole(tmp_path: Path) -> None:
    problems: list[str] = []
    log = SessionLog(tmp_path, on_problem=problems.append)
    bad = auto_record(1, flags=(object(),))  # flags live in the shape
    assert not log.append(bad)
    assert log.append(auto_record(2)) and log.append(auto_record(3, extra={"model": object()})) is False
    assert log.append(auto_record(4))
    log.close()
    assert [r.id for r in read_log(log.path).records] == [2, 4] and len(problems) == 2
    assert "could not log record 1" in problems[0] and "stays in memory" in problems[0]


def test_a_cell_line_without_its_shape_is_an_unreadable_line(tmp_path: Path) -> None:
    log = SessionLog(tmp_path)
    log.append(auto_record(1))
    log.close()
    header, _shape, cell = log.path.read_bytes().splitlines()
    log.path.write_bytes(header + b"\n" + cell + b"\n")
    contents = read_log(log.path)
    assert contents.records == [] and contents.notes == [f"{log.path.name}: skipped unreadable line 2 (KeyError)"]
    short = json.loads(cell) | {"numbers": base64.b64encode(b"\0" * 8).decode()}
    with pytest.raises(ValueError, match="8 bytes of numbers for 3 devices"):
        read_back(_shape + b"\n" + json.dumps(short).encode())


def test_schema_1_logs_are_still_read(tmp_path: Path) -> None:
    records = [make_record(i) for i in (1, 2, 3)]
    path = tmp_path / "session-old.jsonl"
    lines = [{"type": "session", "log_schema": 1}] + [{"type": "record", **record_to_dict(r)} for r in records]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert read_log(path).records == records


def test_log_tail_follows_shapes_across_calls(tmp_path: Path) -> None:
    tail = LogTail(tmp_path)
    log = SessionLog(tmp_path)
    log.append(auto_record(1))
    assert [r.id for r in tail.new_records()] == [1]
    for i in (2, 3):
        log.append(auto_record(i))  # cell lines only: their shape was in the earlier read
    assert [r.id for r in tail.new_records()] == [2, 3]
    assert tail.new_records() == []
    log.close()
