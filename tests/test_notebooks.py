"""Notebooks executed by nbclient in a real ipykernel: widget state and static fallbacks."""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _make_demo():
    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "notebooks" / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_demo = _make_demo()


def widget_state(nb) -> dict:
    return nb.metadata["widgets"][WIDGET_STATE]["state"]


def carbon_outputs(nb):
    """(cell, output) for every display of jupyter_carbon (widget bundles, and auto-mode lines)."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "display_data" and (WIDGET_VIEW in out.data or "jupyter-carbon" in out.data.get("text/html", "")):
                yield cell, out


def model_tree(state: dict, model_id: str) -> list[dict]:
    """A model and every model under it (children, via 'IPY_MODEL_' references)."""
    seen, todo, out = set(), [model_id], []
    while todo:
        mid = todo.pop()
        if mid in seen or mid not in state:
            continue
        seen.add(mid)
        out.append(state[mid])
        refs = json.dumps(state[mid]["state"])
        todo += [part.split('"')[0] for part in refs.split("IPY_MODEL_")[1:]]
    return out


def texts(models: list[dict]) -> str:
    return "\n".join(str(m["state"].get("value", "")) for m in models if m["model_name"] == "HTMLModel")


def images(models: list[dict]) -> list[bytes]:
    out = []
    for m in models:
        if m["model_name"] == "ImageModel":
            for buffer in m.get("buffers", []):
                if buffer["path"] == ["value"]:
                    out.append(base64.b64decode(buffer["data"]))
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("demo")
    return make_demo.execute(make_demo.build(), cwd=cwd)


def test_demo_widget_state_holds_the_results(demo):
    state = widget_state(demo)
    outputs = list(carbon_outputs(demo))
    # 5 %%carbon cells, 3 auto-mode cells (two cells and %carbon off itself), the summary
    assert len(outputs) == 9
    full = [o for c, o in outputs if c.source.startswith("%%carbon")]
    compact = [o for c, o in outputs if not c.source.startswith(("%%carbon", "%carbon summary"))]
    assert len(full) == 5 and len(compact) == 3
    for out, label in zip(full, ("matrix products", "sleep", "predictions", "a failing cell", "a loop")):
        models = model_tree(state, out.data[WIDGET_VIEW]["model_id"])
        text = texts(models)
        assert label in text and "TOTAL" in text and "Wh" in text and "CO2e" in text
        assert "estimated (cpu-model" in text or "measured (rapl" in text
        assert "session so far" in text
        (png,) = images(models)
        assert png.startswith(PNG_MAGIC)
    assert "per item" in texts(model_tree(state, full[2].data[WIDGET_VIEW]["model_id"]))
    assert "ERROR" in texts(model_tree(state, full[3].data[WIDGET_VIEW]["model_id"]))
    assert "ERROR" not in texts(model_tree(state, full[0].data[WIDGET_VIEW]["model_id"]))
    (report,) = [m["state"]["value"] for m in model_tree(state, full[4].data[WIDGET_VIEW]["model_id"]) if "TOTAL" in str(m["state"].get("value", ""))]
    assert report.count("predicted total:") == 1  # the loop's prediction, refined in place, in the report
    for out in compact:  # auto-mode lines end as static HTML: no widget model kept per cell
        assert WIDGET_VIEW not in out.data
        assert "jc-compact" in out.data["text/html"] and "carbon: " in out.data["text/plain"]
        assert "data:image/png" not in out.data["text/html"]


def test_demo_summary_widget(demo):
    state = widget_state(demo)
    (cell,) = [c for c in demo.cells if c.source == "%carbon summary"]
    (out,) = cell.outputs
    models = model_tree(state, out.data[WIDGET_VIEW]["model_id"])
    text = texts(models)
    assert "8 cells" in text and "matrix products" in text and "a failing cell" in text
    assert "region FR" in text and "PUE 1" in text and "sampling interval 0.5 s" in text
    (dropdown,) = [m for m in models if m["model_name"] == "DropdownModel"]
    assert len(dropdown["state"]["_options_labels"]) == 8
    assert len(images(models)) == 3  # bar, cumulative, timeline
    assert out.data["text/html"].count("data:image/png;base64,") == 3
    assert out.data["text/plain"].startswith("jupyter_carbon session: 8 cells")


def test_demo_static_fallbacks(demo):
    for cell, out in carbon_outputs(demo):
        assert out.data["text/plain"].startswith(("carbon", "jupyter_carbon session"))
        html = out.data["text/html"]
        assert "jupyter-carbon" in html and "CO2e" in html
        if cell.source.startswith("%%carbon"):
            assert "data:image/png;base64," in html and "TOTAL" in html
    error_cell = [c for c in demo.cells if "raises-exception" in c.metadata.get("tags", [])][0]
    assert [o.output_type for o in error_cell.outputs][-1] == "error"


def test_saved_demo_is_current_and_has_outputs():
    nb = nbformat.read(ROOT / "notebooks" / "demo.ipynb", as_version=4)
    assert [c.source for c in nb.cells] == [source for _, source, _ in make_demo.CELLS], "run notebooks/make_demo.py"
    outputs = list(carbon_outputs(nb))
    assert len(outputs) == 9
    assert all("text/html" in o.data and "text/plain" in o.data for _, o in outputs)
    assert sum("data:image/png;base64," in o.data["text/html"] for _, o in outputs) == 6
    assert len(widget_state(nb)) > 50


CHECKS = [
    ("import sys, os, jupyter_carbon\n"
     f"assert jupyter_carbon.__file__.startswith({str(ROOT)!r}), jupyter_carbon.__file__\n"
     "%load_ext jupyter_carbon\n"
     "pyplot_loaded = 'matplotlib.pyplot' in sys.modules"),
    "%%carbon --label first\nsum(range(100_000))",
    "assert ('matplotlib.pyplot' in sys.modules) == pyplot_loaded, 'the display imported pyplot'",
    ("%config InlineBackend.close_figures = False  # keep the user's figure open across cells\n"
     "import matplotlib\nimport matplotlib.pyplot as plt\n"
     "backend = matplotlib.get_backend()\nfig = plt.figure()\nnums = plt.get_fignums()"),
    "%%carbon --label second\nsum(range(100_000))",
    "jupyter_carbon.summary()",
    "assert matplotlib.get_backend() == backend and plt.get_fignums() == nums and plt.gcf() is fig, (backend, nums)\nplt.close(fig)",
]


def test_measured_cells_leave_matplotlib_alone(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CHECKS]
    make_demo.execute(nb, cwd=tmp_path, timeout_s=60)  # a failed assert raises CellExecutionError
    kinds = [[sorted(o.get("data", {})) for o in c.outputs if o.output_type == "display_data"] for c in nb.cells]
    assert kinds[1] == kinds[4] == [["application/vnd.jupyter.widget-view+json", "text/html", "text/plain"]]
    assert kinds[5] == kinds[1]  # the summary
