"""What the browser tests share: Debian's chromium driven by Playwright, a JupyterLab server of
their own (token, free port, temporary settings), and notebooks written from cell sources."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from storage_helpers import ROOT, child_env, labextension_data_dir

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def skip_without_a_browser() -> None:
    """Skip the calling test module without Debian's chromium or Playwright, except under CI,
    where the browser tests must run."""
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip(
            f"{CHROMIUM} is missing (apt-get install chromium); "
            "the browser tests run when it is there, and always under CI",
            allow_module_level=True,
        )
    if not os.environ.get("CI"):
        pytest.importorskip(
            "playwright.sync_api", reason="playwright (the test extra) is not installed"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def notebook_json(sources: Sequence[str]) -> str:
    """A Python 3 notebook of code cells, never run."""
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"c{i}",
            "metadata": {},
            "outputs": [],
            "source": src,
        }
        for i, src in enumerate(sources)
    ]
    meta = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    return json.dumps({"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5})


@contextlib.contextmanager
def jupyter_lab(
    base: Path, notebooks: Mapping[str, Sequence[str]], *, page_config: dict[str, Any] | None = None
) -> Iterator[tuple[str, str, Path]]:
    """A JupyterLab (and Notebook 7) server on 127.0.0.1 serving ``base/root`` with
    ``notebooks`` (name: cell sources) in it, its config, settings and runtime folders in
    ``base``, and this worktree's built extension on its path (``page_config``: e.g. the
    extension disabled). Every cell is in the DOM (JupyterLab 4 otherwise renders only the cells
    in view) and no news toast shows. Yields the URL, the token and the root folder."""
    root = base / "root"
    root.mkdir()
    for name, sources in notebooks.items():
        (root / name).write_text(notebook_json(sources))
    port, token = free_port(), secrets.token_hex(16)
    env = child_env()
    for name, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
    ):
        env[name] = str(base / sub)
    env["JUPYTER_PATH"] = str(labextension_data_dir(base))
    if page_config is not None:
        (base / "config" / "labconfig").mkdir(parents=True)
        (base / "config" / "labconfig" / "page_config.json").write_text(json.dumps(page_config))
    settings = base / "settings"
    for plugin, value in (
        ("notebook-extension/tracker", {"windowingMode": "none"}),
        ("apputils-extension/notification", {"fetchNews": "false", "checkForUpdates": False}),
    ):
        folder, name = plugin.split("/")
        (settings / "@jupyterlab" / folder).mkdir(parents=True, exist_ok=True)
        (settings / "@jupyterlab" / folder / f"{name}.jupyterlab-settings").write_text(
            json.dumps(value)
        )
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        "--LabApp.news_url=",
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
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"JupyterLab did not start: {(base / 'server.log').read_text()[-2000:]}"
                )
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


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    """A headless chromium context at 1280×800 (Playwright's ``BrowserContext``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
        )
        try:
            yield context
        finally:
            context.close()


#: Where the browser tests leave their screenshots (looked at by a person, not compared).
ARTIFACTS = ROOT / "test-artifacts"


def shoot(page: Any, name: str, locator: Any = None) -> None:
    """A screenshot of ``page`` as ``ARTIFACTS/name``, scrolled to ``locator`` first if given."""
    if locator is not None:
        locator.scroll_into_view_if_needed()
        time.sleep(0.2)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def set_theme(page: Any, theme: str) -> None:
    """Switch JupyterLab to its ``"light"`` or ``"dark"`` theme and wait until it is drawn."""
    page.evaluate(
        "(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})",
        f"JupyterLab {theme.capitalize()}",
    )
    light = "true" if theme == "light" else "false"
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'")
    time.sleep(0.5)
