"""Notebooks executed by nbclient in a real ipykernel: what the saved outputs hold."""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _make_demo():
    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "notebooks" / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_demo = _make_demo()


def carbon_outputs(nb):
    """(cell, output) for every display of jupyter_carbon (reports, auto-mode lines,
    the summary), not the running figures' last words (``jc-moved``: whether a cell shows
    running figures before it prints or returns something depends on its speed)."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            html = out.data.get("text/html", "") if out.output_type == "display_data" else ""
            if "jupyter-carbon" in html and "jc-moved" not in html:
                yield cell, out


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("demo")
    return make_demo.execute(make_demo.build(), cwd=cwd)


def test_demo_outputs_are_static_and_complete(demo):
    outputs = list(carbon_outputs(demo))
    assert not any(
        WIDGET_VIEW in out.data for c in demo.cells for out in c.get("outputs", []) if "data" in out
    )
    # 5 %%carbon cells, 2 auto-mode cells (not the %carbon off line), the summary
    assert len(outputs) == 8
    for _, out in outputs:
        assert set(out.data) == {"text/plain", "text/html"}
    full = [o for c, o in outputs if c.source.startswith("%%carbon")]
    compact = [o for c, o in outputs if not c.source.startswith(("%%carbon", "%carbon summary"))]
    assert len(full) == 5 and len(compact) == 2
    for out, label in zip(
        full, ("matrix products", "sleep", "predictions", "a failing cell", "a loop")
    ):
        html = out.data["text/html"]
        assert (
            label in html
            and "Wh" in html
            and "CO2e" in html
            and "jc-bar" in html
            and "how this was measured" in html
        )
        assert "estimated (cpu-model" in html or "measured (rapl" in html
        assert "TOTAL" in out.data["text/plain"] and "session " in out.data["text/plain"]
        assert "<img" not in html  # no matplotlib per cell
    assert "per item" in full[2].data["text/html"]
    assert "ERROR" in full[3].data["text/html"] and "ERROR" not in full[0].data["text/html"]
    assert (
        full[4].data["text/html"].count("predicted total:") == 1
    )  # the loop's prediction, refined in place, in the report
    for out in compact:
        assert "jc-compact" in out.data["text/html"] and out.data["text/plain"].startswith(
            "carbon: "
        )
        assert "\n" not in out.data["text/plain"] and "<img" not in out.data["text/html"]


def test_demo_summary(demo):
    (cell,) = [c for c in demo.cells if c.source == "%carbon summary"]
    (out,) = cell.outputs
    html = out.data["text/html"]
    assert "7 cells" in html and "matrix products" in html and "a failing cell" in html
    assert "region: FR" in html and "PUE 1" in html and "sampling interval 0.5 s" in html
    # cumulative, power timeline of the biggest cell, then up to 3 more in a <details>
    assert 2 <= html.count("data:image/png;base64,") <= 5
    png = base64.b64decode(html.split("data:image/png;base64,")[1].split('"')[0])
    assert png.startswith(PNG_MAGIC)
    assert out.data["text/plain"].startswith("jupyter_carbon session: 7 cells")


def test_demo_static_fallbacks(demo):
    for cell, out in carbon_outputs(demo):
        assert out.data["text/plain"].startswith(("carbon", "jupyter_carbon session"))
        html = out.data["text/html"]
        assert "jupyter-carbon" in html and "CO2e" in html
        if cell.source.startswith("%%carbon"):
            assert "TOTAL" in out.data["text/plain"] and "jc-components" in html
    error_cell = [c for c in demo.cells if "raises-exception" in c.metadata.get("tags", [])][0]
    # the traceback, then the report (written when the cell has ended: the last output)
    assert [o.output_type for o in error_cell.outputs][-2:] == ["error", "display_data"]


def test_saved_demo_is_current_and_has_outputs():
    nb = nbformat.read(ROOT / "notebooks" / "demo.ipynb", as_version=4)
    assert [c.source for c in nb.cells] == [source for _, source, _ in make_demo.CELLS], (
        "run notebooks/make_demo.py"
    )
    outputs = list(carbon_outputs(nb))
    assert len(outputs) == 8
    assert all(set(o.data) == {"text/html", "text/plain"} for _, o in outputs)
    assert (
        sum("data:image/png;base64," in o.data["text/html"] for _, o in outputs) == 1
    )  # the summary


CHECKS = [
    (
        "import sys, os, jupyter_carbon\n"
        f"assert jupyter_carbon.__file__.startswith({str(ROOT)!r}), jupyter_carbon.__file__\n"
        "%load_ext jupyter_carbon\n"
        "pyplot_loaded = 'matplotlib.pyplot' in sys.modules"
    ),
    "%%carbon --label first\nsum(range(100_000))",
    "assert ('matplotlib.pyplot' in sys.modules) == pyplot_loaded, 'the display imported pyplot'",
    (
        "%config InlineBackend.close_figures = False  # keep the user's figure open across cells\n"
        "import matplotlib\nimport matplotlib.pyplot as plt\n"
        "backend = matplotlib.get_backend()\nfig = plt.figure()\nnums = plt.get_fignums()"
    ),
    "%%carbon --label second\nsum(range(100_000))",
    "jupyter_carbon.summary()",
    "assert matplotlib.get_backend() == backend and plt.get_fignums() == nums and plt.gcf() "
    "is fig, (backend, nums)\nplt.close(fig)",
]


def test_measured_cells_leave_matplotlib_alone(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CHECKS]
    make_demo.execute(nb, cwd=tmp_path, timeout_s=60)  # a failed assert raises CellExecutionError
    kinds = [
        [sorted(o.get("data", {})) for o in c.outputs if o.output_type == "display_data"]
        for c in nb.cells
    ]
    assert kinds[1] == kinds[4] == [["text/html", "text/plain"]]
    assert kinds[5] == kinds[1]  # the summary
