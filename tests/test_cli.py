"""The jupyter-carbon command: run (real kernel via nbclient), report, status, bad input."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import nbformat
import pytest
from storage_helpers import PYTHON, ROOT, child_env, make_record

from jupyter_carbon.cli import main
from jupyter_carbon.rows import CODECARBON_COLUMNS
from jupyter_carbon.storage.export import export_records
from jupyter_carbon.storage.log import SessionLog

pytestmark = pytest.mark.slow

CELLS = [
    ("markdown", "# a small notebook"),
    (
        "code",
        "import jupyter_carbon, os\nprint(jupyter_carbon.__file__)\n"
        "print(os.environ['JUPYTER_CARBON_REGION'])",
    ),
    ("code", "%load_ext jupyter_carbon"),
    ("code", "%%carbon --label squares\nsquares = [i * i for i in range(100_000)]\nlen(squares)"),
    ("code", "1 / 0"),
    ("code", "print('after the failure')"),
]


def _notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell(s) if kind == "markdown" else nbformat.v4.new_code_cell(s)
        for kind, s in CELLS
    ]
    path = folder / "small.ipynb"
    nbformat.write(nb, path)
    return path


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "jupyter_carbon", *args],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=cwd,
        timeout=180,
    )


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    folder = tmp_path_factory.mktemp("run")
    notebook = _notebook(folder)
    done = _cli(
        "run",
        str(notebook),
        "--region",
        "FR",
        "--allow-errors",
        "--html",
        str(folder / "r.html"),
        "--csv",
        str(folder / "r.csv"),
        "--json",
        str(folder / "r.json"),
    )
    return folder, done


def test_run_measures_every_cell_once_and_writes_everything(ran) -> None:
    folder, done = ran
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    nb = nbformat.read(folder / "small.carbon.ipynb", as_version=4)
    assert [c.cell_type for c in nb.cells] == [k for k, _ in CELLS]  # no cell added
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == [1, 2, 3, 4, 5]
    first_out = "".join(o.get("text", "") for o in code[0].outputs)
    assert (
        str(ROOT) in first_out and "FR" in first_out
    )  # the kernel imported this worktree, got the region
    assert not any("already loaded" in o.get("text", "") for o in code[1].outputs)
    assert any(o.output_type == "error" for o in code[3].outputs)
    assert "after the failure" in "".join(o.get("text", "") for o in code[4].outputs)
    with open(folder / "r.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5  # one per code cell: %%carbon in auto mode is measured once
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "error", "ok"]
    assert rows[2]["label"] == "squares" and rows[0]["country_iso_code"] == "FRA"
    assert list(rows[0])[: len(CODECARBON_COLUMNS)] == list(CODECARBON_COLUMNS)
    assert len(json.loads((folder / "r.json").read_text())["records"]) == 5
    page = (folder / "r.html").read_text(encoding="utf-8")
    assert (
        page.count("data:image/png;base64,") == 2
        and "Assumptions" in page
        and "ZeroDivisionError" in page
    )
    assert "squares" in done.stdout and "jupyter_carbon session: 5 cells" in done.stdout
    assert "FAILED cell 5" in done.stdout
    assert "5/5" in done.stderr  # the progress bar


def test_run_stops_at_a_failing_cell_without_allow_errors(tmp_path: Path) -> None:
    notebook = _notebook(tmp_path)
    done = _cli("run", str(notebook), "-o", str(tmp_path / "out.ipynb"))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "stopped at the first failing cell" in done.stdout
    code = [
        c
        for c in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells
        if c.cell_type == "code"
    ]
    assert code[-1].execution_count is None  # the cell after the failure did not run


def _one_line_error(capsys, argv: list[str], expected: str) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and expected in captured.err, captured.err
    assert captured.err.startswith("jupyter-carbon: error: ")


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    notebook = _notebook(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.ipynb").write_text("{not json")
    (tmp_path / "blocker").write_text("x")
    _one_line_error(capsys, ["run", str(tmp_path / "missing.ipynb")], "not found")
    _one_line_error(capsys, ["run", str(tmp_path / "notes.txt")], "is not a notebook")
    _one_line_error(capsys, ["run", str(tmp_path / "broken.ipynb")], "is not a readable notebook")
    _one_line_error(capsys, ["run", str(notebook), "--region", "Atlantis"], "Atlantis")
    _one_line_error(
        capsys,
        ["run", str(notebook), "-o", str(tmp_path / "blocker" / "out.ipynb")],
        "is a file, not a folder",
    )
    _one_line_error(
        capsys,
        ["run", str(notebook), "--html", str(tmp_path / "nowhere" / "r.html")],
        "does not exist",
    )
    _one_line_error(
        capsys, ["run", str(notebook), "--csv", str(tmp_path / "r.txt")], "unknown file type"
    )
    _one_line_error(capsys, ["run", str(notebook), "--timeout", "-3"], "positive number")
    _one_line_error(capsys, ["run"], "required")
    _one_line_error(capsys, ["frobnicate"], "invalid choice")
    _one_line_error(capsys, ["report", str(tmp_path / "nothing")], "not found")
    _one_line_error(capsys, ["report", str(tmp_path)], "no session logs")
    _one_line_error(capsys, ["report", str(tmp_path / "notes.txt")], "is not a session log")


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    done = _cli("run", str(tmp_path / "missing.ipynb"))
    assert (
        done.returncode == 2
        and done.stderr.strip().count("\n") == 0
        and "Traceback" not in done.stderr
    )
    assert done.stderr.startswith("jupyter-carbon: error:")


def test_report_summarises_logs_and_exports(tmp_path: Path, capsys) -> None:
    logs = tmp_path / "logs"
    for ids in ((1, 2), (3,)):
        log = SessionLog(logs)
        for i in ids:
            log.append(make_record(i))
    with open(log.path, "ab") as handle:
        handle.write(b'{"type": "record", "id"')  # torn last line
    assert main(["report", str(logs), "--csv", str(tmp_path / "all.csv")]) == 0
    captured = capsys.readouterr()
    assert "2 sessions" in captured.out and "jupyter_carbon session: 3 cells" in captured.out
    assert "torn last line" in captured.err
    assert len(list(csv.DictReader(open(tmp_path / "all.csv", newline="")))) == 3
    assert main(["report", str(log.path), "--html", str(tmp_path / "one.html")]) == 0
    assert "1 cell ·" in capsys.readouterr().out and (tmp_path / "one.html").stat().st_size > 1000
    export_records([make_record(7)], tmp_path / "x.json")
    assert main(["report", str(tmp_path / "x.json")]) == 0
    assert "1 cell ·" in capsys.readouterr().out


def test_report_counts_one_session_and_one_record_in_the_singular(tmp_path: Path, capsys) -> None:
    SessionLog(tmp_path / "one").append(make_record(1))
    assert main(["report", str(tmp_path / "one"), "--json", str(tmp_path / "one.json")]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"1 session in {tmp_path / 'one'}")
    assert f"wrote 1 record to {tmp_path / 'one.json'}" in captured.err


def test_status_lists_sources(capsys) -> None:
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert (
        out.startswith("jupyter_carbon status") and "sources in use:" in out and "intensity:" in out
    )


def test_run_on_the_demo_notebook_end_to_end(tmp_path: Path) -> None:
    """README's main job: the demo notebook, every cell measured once, all outputs written."""
    demo = tmp_path / "demo.ipynb"
    demo.write_bytes((ROOT / "notebooks" / "demo.ipynb").read_bytes())
    done = _cli(
        "run",
        str(demo),
        "-o",
        str(tmp_path / "out.ipynb"),
        "--csv",
        str(tmp_path / "out.csv"),
        "--html",
        str(tmp_path / "out.html"),
    )
    assert done.returncode == 0, done.stderr  # the failing cell is tagged raises-exception
    assert "Traceback" not in done.stderr
    # a cell that is only a %carbon line (summary, status, off…) is not measured
    code_cells = [
        c
        for c in nbformat.read(demo, as_version=4).cells
        if c.cell_type == "code"
        and not (c.source.strip().startswith("%carbon") and "\n" not in c.source.strip())
    ]
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # every code cell after %load_ext is measured once (the load cell itself runs before auto
    # mode… or inside it: either way no cell is counted twice)
    assert len(code_cells) - 1 <= len(rows) <= len(code_cells)
    labels = [r["label"] for r in rows]
    for label in ("matrix products", "sleep", "predictions", "a failing cell", "a loop"):
        assert labels.count(label) == 1
    assert [r["status"] for r in rows if r["label"] == "a failing cell"] == ["error"]
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert len(executed.cells) == len(nbformat.read(demo, as_version=4).cells)  # no cell added
    assert "data:image/png;base64," in (tmp_path / "out.html").read_text(encoding="utf-8")
    assert "jupyter_carbon session:" in done.stdout
