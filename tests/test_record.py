"""The compact CellRecord: every field comes back exactly as given, it is immutable, and small."""

from __future__ import annotations

import pickle
import sys
from datetime import datetime, timedelta, timezone

import pytest

from jupyter_carbon.record import CellRecord, DeviceEnergy, SessionTotals, Timeline
from storage_helpers import make_record


def test_every_field_comes_back_exactly():
    record = make_record(2)
    start = datetime(2024, 5, 1, 12, 0, 20, tzinfo=timezone.utc)
    assert record.id == 2 and record.cell == 2 and record.kind == "auto"
    assert record.start_utc == start and record.end_utc == start + timedelta(seconds=2)
    assert record.start_utc.tzinfo is not None
    assert (record.start_s, record.end_s, record.duration_s) == (102.0, 104.0, 2.0)
    assert record.devices == (
        DeviceEnergy("cpu", "package-0", "rapl", True, 72.0, 72.0, 72.0),
        DeviceEnergy("gpu", "gpu0 NVIDIA H100", "nvml-energy", True, 720.0, 700.0, 740.0),
        DeviceEnergy("ram", "ram", "ram-model", False, 3.6, 1.8, 7.2),
    )
    assert record.totals == SessionTotals(2, 200.0, 180.0, 220.0, 3.0, 4.0)
    assert (record.intensity_g_per_kwh, record.pue, record.items, record.task) == (56.0, 1.2, 1000, "text-classification")
    assert record.energy_j == 72.0 + 720.0 + 3.6
    assert record.energy_band_j == (72.0 + 700.0 + 1.8, 72.0 + 740.0 + 7.2)
    assert record.co2e_g == pytest.approx((72.0 + 720.0 + 3.6) / 3.6e6 * 1.2 * 56.0, rel=1e-15)
    assert not record.measured
    assert record.fields()["devices"] == record.devices


@pytest.mark.parametrize("when", [
    datetime(2024, 5, 1, 12, 0, 0, 123457, tzinfo=timezone.utc),
    datetime(2039, 1, 1, 0, 0, 0, 999999, tzinfo=timezone.utc),  # past 2^31 s: a float timestamp would round
    datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=timezone.utc),
    datetime(2026, 3, 1, 9, 30, 0, 7, tzinfo=timezone(timedelta(hours=-5))),
])
def test_times_are_exact_to_the_microsecond(when):
    fields = make_record(1).fields() | {"start_utc": when, "end_utc": when + timedelta(microseconds=1), "cell": None}
    record = CellRecord(**fields)
    assert record.start_utc == when and record.end_utc - record.start_utc == timedelta(microseconds=1)
    assert record.cell is None


def test_immutable_equal_hashable_and_picklable():
    record = make_record(3)
    with pytest.raises(AttributeError, match="immutable"):
        record.label = "x"
    with pytest.raises(AttributeError):
        record.energy_j = 1.0
    again = CellRecord(**record.fields())
    assert again == record and hash(again) == hash(record)
    assert CellRecord(**(record.fields() | {"status": "error"})) != record
    assert CellRecord(**(record.fields() | {"end_s": record.end_s + 1e-9})) != record
    assert pickle.loads(pickle.dumps(record)) == record
    assert "CellRecord(id=3" in repr(record)


def test_records_of_the_same_sources_share_their_strings_and_stay_small():
    same = {"timeline": None, "extra": None, "intensity_utc": None}
    a = CellRecord(**make_record(1).fields() | same)
    b = CellRecord(**make_record(5).fields() | same)
    assert a._common is b._common  # one tuple of device names, kind, status … for every such record
    own = sys.getsizeof(a) + sys.getsizeof(a._numbers)
    assert own < 300, own  # the dataclass with device and totals objects took ~1 KB
    assert a._rest is None and a.timeline == Timeline() and a.extra == {} and a.items is None
