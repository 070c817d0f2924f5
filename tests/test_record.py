"""WindowRecord: a frozen dataclass whose dict form (the log's and the export's)
comes back exactly."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from storage_helpers import make_record

from jupyter_carbon.energy import Energy
from jupyter_carbon.record import DeviceEnergy, RecordError, SessionTotals, WindowRecord


def test_every_field_comes_back_exactly():
    record = make_record(2)
    start = datetime(2024, 5, 1, 12, 0, 20, tzinfo=timezone.utc)
    assert record.id == 2 and record.cell == 2 and record.kind == "auto"
    assert record.start_utc == start and record.end_utc == start + timedelta(seconds=2)
    assert (record.start_s, record.end_s, record.duration_s) == (102.0, 104.0, 2.0)
    assert record.devices == (
        DeviceEnergy("cpu", "package-0", "rapl", True, Energy(72.0, 72.0, 72.0)),
        DeviceEnergy("gpu", "gpu0 NVIDIA H100", "nvml-energy", True, Energy(720.0, 700.0, 740.0)),
        DeviceEnergy("ram", "ram", "ram-model", False, Energy(3.6, 1.8, 7.2)),
    )
    assert record.totals == SessionTotals(2, Energy(200.0, 180.0, 220.0), 3.0, 4.0)
    assert (record.intensity_g_per_kwh, record.pue, record.items, record.task) == (
        56.0,
        1.2,
        1000,
        "text-classification",
    )
    assert record.energy_j == 72.0 + 720.0 + 3.6
    assert record.energy_band_j == (72.0 + 700.0 + 1.8, 72.0 + 740.0 + 7.2)
    assert record.co2e_g == pytest.approx((72.0 + 720.0 + 3.6) / 3.6e6 * 1.2 * 56.0, rel=1e-15)
    assert not record.measured
    assert record.measured_by_component == (("cpu", True), ("gpu", True), ("ram", False))


def test_components_and_totals_carry_the_band_of_their_devices():
    record = dataclasses.replace(make_record(2), devices=(
        DeviceEnergy("cpu", "package-0", "rapl", True, Energy(72.0, 72.0, 72.0)),
        DeviceEnergy("cpu", "cpu model", "cpu-model", False, Energy(10.0, 5.0, 20.0)),
        DeviceEnergy("ram", "ram", "ram-model", False, Energy(3.5, 1.75, 7.0)),
    ))  # fmt: skip
    cpu, ram = record.components["cpu"], record.components["ram"]
    assert (cpu.energy, cpu.methods, cpu.measured, cpu.how) == (
        Energy(82.0, 77.0, 92.0),
        ("rapl", "cpu-model"),
        False,
        "estimated (rapl/cpu-model)",
    )
    assert (cpu.energy_j, cpu.low_j, cpu.high_j) == (82.0, 77.0, 92.0) and ram.energy == Energy(
        3.5, 1.75, 7.0
    )
    assert (
        record.energy == Energy(85.5, 78.75, 99.0)
        and record.energy_band_j == (78.75, 99.0)
        and record.energy_j == 85.5
    )
    k = 56.0 * 1.2 / 3.6e6
    co2e = record.co2e
    assert (co2e.co2e_g, co2e.low_g, co2e.high_g) == pytest.approx(
        (85.5 * k, 78.75 * k, 99.0 * k), rel=1e-12
    )
    assert record.co2e_band_g == (co2e.low_g, co2e.high_g) and record.co2e_g == co2e.co2e_g
    assert (record.totals.windows, record.totals.energy) == (2, Energy(200.0, 180.0, 220.0))
    assert record.to_dict()["totals"] == {
        "cells": 2,
        "energy_j": 200.0,
        "low_j": 180.0,
        "high_j": 220.0,
        "co2e_g": 3.0,
        "duration_s": 4.0,
    }
    assert record.to_dict()["devices"][1] == {
        "component": "cpu",
        "device": "cpu model",
        "method": "cpu-model",
        "measured": False,
        "energy_j": 10.0,
        "low_j": 5.0,
        "high_j": 20.0,
    }


def test_immutable_equal_hashable_and_picklable():
    record = make_record(3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.label = "x"
    with pytest.raises(
        (AttributeError, TypeError)
    ):  # TypeError: CPython < 3.12's frozen+slots quirk
        record.energy_j = 1.0
    again = dataclasses.replace(record)
    assert again == record and hash(again) == hash(record)
    assert dataclasses.replace(record, status="error") != record
    assert dataclasses.replace(record, end_s=record.end_s + 1e-9) != record
    assert pickle.loads(pickle.dumps(record)) == record
    assert "WindowRecord(id=3" in repr(record)


def test_mappings_are_read_only_copies_and_the_empty_one_is_not_shared_state():
    given_extra = {"loop": {"items": 3}}
    record = make_record(1, **given_extra)
    given_extra["x"] = 1  # the caller's dict changing later does not change the record
    assert "x" not in record.extra
    with pytest.raises(TypeError):
        record.extra["x"] = 1
    with pytest.raises(TypeError):
        record.timeline.power_w["gpu"] = (1.0,)
    plain = make_record(4)
    extra = plain.extra
    with pytest.raises(TypeError):
        extra |= {"a": 1}  # the shared empty mapping cannot be changed in place
    assert dict(plain.extra) == {} and dict(make_record(5).extra) == {}
    assert hash(record) == hash(dataclasses.replace(record))


def test_to_dict_is_plain_json_with_the_figures_under_their_names():
    record = make_record(2, loop={"predicted_j": 5.0})
    data = json.loads(json.dumps(record.to_dict()))
    assert (
        data["energy_j"] == record.energy_j
        and data["co2e_g"] == record.co2e_g
        and data["duration_s"] == 2.0
    )
    assert data["devices"][0] == {
        "component": "cpu",
        "device": "package-0",
        "method": "rapl",
        "measured": True,
        "energy_j": 72.0,
        "low_j": 72.0,
        "high_j": 72.0,
    }
    assert data["extra"] == {"loop": {"predicted_j": 5.0}} and data["baseline_w"] == {"cpu": 4.0}
    assert WindowRecord.from_dict(data) == record


@pytest.mark.parametrize(
    "when",
    [
        datetime(2024, 5, 1, 12, 0, 0, 123457, tzinfo=timezone.utc),
        datetime(2039, 1, 1, 0, 0, 0, 999999, tzinfo=timezone.utc),
        datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=timezone.utc),
        datetime(2026, 3, 1, 9, 30, 0, 7, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_times_are_exact_to_the_microsecond(when):
    record = dataclasses.replace(
        make_record(1), start_utc=when, end_utc=when + timedelta(microseconds=1), cell=None
    )
    again = WindowRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again.start_utc == when and again.end_utc - again.start_utc == timedelta(microseconds=1)
    assert again == record


def test_a_label_that_is_not_valid_utf8_is_made_encodable():
    record = dataclasses.replace(
        make_record(1), label="caf\udce9 \udcff"
    )  # bytes decoded with surrogateescape
    record.label.encode("utf-8")
    assert record.label.startswith("caf") and "\ufffd" in record.label


@pytest.mark.parametrize(
    "change, field",
    [
        ({"devices": {"a": 1}}, "devices"),
        ({"label": 5}, "label"),
        ({"pue": "1.2"}, "pue"),
        ({"pue": 0.5}, "pue"),
        ({"start_utc": "10000-01-01T00:00:00"}, "start_utc"),
        ({"timeline": [1, 2]}, "timeline"),
        ({"end_s": float("inf")}, "end_s"),
        ({"intensity_g_per_kwh": float("nan")}, "intensity_g_per_kwh"),
        ({"cell": 1.5}, "cell"),
        ({"flags": "x"}, "flags"),
        ({"totals": None}, "totals"),
    ],
)
def test_from_dict_names_the_bad_field(change, field):
    data = make_record(2).to_dict() | change
    with pytest.raises(RecordError, match=field):
        WindowRecord.from_dict(data)


def test_a_record_from_a_newer_schema_says_so():
    with pytest.raises(RecordError, match="newer"):
        WindowRecord.from_dict(make_record(1).to_dict() | {"schema": 99})


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=200, deadline=None)
@given(
    label=st.none() | st.text(max_size=20),
    energies=st.lists(st.tuples(finite, finite, finite), min_size=0, max_size=4),
    g_per_kwh=st.floats(0, 2000),
    pue=st.floats(1, 5),
    points=st.integers(0, 5),
    extra=st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3),
    start=st.floats(0, 1e9),
    micros=st.integers(0, 10**15),
)
def test_any_record_comes_back_exactly(
    label, energies, g_per_kwh, pue, points, extra, start, micros
):
    when = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=micros)
    record = dataclasses.replace(
        make_record(1, points=points),
        label=label,
        devices=tuple(
            DeviceEnergy("cpu", f"package-{i}", "rapl", True, Energy(*e))
            for i, e in enumerate(energies)
        ),
        intensity_g_per_kwh=g_per_kwh,
        pue=pue,
        extra=extra,
        start_s=start,
        end_s=start + 1.0,
        start_utc=when,
        end_utc=when,
    )
    text = json.dumps(record.to_dict())
    again = WindowRecord.from_dict(json.loads(text))
    assert again == record or any(math.isnan(x) for x in (again.energy_j, again.co2e_g))
    assert json.dumps(again.to_dict()) == text
