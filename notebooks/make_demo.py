"""Build and execute ``notebooks/demo.ipynb`` (saved with its outputs: static HTML and text, no widgets).

    PYTHONPATH=. python notebooks/make_demo.py [OUTPUT.ipynb]

The kernel imports ``jupyter_carbon`` from this checkout (PYTHONPATH is passed on). Keep the
whole notebook under ~20 s: tests execute it too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
CELLS: list[tuple[str, str, list[str]]] = [
    ("markdown", "# jupyter_carbon: a tour\n\nWhat a notebook cell costs in energy and CO2e, shown under the cell while it runs, and the whole session at a glance. "
     "Figures from RAPL/NVML counters are *measured*; without them a CPU/RAM power model gives an *estimate* with an uncertainty band — every figure says which.", []),
    ("code", "%load_ext jupyter_carbon\n%carbon config region=FR interval=0.5", []),
    ("markdown", "## One measured cell\n`%%carbon` measures the cell it heads. Once it has run a moment, a line shows the elapsed time, power per component and the energy and CO2e so far; when it ends, the report takes its place (or, when the cell printed or returned something below that line, comes after it): energy and CO2e per component, a comparison you can picture when there is one, the recent cells as small bars (this one outlined), and how it was measured one click away.", []),
    ("code", "%%carbon --label \"matrix products\"\nimport numpy as np\n\nrng = np.random.default_rng(0)\na = rng.random((600, 600))\nfor _ in range(12):\n    a = a @ a\n    a /= np.abs(a).max()\nfloat(a.sum())", []),
    ("markdown", "## Waiting costs energy too\nAn idle cell still draws the machine's idle power.", []),
    ("code", "%%carbon --label sleep\nimport time\n\ntime.sleep(1.0)", []),
    ("markdown", "## Per item\n`--items N` adds per-item and per-1,000-item figures and compares them with the *Power Hungry Processing* reference (`--task` picks the task). Here a numpy stand-in for 1,000 small predictions.", []),
    ("code", "%%carbon --label predictions --items 1000 --task text-classification\nweights = rng.normal(size=(1024, 256))\nbatch = rng.normal(size=(1000, 1024))\npredictions = [int(np.argmax(np.tanh(x @ weights))) for x in batch]\nlen(predictions)", []),
    ("markdown", "## A failing cell\nThe measurement is kept and marked `ERROR`.", []),
    ("code", "%%carbon --label \"a failing cell\"\nsum(i * i for i in range(300_000))\nraise ValueError(\"something went wrong in the cell\")", ["raises-exception"]),
    ("markdown", "## Predict a long loop\n`jupyter_carbon.track_iter` wraps a loop's iterable (like tqdm) and, after the first iterations, predicts the whole loop's energy, CO2e and time left, with a range that narrows as it goes; the prediction and the actual are kept with the record (`record.extra[\"loop\"]`).", []),
    ("code", "%%carbon --label \"a loop\"\nimport jupyter_carbon\n\nfor step in jupyter_carbon.track_iter(range(30)):\n    time.sleep(0.03)\n    b = a @ a", []),
    ("markdown", "## Every cell: auto mode\n`%carbon on` measures every cell and adds one quiet line under it (running figures only for cells that take over a second; hover for the detail), `%carbon off` stops. Cells that are only a `%carbon` command are not measured.", []),
    ("code", "%carbon on", []),
    ("code", "total = 0\nfor i in range(6_000_000):\n    total += i % 7\ntotal", []),
    ("code", "squares = np.square(rng.random(2_000_000)).sum()\nsquares", []),
    ("code", "%carbon off", []),
    ("markdown", "## The session\n`%carbon summary` (or `jupyter_carbon.summary()`): totals, the per-cell table, emissions per cell and cumulated, the power timeline of a chosen cell, and the assumptions.", []),
    ("code", "%carbon summary", []),
]


def build() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, source, tags in CELLS:
        cell = nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout_s: int = 120) -> nbformat.NotebookNode:
    root = str(HERE.parent)
    os.environ["PYTHONPATH"] = os.pathsep.join([root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != root])
    client = NotebookClient(nb, timeout=timeout_s, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}, store_widget_state=True)
    client.execute()
    return nb


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else HERE / "demo.ipynb"
    nb = execute(build(), cwd=out.parent)
    nbformat.write(nb, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
