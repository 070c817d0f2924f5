"""Publishing formats: the model card's YAML block, the methods paragraph, SCI; their CLI and
magic forms; bad input as one line."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from storage_helpers import ROOT, make_record

from jupyter_carbon.cli import main
from jupyter_carbon.energy import Co2e
from jupyter_carbon.formats.embodied import embodied_rows, lookup_embodied, match_machine
from jupyter_carbon.formats.figures import figures_of
from jupyter_carbon.formats.model_card import co2_eq_emissions, model_card_yaml
from jupyter_carbon.formats.options import PublishError, PublishOptions, parse_publish_args
from jupyter_carbon.formats.publish import render
from jupyter_carbon.formats.sci import S_PER_YEAR, Embodied, resolve_embodied, sci_of
from jupyter_carbon.storage.export import export_records
from jupyter_carbon.totals import totals_of
from jupyter_carbon.units import J_PER_KWH

yaml = pytest.importorskip("yaml")


def _records():
    return [make_record(i) for i in (1, 2, 3)]  # labels "cell 1", None, "cell 3"; disjoint windows


def _session_records(clock):
    from fakes import constant_session

    session = constant_session(clock, cpu=20.0, gpu=150.0, ram=3.0, region="FR", log_dir=None)
    for label, seconds in (("train", 30.0), ("eval", 10.0), ("train", 20.0)):
        m = session.open(label, kind="script")
        clock.advance(seconds)
        session.sampler.tick()
        session.stop(m)
    return session


@pytest.mark.parametrize("use_hub", [False, True])
def test_model_card_block_parses_and_equals_the_session_totals(clock, use_hub) -> None:
    if use_hub:
        pytest.importorskip("huggingface_hub")
    session = _session_records(clock)
    figures = figures_of(session.records)
    block = yaml.safe_load(model_card_yaml(figures, training_type="fine-tuning", use_hub=use_hub))[
        "co2_eq_emissions"
    ]
    assert block["emissions"] == pytest.approx(session.totals().co2e_g, rel=1e-5)  # grams
    assert block["emissions"] == pytest.approx(session.records[-1].totals.co2e_g, rel=1e-5)
    assert block["training_type"] == "fine-tuning"
    assert block["geographical_location"] == "France (FR)"
    assert (
        "jupyter_carbon 0.1.0" in block["source"] and "estimated" in block["source"]
    )  # constant power: not measured
    assert (
        block["hardware_used"].startswith("1 x CPU (user-set power)")
        and "gpu (user-set 150 W)" in block["hardware_used"]
    )
    train = yaml.safe_load(
        model_card_yaml(figures_of(session.records, ["train"]), use_hub=use_hub)
    )["co2_eq_emissions"]
    expected = sum(r.co2e_g for r in session.records if r.label == "train")
    assert train["emissions"] == pytest.approx(expected, rel=1e-5) and "training_type" not in train


def test_plain_yaml_and_hub_yaml_hold_the_same_numbers() -> None:
    pytest.importorskip("huggingface_hub")
    figures = figures_of(_records())
    plain = yaml.safe_load(model_card_yaml(figures, use_hub=False))
    hub = yaml.safe_load(model_card_yaml(figures, use_hub=True))
    assert plain == hub == {"co2_eq_emissions": co2_eq_emissions(figures)}


def test_tiny_emissions_stay_numbers_in_yaml() -> None:
    figures = figures_of([make_record(1)])
    block = co2_eq_emissions(figures)
    figures = dataclasses.replace(
        figures, totals=dataclasses.replace(figures.totals, co2e=Co2e(1e-05, 1e-05, 1e-05))
    )
    assert (
        yaml.safe_load(model_card_yaml(figures, use_hub=False))["co2_eq_emissions"]["emissions"]
        == 1e-05
    )
    assert block["hardware_used"] == "1 x CPU package, 1 x NVIDIA H100"


def test_labels_select_windows_and_bad_input_is_one_line() -> None:
    records = _records()
    assert [r.id for r in figures_of(records, ["cell 3"]).records] == [3]
    with pytest.raises(
        PublishError, match="unknown label 'nope'; labels in these records: cell 1, cell 3"
    ):
        figures_of(records, ["nope"])
    with pytest.raises(PublishError, match="no records"):
        figures_of([], [])
    with pytest.raises(PublishError, match="unknown format 'card'"):
        render(records, PublishOptions("card"))
    with pytest.raises(PublishError, match="unknown methods format 'html'"):
        render(records, PublishOptions("methods", style="html"))
    with pytest.raises(PublishError, match="needs the functional units"):
        render(records[:1], PublishOptions("sci"))


def _number(text: str) -> float:
    return float(text.replace(",", ""))


J_PER = {"kWh": 3.6e6, "Wh": 3600.0, "mWh": 3.6}
G_PER = {"kg": 1000.0, "g": 1.0, "mg": 1e-3}


def test_methods_paragraph_numbers_are_the_records() -> None:
    records = _records()
    totals = totals_of(records)
    text = render(records, PublishOptions("methods", items=1000, embodied="none"))
    energy = re.search(
        r"They used ([\d.,]+) (\w+) of electricity \(uncertainty band ([\d.,]+)–([\d.,]+) (\w+); "
        r"measured \(cpu, gpu\) and estimated \(ram\)\)",
        text,
    )
    assert energy and energy[2] == energy[5] == "mWh"  # one unit for every energy of the paragraph
    for got, want in zip(energy.group(1, 3, 4), (totals.energy_j, totals.low_j, totals.high_j)):
        assert _number(got) * J_PER[energy[2]] == pytest.approx(want, rel=5e-3)
    co2e = re.search(r"this is ([\d.,]+) (\w+) CO2e \(band ([\d.,]+)–([\d.,]+) (\w+) CO2e\)", text)
    assert co2e and co2e[2] == co2e[5]
    for got, want in zip(
        co2e.group(1, 3, 4), (totals.co2e_g, totals.co2e_low_g, totals.co2e_high_g)
    ):
        assert _number(got) * G_PER[co2e[2]] == pytest.approx(want, rel=5e-3)
    gpu = re.search(r"GPU ([\d.,]+) mWh, read from the GPU's NVML energy counter", text)
    assert gpu and _number(gpu[1]) * 3.6 == pytest.approx(3 * 720.0, rel=5e-3)
    assert "RAM 3 mWh, estimated from the memory in use" in text
    assert "56 gCO2e/kWh (FR (OWID/Ember 2023) [2])" in text and "a PUE of 1.2" in text
    assert (
        "Region: France." in text
        and "machine scope" in text
        and "Hardware: 1 x CPU package, 1 x NVIDIA H100." in text
    )
    assert (
        "| Per 1,000 items | Energy (Wh) | GPU energy only (Wh) |" in text
    )  # one unit for the table
    row = re.search(r"\| This work: all components \(.*?\) \| ([\d.,]+) \| ([\d.,]+) \|", text)
    assert row and _number(row[1]) == pytest.approx(
        totals.energy_j / 3600, rel=5e-3
    )  # 1,000 items: per 1,000 = all
    assert _number(row[2]) == pytest.approx(3 * 720.0 / 3600, rel=5e-3)  # the GPU-only column
    assert (
        "| Power Hungry Processing, text-classification mean, 8x A100, "
        "whole node [3] | 2 | not available |" in text
    )
    assert (
        "| AI Energy Score, text-classification, 8 models, 1x H100, "
        "GPU only [4] | not available | 0.216–0.918 |" in text
    )
    assert "M not included" in text and "References:" in text and "arxiv.org/abs/2311.16863" in text


def test_methods_numbers_are_never_in_exponent_form() -> None:
    """The per-1,000-items table keeps one unit per column (the largest figure's): a tiny
    measured figure beside the published ones is a plain decimal, by the rule of every figure
    (units.significant), not "6.67e-05"."""
    records = _records()
    text = render(records, PublishOptions("methods", items=10_000_000, embodied="none"))
    assert re.search(r"\de[+-]\d\d", text) is None, text  # "6.67e-05", "1e+03"
    row = re.search(r"\| This work: all components \(.*?\) \| ([\d.,]+) \|", text)
    assert row and _number(row[1]) == pytest.approx(
        totals_of(records).energy_j / 10_000 / 3600, rel=5e-3
    )


def test_methods_latex_is_escaped() -> None:
    text = render(_records(), PublishOptions("methods", style="latex", items=2000))
    assert (
        "jupyter\\_carbon" in text
        and "CO\\textsubscript{2}e" in text
        and "\\begin{tabular}{lrr}" in text
    )
    assert "--" in text and "–" not in text and "\\paragraph{References}" in text
    prose = (
        text.split("\\begin{tabular}")[0] + text.split("\\end{tabular}")[1]
    )  # the table's & are columns
    assert not re.search(r"(?<!\\)[_%&#×]", prose), "unescaped LaTeX specials"
    assert "SCI " in prose and "$\\times$" in prose


def test_sci_with_and_without_an_embodied_row(tmp_path: Path) -> None:
    records = _records()
    figures = figures_of(records)
    totals = totals_of(records)
    plain = sci_of(figures, 1000, None, "no figure")
    assert plain.embodied_g is None and plain.sci_g_per_item == pytest.approx(totals.co2e_g / 1000)
    assert (
        plain.energy_kwh == pytest.approx(totals.energy_j / J_PER_KWH)
        and plain.intensity_g_per_kwh == 56.0
    )
    assert "M not included (no figure)" in plain.line() and "× PUE 1.2" in plain.line()
    row = lookup_embodied("dell-poweredge-r740")
    assert row.embodied_kg == pytest.approx(8640 * (1 - 0.843), abs=0.05) and row.year == 2019
    assert (
        row.source_url.endswith("carbon-footprint-poweredge-r740.pdf") and row.licence == "ODbL-1.0"
    )
    embodied, why = resolve_embodied("dell-poweredge-r740")
    sci = sci_of(figures, 1000, embodied, why)
    m_g = row.embodied_kg * 1000 * totals.duration_s / (4 * S_PER_YEAR)
    assert sci.embodied_g == pytest.approx(m_g) and sci.sci_g_per_item == pytest.approx(
        (totals.co2e_g + m_g) / 1000
    )
    assert sci_of(figures, 1000, embodied, lifetime_years=2).embodied_g == pytest.approx(2 * m_g)
    assert (
        "Dell PowerEdge R740" in sci.line()
        and "ODbL-1.0" in sci.line()
        and "M not included" not in sci.line()
    )
    user = sci_of(figures, 10, Embodied("the machine (user-set)", 1000.0, "set by the user"))
    assert user.embodied_g == pytest.approx(1000e3 * totals.duration_s / (4 * S_PER_YEAR))
    dmi = tmp_path / "dmi"
    dmi.mkdir()
    (dmi / "sys_vendor").write_text("Dell Inc.\n")
    (dmi / "product_name").write_text("PowerEdge R740\n")
    assert resolve_embodied("auto", dmi_root=str(dmi))[0] == Embodied(
        row.label, row.embodied_kg, row.citation
    )
    assert resolve_embodied("auto", dmi_root=str(dmi), this_machine=False)[0] is None
    (dmi / "product_name").write_text("XPS 13 9310\n")  # a laptop of the table
    assert resolve_embodied("auto", dmi_root=str(dmi))[0].label == "Dell XPS 13 9310"
    (dmi / "product_name").write_text("Frobnicator 9000\n")
    none, why = resolve_embodied("auto", dmi_root=str(dmi))
    assert none is None and "no embodied figure fits Dell Inc. Frobnicator 9000" in why
    with pytest.raises(PublishError, match="did you mean dell-poweredge-r740"):
        resolve_embodied("dell-poweredge-r74")


def test_embodied_table_is_sourced_and_matches_only_by_maker_and_model() -> None:
    rows = embodied_rows()
    assert len(rows) > 500 and len({r.key for r in rows}) == len(rows)
    assert all(
        r.embodied_kg > 0 and r.source_url.startswith("http") and r.licence == "ODbL-1.0"
        for r in rows
    )
    assert match_machine("Dell Inc.", "PowerEdge R740XD").key == "dell-poweredge-r740xd"
    assert match_machine("Dell Inc.", "PowerEdge R740").key == "dell-poweredge-r740"
    assert match_machine("Dell Inc.", "PowerEdge R999") is None
    assert match_machine("QEMU", "Standard PC (i440FX + PIIX, 1996)") is None


def test_publish_options_parse() -> None:
    options = parse_publish_args(
        ["methods", "latex", "--label", "a", "-l", "b c", "--items=1,000", "--lifetime-years", "5"]
    )
    assert (options.kind, options.style, options.labels, options.items, options.lifetime_years) == (
        "methods",
        "latex",
        ("a", "b c"),
        1000,
        5.0,
    )
    for args, message in ((["methods", "pdf"], "unknown methods format"),
                          (["sci", "--items", "0"], "must be positive"),
                          (["sci", "--frob"], "unknown option"),
                          (["model-card", "--label"], "needs a value"),
                          (["modelcard"], "unknown format")):  # fmt: skip
        with pytest.raises(PublishError, match=message):
            parse_publish_args(args)


def _one_line_error(capsys, argv: list[str], text: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and text in err and err.startswith("jupyter-carbon: error:")


def test_cli_model_card_methods_and_sci(tmp_path: Path, capsys) -> None:
    records = _records()
    export_records(records, tmp_path / "a.json")
    export_records([make_record(5)], tmp_path / "b.json")
    assert (
        main(
            [
                "report",
                str(tmp_path / "a.json"),
                str(tmp_path / "b.json"),
                "--model-card",
                "--label",
                "cell 1",
                "--label",
                "cell 5",
            ]
        )
        == 0
    )
    block = yaml.safe_load(capsys.readouterr().out)["co2_eq_emissions"]
    assert block["emissions"] == pytest.approx(records[0].co2e_g + make_record(5).co2e_g, rel=1e-5)
    assert main(["report", str(tmp_path / "a.json"), "--methods", "latex", "--items", "1000"]) == 0
    assert "\\begin{tabular}" in capsys.readouterr().out
    assert (
        main(["report", str(tmp_path / "a.json"), "--sci", "--items", "1000", "--embodied", "1200"])
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("SCI ") and "1,200.0 kg CO2e" in out and "set by the user" in out
    assert (
        main(["report", str(tmp_path / "a.json"), "--sci", "--items", "1000"]) == 0
    )  # an export names no host
    assert "M not included (the records come from another machine" in capsys.readouterr().out
    _one_line_error(
        capsys,
        ["report", str(tmp_path / "a.json"), "--model-card", "--label", "nope"],
        "unknown label 'nope'",
    )
    _one_line_error(
        capsys,
        ["report", str(tmp_path / "a.json"), "--methods", "html"],
        "unknown methods format 'html'",
    )
    _one_line_error(
        capsys, ["report", str(tmp_path / "a.json"), "--sci"], "needs the functional units"
    )
    _one_line_error(
        capsys,
        ["report", str(tmp_path / "a.json"), "--sci", "--items", "5", "--embodied", "no such"],
        "embodied=",
    )
    _one_line_error(
        capsys, ["report", str(tmp_path / "a.json"), "--label", "x"], "go with --model-card"
    )
    export_records([], tmp_path / "empty.json")
    _one_line_error(capsys, ["report", str(tmp_path / "empty.json"), "--model-card"], "no records")


def test_magic_exports_and_usage_errors(shell, capsys) -> None:
    shell.run_cell("%%carbon --label train --items 100\nsum(range(1000))")
    capsys.readouterr()
    shell.run_line_magic("carbon", "export model-card --label train --training-type fine-tuning")
    block = yaml.safe_load(capsys.readouterr().out)["co2_eq_emissions"]
    import jupyter_carbon

    record = jupyter_carbon.session().records[-1]
    assert (
        block["emissions"] == pytest.approx(record.co2e_g, rel=1e-5)
        and block["training_type"] == "fine-tuning"
    )
    shell.run_line_magic("carbon", "export methods")
    out = capsys.readouterr().out
    assert (
        "We measured the energy of 1 measured window," in out and "| Per 1,000 items |" in out
    )  # items from the cell
    shell.run_line_magic("carbon", "export sci")
    assert capsys.readouterr().out.startswith("SCI ")
    for line, message in (("export model-card --label nope", "unknown label 'nope'"),
                          ("export methods html", "unknown methods format"),
                          ("export frob", "use a path ending in .csv or .json"),
                          ("config embodied=a/b", "embodied='a/b' is not valid"),
                          ("config mlflow=on", "choose one of: auto, off")):  # fmt: skip
        with pytest.raises(UsageError, match=re.escape(message)):
            shell.run_line_magic("carbon", line)
    shell.run_line_magic("carbon", "config mlflow=off wandb=off lifetime_years=5 embodied=none")
    assert jupyter_carbon.session().config.lifetime_years == 5.0


def test_nothing_of_the_trackers_or_formats_imported_when_unused() -> None:
    code = (
        "import sys, jupyter_carbon\n"
        "with jupyter_carbon.track('x'):\n    pass\n"
        "bad = {'mlflow', 'wandb', 'yaml', 'huggingface_hub', "
        "'jupyter_carbon.formats.publish'} & set(sys.modules)\n"
        "assert not bad, bad\n"
        "assert any(type(cb).__name__ == 'MlflowTracker' for cb in "
        "jupyter_carbon.session().on_record)\n"
    )
    env = {"PYTHONPATH": str(ROOT), "JUPYTER_CARBON_LOG_DIR": "none", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
