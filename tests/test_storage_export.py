"""Exports: CSV against CodeCarbon's schema, JSON round trip, bad paths, pandas optional."""

from __future__ import annotations

import csv
import json
import sys
import types
from pathlib import Path

import pytest
from storage_helpers import make_record

from jupyter_carbon.rows import CODECARBON_COLUMNS, OUR_COLUMNS, to_dataframe
from jupyter_carbon.storage.export import export_records, load_records

# CodeCarbon's emissions.csv header, in order: the fields of ``EmissionsData`` in mlco2/codecarbon
# codecarbon/output_methods/emissions_data.py (commit 118873936dadf2608ae4d2af9862fcca4c2fe3d6,
# CodeCarbon 2.5-2.8); documented with units at https://mlco2.github.io/codecarbon/output.html
# (duration s, emissions kg, emissions_rate kg/s, *_power W, *_energy and energy_consumed kWh).
CODECARBON_EMISSIONS_CSV = [
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions",
    "emissions_rate", "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy",
    "ram_energy", "energy_consumed", "country_name", "country_iso_code", "region",
    "cloud_provider", "cloud_region", "os", "python_version", "codecarbon_version", "cpu_count",
    "cpu_model", "gpu_count", "gpu_model", "longitude", "latitude", "ram_total_size",
    "tracking_mode", "on_cloud", "pue",
]  # fmt: skip

RECORDS = [make_record(i) for i in range(1, 5)]


def test_csv_has_codecarbon_columns_first_then_ours_one_row_per_record(tmp_path: Path) -> None:
    path = export_records(RECORDS, tmp_path / "out.csv")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        header = reader.fieldnames
    assert header[: len(CODECARBON_EMISSIONS_CSV)] == CODECARBON_EMISSIONS_CSV
    assert header[len(CODECARBON_EMISSIONS_CSV) :] == list(OUR_COLUMNS)
    assert list(CODECARBON_COLUMNS) == CODECARBON_EMISSIONS_CSV
    for col in (
        "cell",
        "label",
        "methods",
        "measured",
        "energy_low_j",
        "energy_high_j",
        "status",
        "items",
    ):
        assert col in header
    assert len(rows) == len(RECORDS)
    row, record = rows[0], RECORDS[0]
    # units as CodeCarbon documents them
    assert float(row["duration"]) == pytest.approx(2.0)
    assert float(row["cpu_energy"]) == pytest.approx(36.0 / 3.6e6)  # kWh
    assert float(row["gpu_energy"]) == pytest.approx(720.0 / 3.6e6)
    assert float(row["energy_consumed"]) == pytest.approx(record.energy_j / 3.6e6)
    assert float(row["cpu_power"]) == pytest.approx(18.0)  # W = 36 J / 2 s
    assert float(row["emissions"]) == pytest.approx(record.co2e_g / 1000)  # kg
    assert float(row["emissions_rate"]) == pytest.approx(record.co2e_g / 1000 / 2.0)  # kg/s
    assert row["timestamp"] == "2024-05-01T12:00:12"
    assert row["country_name"] == "France" and row["country_iso_code"] == "FRA"
    assert row["tracking_mode"] == "machine" and row["on_cloud"] == "N" and float(row["pue"]) == 1.2
    assert row["gpu_count"] == "1" and row["gpu_model"] == "1 x gpu0 NVIDIA H100"
    assert row["longitude"] == "" and row["latitude"] == ""
    # ours
    assert (
        row["measured"] == "estimated"
        and row["methods"] == "cpu:rapl;gpu:nvml-energy;ram:ram-model"
    )
    assert row["cell"] == "1" and row["label"] == "cell 1" and row["status"] == "ok"
    assert float(row["energy_low_j"]) < float(row["energy_j"]) < float(row["energy_high_j"])
    assert rows[1]["items"] == "1000" and rows[0]["items"] == ""
    assert rows[2]["flags"] == "a note, with a comma"
    assert len({r["run_id"] for r in rows}) == 1


def test_cloud_region_fills_codecarbon_cloud_columns(tmp_path: Path) -> None:
    path = export_records(
        [make_record(1, source="table:gcp:europe-west1 (Google Cloud)", region="gcp:europe-west1")],
        tmp_path / "c.csv",
    )
    row = next(csv.DictReader(open(path, newline="", encoding="utf-8")))
    assert (row["cloud_provider"], row["cloud_region"], row["on_cloud"]) == (
        "gcp",
        "europe-west1",
        "Y",
    )


