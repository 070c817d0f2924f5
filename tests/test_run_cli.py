"""`jupyter-carbon run` as a new user meets it (issue 26 item 5): real kernels, real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from storage_helpers import PYTHON, child_env

pytestmark = pytest.mark.slow

BUSY = "import time\nt = time.time()\nwhile time.time() - t < {s}:\n    pass"


def _notebook(folder: Path, *cells: str, kernel: str = "python3", name: str = "nb") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "jupyter_carbon", *args],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=cwd,
        timeout=180,
    )


def _clean(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert "Parent appears to have exited" not in done.stderr, done.stderr


def test_a_notebook_that_moves_its_log_is_not_a_silent_zero(tmp_path: Path) -> None:
    notebook = _notebook(tmp_path, "x = 1", "%carbon config log_dir=none", "y = 2", "z = 3")
    done = _cli("run", str(notebook), cwd=tmp_path)
    _clean(done)
    assert done.returncode == 1, done.stderr
    # the config cell itself is measured after log_dir changed: its record is not logged either
    assert "log_dir=none: 3 of 4 executed cell(s) have no record" in done.stderr, done.stderr
    assert "1 cell ·" in done.stdout
    elsewhere = tmp_path / "elsewhere"
    notebook = _notebook(tmp_path, f"%carbon config log_dir={elsewhere}", "y = 2", name="moved")
    done = _cli("run", str(notebook), cwd=tmp_path)
    _clean(done)
    assert done.returncode == 1 and f"in {elsewhere})" in done.stderr, done.stderr
    assert len(list(elsewhere.glob("session-*.jsonl"))) == 1
    # %carbon off, %carbon summary: cells left unmeasured on purpose are no reason to complain
    notebook = _notebook(tmp_path, "%carbon off", "x = 1", "%carbon summary", name="off")
    done = _cli("run", str(notebook), cwd=tmp_path)
    _clean(done)
    assert done.returncode == 0 and "note:" not in done.stderr, done.stderr


def test_a_timed_out_cell_is_measured_and_allow_errors_goes_on(tmp_path: Path) -> None:
    notebook = _notebook(tmp_path, "a = 1", BUSY.format(s=60), "print('after')")
    started = time.monotonic()
    done = _cli(
        "run",
        str(notebook),
        "--timeout",
        "2",
        "--allow-errors",
        "--json",
        str(tmp_path / "r.json"),
        cwd=tmp_path,
    )
    assert time.monotonic() - started < 60  # interrupted, not waited for
    _clean(done)
    assert done.returncode == 0, done.stderr
    records = json.loads((tmp_path / "r.json").read_text())["records"]
    assert [r["cell"] for r in records] == [1, 2, 3]
    timed_out = records[1]
    assert timed_out["status"] != "ok" and 1.5 < timed_out["duration_s"] < 30
    assert "cell [2]" in done.stdout and "3 cells" in done.stdout
    assert "CellTimeoutError" in done.stdout  # FAILED line
    code = nbformat.read(tmp_path / "nb.carbon.ipynb", as_version=4).cells
    assert "after" in "".join(o.get("text", "") for o in code[2].outputs)
    # progress: one plain line per cell when stderr is not a terminal, named as the table names
    assert "\r" not in done.stderr
    assert [line.split(":")[0] for line in done.stderr.splitlines() if "/3 cell" in line] == [
        "1/3 cell [1]",
        "2/3 cell [2]",
        "3/3 cell [3]",
    ]


def test_ctrl_c_keeps_what_was_measured(tmp_path: Path) -> None:
    notebook = _notebook(tmp_path, "a = 1", BUSY.format(s=120), "print('never')")
    process = subprocess.Popen(
        [PYTHON, "-m", "jupyter_carbon", "run", str(notebook), "--json", str(tmp_path / "r.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=tmp_path,
    )
    assert process.stderr is not None
    seen = []
    for line in process.stderr:  # wait until the first cell is done and the second runs
        seen.append(line)
        if line.startswith("1/3 cell [1]"):
            break
    time.sleep(2.0)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    err = "".join(seen) + err
    assert process.returncode == 130, err
    assert "Traceback" not in err and "Parent appears to have exited" not in err, err
    records = json.loads((tmp_path / "r.json").read_text())["records"]
    assert [r["cell"] for r in records] == [1, 2] and records[1]["duration_s"] > 1.0
    assert "2 cells" in out and "interrupted" in out
    code = nbformat.read(tmp_path / "nb.carbon.ipynb", as_version=4).cells
    assert code[0].execution_count == 1 and code[2].execution_count is None
    kept = [line for line in err.splitlines() if "session log is kept in" in line]
    assert kept, err
    folder = Path(kept[0].rsplit(" ", 1)[1])
    assert list(folder.glob("session-*.jsonl"))


def test_run_notebook_shuts_its_kernels_down(tmp_path: Path) -> None:
    """Called repeatedly from Python, run_notebook leaves no live kernel behind."""
    from jupyter_carbon.runner import run_notebook

    notebook = _notebook(tmp_path, "import os\nos.getpid()")
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = child_env()["PYTHONPATH"]
    try:
        for _ in range(2):
            result = run_notebook(notebook, progress=None)
            assert len(result.records) == 1 and not result.failures
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved
    deadline = time.monotonic() + 10
    while True:
        kernels = [
            p
            for p in psutil.Process().children(recursive=True)
            if "ipykernel" in " ".join(p.cmdline())
        ]
        if not kernels or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not kernels, [p.cmdline() for p in kernels]


def test_a_kernel_not_installed_suggests_kernel_option(tmp_path: Path) -> None:
    notebook = _notebook(tmp_path, "1 + 1", kernel="conda-root-py")
    done = _cli("run", str(notebook), cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "'conda-root-py'" in done.stderr and "--kernel" in done.stderr
    done = _cli("run", str(notebook), "--kernel", "python3", cwd=tmp_path)
    _clean(done)
    assert done.returncode == 0 and "1 cell ·" in done.stdout, done.stderr
    done = _cli("run", str(notebook), "--kernel", "nope", cwd=tmp_path)
    assert done.returncode == 2 and "'nope'" in done.stderr and "--kernel" in done.stderr
