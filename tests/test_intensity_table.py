"""The shipped intensity table: lookups, aliases, errors, laziness and reproducibility."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_carbon.intensity import (
    WORLD_AVERAGE,
    Region,
    UnknownRegionError,
    all_regions,
    lookup_region,
)

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO.parent / "shared" / "data" / "codecarbon"
TABLE = REPO / "jupyter_carbon" / "data" / "intensity.csv"
needs_source = pytest.mark.skipif(
    not (SOURCE / "global_energy_mix.json").is_file(),
    reason=f"source data folder {SOURCE} is absent (it lives next to the repository root)",
)


def _json(name):
    return json.loads((SOURCE / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("text", ["FR", "fr", "fra", "FRA", "France", "FRANCE", "  france "])
def test_france_by_code_alpha3_and_name(text):
    region = lookup_region(text)
    assert region.key == "FR"
    assert region.kind == "country"
    assert isinstance(region, Region)


@pytest.mark.parametrize("text", ["US-CA", "us-ca", "California", "CALIFORNIA"])
def test_us_state(text):
    assert lookup_region(text).key == "US-CA"


@pytest.mark.parametrize(
    "text, key",
    [
        ("gcp:europe-west1", "gcp:europe-west1"),
        ("GCP:Europe-West1", "gcp:europe-west1"),
        ("CA-QC", "CA-QC"),
        ("quebec", "CA-QC"),
        ("Québec", "CA-QC"),
        ("UK", "GB"),
        ("gbr", "GB"),
        ("usa", "US"),
        ("world", "WORLD"),
        ("gcp:me-cenrtal1", "gcp:me-central1"),
        ("ca", "CA"),
        ("georgia", "GE"),
        ("US-GA", "US-GA"),
    ],
)
def test_other_keys_and_aliases(text, key):
    assert lookup_region(text).key == key


@needs_source
def test_every_country_matches_source_json():
    data = _json("global_energy_mix.json")
    assert len(data) > 200
    for alpha3, entry in data.items():
        region = lookup_region(alpha3)
        assert region.g_per_kwh == pytest.approx(entry["carbon_intensity"], abs=0.051), alpha3
        assert region.year == entry["year"]
        assert lookup_region(entry["country_name"]) == region


@needs_source
def test_us_states_converted_from_lbs_per_mwh():
    data = _json("usa_emissions.json")
    for state in ("california", "texas", "west virginia", "vermont"):
        expected = data[state]["emissions"] / 2.20462
        region = lookup_region(state)
        assert region.key == "US-" + data[state]["regionCode"]
        assert region.g_per_kwh == pytest.approx(expected, abs=0.051)


@needs_source
@pytest.mark.parametrize(
    "province, key",
    [
        ("quebec", "CA-QC"),
        ("alberta", "CA-AB"),
        ("nova scotia", "CA-NS"),
        ("british columbia", "CA-BC"),
        ("nunavut", "CA-NU"),
    ],
)
def test_canadian_provinces_from_mix_and_lifecycle_factors(province, key):
    factors = _json("carbon_intensity_per_source.json")
    per_source = {
        "coal": factors["coal"],
        "petroleum": factors["petroleum"],
        "naturalGas": factors["natural_gas"],
        "nuclear": factors["nuclear"],
        "hydro": factors["hydroelectricity"],
        "wind": factors["wind"],
        "solar": factors["solar"],
        "biomass": 230.0,
        "tidal": 17.0,
        "other": factors["world_average"],
    }
    mix = _json("canada_energy_mix.json")[province]
    shares = {k: v for k, v in mix.items() if k != "total"}
    expected = sum(per_source[k] * v for k, v in shares.items()) / sum(shares.values())
    region = lookup_region(key)
    assert region.name.lower() == province
    assert region.g_per_kwh == pytest.approx(expected, abs=0.051)


@needs_source
def test_cloud_regions_match_impact_csv():
    with (SOURCE / "impact.csv").open(encoding="utf-8-sig", newline="") as fh:
        records = list(csv.DictReader(fh))
    assert records
    for rec in records:
        region = lookup_region(f"{rec['provider']}:{rec['region']}")
        assert region.kind == "cloud"
        assert region.g_per_kwh == pytest.approx(float(rec["impact"]))


@needs_source
def test_world_average_constant_matches_data_and_table():
    assert WORLD_AVERAGE.g_per_kwh == _json("carbon_intensity_per_source.json")["world_average"]
    assert lookup_region("WORLD") == WORLD_AVERAGE
    assert "iea" in WORLD_AVERAGE.source.lower() and WORLD_AVERAGE.year == 2019


def test_labels_carry_source_and_year():
    fr = lookup_region("FR")
    assert fr.label == f"table:FR (OWID/Ember {fr.year})"
    assert lookup_region("US-CA").label == "table:US-CA (EPA eGRID)"


def test_table_is_compact_with_unique_keys_and_aliases():
    regions = all_regions()
    assert 250 <= len(regions) <= 600
    assert TABLE.stat().st_size < 64 * 1024
    names = [n.casefold() for r in regions for n in (r.key, *r.aliases)]
    assert len(names) == len(set(names))
    assert {r.kind for r in regions} == {"world", "country", "us-state", "ca-province", "cloud"}
    assert all(r.g_per_kwh >= 0 for r in regions)


@pytest.mark.parametrize(
    "bad, expected",
    [("Frnace", "FR"), ("californa", "US-CA"), ("gcp:europe-west11", "gcp:europe-west1")],
)
def test_unknown_region_suggests_close_matches(bad, expected):
    with pytest.raises(UnknownRegionError) as info:
        lookup_region(bad)
    err = info.value
    assert isinstance(err, ValueError)
    message = str(err)
    assert "\n" not in message
    assert repr(bad) in message
    assert "intensity=" in message and "gCO2e/kWh" in message
    assert any(s.split(" ")[0] == expected for s in err.suggestions)
    assert 1 <= len(err.suggestions) <= 5


@pytest.mark.parametrize("bad", ["zzzzqqq", "", None, 42])
def test_unknown_region_without_matches(bad):
    with pytest.raises(UnknownRegionError) as info:
        lookup_region(bad)
    assert info.value.suggestions == ()
    assert "intensity=" in str(info.value)


def test_import_is_lazy_and_needs_no_ipython():
    code = (
        "import sys, jupyter_carbon.intensity as i\n"
        "from jupyter_carbon.intensity import table\n"
        "assert table._table is None, 'table read at import'\n"
        "bad = [m for m in ('IPython', 'ipywidgets', 'matplotlib', 'pynvml') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "import threading; assert threading.active_count() == 1\n"
        "i.lookup_region('FR'); t = table._table; i.lookup_region('DE')\n"
        "assert table._table is t is not None\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr


def _load_build_script():
    spec = importlib.util.spec_from_file_location(
        "build_intensity_table", REPO / "tools" / "build_intensity_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_source
def test_build_script_reproduces_committed_csv(tmp_path):
    out = tmp_path / "intensity.csv"
    assert _load_build_script().main([str(SOURCE), "--output", str(out)]) == 0
    assert out.read_bytes() == TABLE.read_bytes()


def test_build_script_rejects_missing_source(tmp_path, capsys):
    assert _load_build_script().main([str(tmp_path), "--output", str(tmp_path / "x.csv")]) == 2
    assert "global_energy_mix.json" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_alpha3_mapping_spot_checks():
    mapping = _load_build_script().ALPHA3_TO_ALPHA2
    assert len(mapping) == 249
    assert len(set(mapping.values())) == 249
    for a3, a2 in {
        "FRA": "FR",
        "GBR": "GB",
        "DEU": "DE",
        "ZAF": "ZA",
        "KOR": "KR",
        "PRK": "KP",
        "COD": "CD",
        "CHE": "CH",
        "ESH": "EH",
        "SRB": "RS",
        "TLS": "TL",
        "USA": "US",
    }.items():
        assert mapping[a3] == a2