def test_json_round_trip_is_exact(tmp_path: Path) -> None:
    records = RECORDS + [make_record(9, source="user", region=None, note="ünïcode ✓")]
    path = export_records(records, tmp_path / "out.json")
    assert load_records(path) == records
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == "jupyter_carbon" and len(document["records"]) == len(records)


def test_load_records_reads_a_session_log(tmp_path: Path) -> None:
    from jupyter_carbon.storage.log import SessionLog

    log = SessionLog(tmp_path)
    for r in RECORDS:
        log.append(r)
    assert load_records(log.path) == RECORDS


@pytest.mark.parametrize(
    "name, message",
    [
        ("out.txt", "unknown file type '.txt'"),
        ("out", "unknown file type '(none)'"),
        ("missing/out.csv", "does not exist: create it first"),
        ("blocker/out.json", "is a file, not a folder"),
        (".", "is a folder: give a file name"),
        ("", "no output path given"),
    ],
)
def test_bad_paths_raise_one_line_value_errors(
    tmp_path: Path, monkeypatch, name: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(ValueError) as info:
        export_records(RECORDS, name)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_unwritable_folder_is_a_value_error(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)
    with pytest.raises(
        ValueError, match="cannot write in .*Read-only file system.*choose a writable folder"
    ):
        export_records(RECORDS, tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


def test_load_records_rejects_other_json(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a jupyter_carbon export"):
        load_records(tmp_path / "other.json")


def test_to_dataframe_without_pandas_names_the_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    with pytest.raises(ImportError, match="pip install pandas"):
        to_dataframe(RECORDS)


def test_to_dataframe_and_session_method_with_a_stub_pandas(monkeypatch) -> None:
    calls = []
    stub = types.ModuleType("pandas")
    stub.DataFrame = lambda rows, columns: calls.append((rows, columns)) or "frame"
    monkeypatch.setitem(sys.modules, "pandas", stub)
    assert to_dataframe(RECORDS) == "frame"
    rows, columns = calls[0]
    assert columns == CODECARBON_EMISSIONS_CSV + list(OUR_COLUMNS) and len(rows) == 4
    assert rows[0]["cell"] == 1 and rows[0]["items"] is None
    from fakes import constant_session

    session = constant_session(cpu=1.0)  # no hardware probing needed for this
    session.records.extend(RECORDS[:2])
    assert session.to_dataframe() == "frame" and len(calls[1][0]) == 2


def _strict_json(text: str) -> object:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_overflowing_sums_export_as_valid_json_and_csv(tmp_path: Path) -> None:
    """Two devices of 1e308 J sum to infinity: JSON gets null (not Infinity), CSV an empty cell."""
    import dataclasses

    from jupyter_carbon.energy import Energy
    from jupyter_carbon.record import DeviceEnergy

    huge = DeviceEnergy("cpu", "package-0", "rapl", True, Energy(1e308, 1e308, 1e308))
    record = dataclasses.replace(make_record(1), devices=(huge, huge))
    assert record.energy_j == float("inf")  # the overflow the exports must survive
    export_records([record, make_record(2)], tmp_path / "r.json")
    document = _strict_json((tmp_path / "r.json").read_text(encoding="utf-8"))
    first, second = document["records"]
    assert first["devices"][0]["energy_j"] == 1e308 and first["totals"]["energy_j"] == 100.0
    assert second == json.loads(json.dumps(make_record(2).to_dict()))  # finite records unchanged
    export_records([record], tmp_path / "r.csv")
    text = (tmp_path / "r.csv").read_text(encoding="utf-8")
    assert "inf" not in text.lower().replace("info", "")
    row = next(csv.DictReader(open(tmp_path / "r.csv", newline="")))
    assert row["energy_consumed"] == ""


def test_an_object_in_extra_exports_as_bounded_text(tmp_path: Path) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "Opaque(" + "z" * 10_000 + ")"

    export_records([make_record(1, thing=Opaque(), n=3)], tmp_path / "r.json")
    (record,) = load_records(tmp_path / "r.json")
    assert record.extra["n"] == 3 and record.extra["thing"].startswith("Opaque(zzz")
    assert len(record.extra["thing"]) <= 200
