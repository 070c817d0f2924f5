"""A saved notebook shows its reports wherever it is opened, whatever widget state was saved.

``jupyter nbconvert --execute --to html`` stores widget state by default, and its HTML then
prefers a widget's view, whose renderer comes from a CDN. The notebook here also displays a real
ipywidgets slider, so that widget state *is* saved; it is converted with and without that state,
and the HTML is opened in Debian's chromium with the network blocked: the ``%%carbon`` report,
the auto-mode line, the summary's totals and its plots must be visible in both.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from browser_helpers import CHROMIUM, notebook_json, skip_without_a_browser
from storage_helpers import child_env

pytestmark = pytest.mark.slow

skip_without_a_browser()
pytest.importorskip("ipywidgets", reason="the notebook saves the state of a real widget")

CELLS = [
    "%load_ext jupyter_carbon",
    "import ipywidgets\nipywidgets.IntSlider(3)  # a real widget: its state is saved",
    "%%carbon --label exported\nsum(i * i for i in range(10**5))",
    "%carbon on",
    "y = 2",
    "%carbon off",
    "%carbon summary",
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> Path:
    """The notebook executed and saved by nbconvert, with widget state (its default)."""
    folder = tmp_path_factory.mktemp("export")
    (folder / "nb.ipynb").write_text(notebook_json(CELLS))
    env = child_env(JUPYTER_CARBON_LOG_DIR=str(folder / "logs"))
    done = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--execute", "--to", "notebook",
         "--output", "saved.ipynb", str(folder / "nb.ipynb")],
        capture_output=True, text=True, env=env, cwd=folder, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return folder / "saved.ipynb"


def test_saved_outputs_are_static_html(executed):
    nb = json.loads(executed.read_text())
    assert nb["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"], (
        "the slider's state was saved"
    )
    outputs = [
        o
        for c in nb["cells"]
        for o in c["outputs"]
        if "jupyter-carbon" in str(o.get("data", {}).get("text/html", ""))
    ]
    assert len(outputs) == 3  # report, one auto line, summary
    for out in outputs:
        assert set(out["data"]) == {
            "text/plain",
            "text/html",
        }  # no widget view to prefer over the HTML


@pytest.mark.parametrize(
    "widget_state", [True, False], ids=["with-widget-state", "without-widget-state"]
)
def test_exported_html_shows_the_reports_offline(executed, tmp_path, widget_state):
    from playwright.sync_api import sync_playwright

    nb = json.loads(executed.read_text())
    if not widget_state:
        nb["metadata"].pop("widgets", None)
    source = tmp_path / "in.ipynb"
    source.write_text(json.dumps(nb))
    done = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "html", "--output", "out.html", str(source)],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    html_path = tmp_path / "out.html"
    assert ("widget-state+json" in html_path.read_text()) == widget_state

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800}, offline=True)
            blocked: list[str] = []
            context.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith("file:")
                    else (blocked.append(route.request.url), route.abort())
                ),
            )
            page = context.new_page()
            page.goto(html_path.as_uri())
            page.wait_for_timeout(500)
            report = page.locator(".jupyter-carbon.jc-report")
            assert report.count() == 1 and report.first.is_visible()
            assert "exported" in report.first.inner_text() and "CO2e" in report.first.inner_text()
            line = page.locator(".jupyter-carbon.jc-compact")
            assert (
                line.count() == 1
                and line.first.is_visible()
                and "carbon: " in line.first.inner_text()
            )
            summary = page.locator(".jupyter-carbon.jc-summary")
            assert (
                summary.first.is_visible()
                and "jupyter_carbon session · 2 cells" in summary.first.inner_text()
            )
            images = summary.locator("img")
            assert images.count() >= 1
            for img in images.all():
                assert img.is_visible() and img.evaluate("i => i.complete && i.naturalWidth > 100")
            (ARTIFACTS := Path(__file__).resolve().parents[1] / "test-artifacts").mkdir(
                exist_ok=True
            )
            summary.first.scroll_into_view_if_needed()
            page.screenshot(
                path=str(
                    ARTIFACTS
                    / f"nbconvert-{'with' if widget_state else 'without'}-widget-state.png"
                )
            )
        finally:
            browser.close()
