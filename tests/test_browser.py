"""A real browser: JupyterLab on 127.0.0.1, Debian's chromium driven by Playwright for Python.

Runs a ``%%carbon`` cell of ~3 s and checks that the live figures change while it runs and that
the final widget shows energy, CO2e and the plot. Screenshots go to ``test-output/``. Without
``/usr/bin/chromium`` the test is skipped, except under CI, where it must run.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from storage_helpers import ROOT, child_env

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = ROOT / "test-output"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); the browser test runs when it is there, and always under CI", allow_module_level=True)
if not os.environ.get("CI"):
    pytest.importorskip("playwright.sync_api", reason="playwright (the test extra) is not installed")

CELLS = [
    "%load_ext jupyter_carbon\n%carbon config interval=0.25",
    (
        "%%carbon --label browser\n"
        "import time\n"
        "for i in range(20):  # ~3 s: short sleeps and busy work\n"
        "    time.sleep(0.1)\n"
        "    t0 = time.perf_counter()\n"
        "    while time.perf_counter() - t0 < 0.05:\n"
        "        pass\n"
        "'done'"
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook_json() -> str:
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [], "source": src} for i, src in enumerate(CELLS)]
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}, "language_info": {"name": "python"}}
    return json.dumps({"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free port with a token, serving a temporary folder."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    (root / "carbon.ipynb").write_text(_notebook_json())
    port, token = _free_port(), secrets.token_hex(16)
    env = child_env()
    for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("JUPYTER_RUNTIME_DIR", "runtime")):
        env[name] = str(base / sub)
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False", "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI often run as root
        command.append("--ServerApp.allow_root=True")
    log = open(base / "server.log", "wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start: {(base / 'server.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield url, token, root
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def page(lab, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, viewport={"width": 1200, "height": 900}
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def widget_texts(page) -> str:
    return page.evaluate("() => Array.from(document.querySelectorAll('.jupyter-carbon')).map(e => e.className + ': ' + e.innerText).join(' | ')")


def test_live_figures_then_final_widget_in_jupyterlab(lab, page):
    url, token, _ = lab
    OUTPUT.mkdir(exist_ok=True)
    page.set_default_timeout(60_000)
    page.goto(f"{url}/lab/tree/carbon.ipynb?token={token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget && window.jupyterapp.shell.currentWidget.sessionContext && window.jupyterapp.shell.currentWidget.sessionContext.session && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel")
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'")
    # not awaited: the command's promise resolves only once every cell has run
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")

    live = page.locator(".jupyter-carbon .jc-live")
    live.first.wait_for(state="attached", timeout=60_000)
    seen: list[str] = []
    live_shot = False
    result = page.locator(".jupyter-carbon .jc-result")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if "TOTAL" in (result.first.inner_text() if result.count() else ""):
            break
        text = live.first.inner_text() if live.count() else ""
        if "running" in text and (not seen or seen[-1] != text):
            seen.append(text)
            if len(seen) == 3 and not live_shot:
                page.screenshot(path=str(OUTPUT / "browser-live.png"))
                live_shot = True
        time.sleep(0.05)
    if len(seen) < 3:
        page.screenshot(path=str(OUTPUT / "browser-failed.png"))
    assert len(seen) >= 3, f"live figures changed fewer than twice: {seen}; widgets now: {widget_texts(page)}"
    assert all("CO2e so far" in t and "Wh" in t and " W" in t for t in seen), seen

    widget = page.locator(".jupyter-carbon").first
    widget.locator(".jc-result").get_by_text("TOTAL").wait_for(timeout=15_000)
    final = widget.inner_text()
    assert "Wh" in final and "CO2e" in final and "browser" in final, final
    assert "running" not in final
    image = widget.locator("img")
    image.first.wait_for(state="visible")
    assert image.first.evaluate("img => img.naturalWidth") > 100
    widget.scroll_into_view_if_needed()
    try:  # JupyterLab's "official Jupyter news?" toast covers part of the screenshots
        page.locator(".jp-toast-button", has_text="No").first.click(timeout=2_000)
    except Exception:
        pass
    page.screenshot(path=str(OUTPUT / "browser-final-light.png"))
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    time.sleep(0.5)
    page.screenshot(path=str(OUTPUT / "browser-final-dark.png"))
