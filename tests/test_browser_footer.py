"""jupyter_carbon's JupyterLab / Notebook 7 extension in a real browser (Debian's chromium).

One server with the extension enabled (this worktree's built assets), JupyterLab and Notebook 7,
light and dark, 1280×800 (JupyterLab with the file browser open): ``%load_ext``, then five
``%carbon on`` cells (one of ~3 s) and ``%carbon summary``. Five footers and no carbon outputs
but the summary; the 3 s cell's footer and the status bar change while it runs; the status bar's
total is the summary's; the saved notebook reopened shows "last run" footers from the cells'
metadata. Screenshots in ``test-artifacts/``. (The extension disabled, today's outputs:
tests/test_browser.py.)
"""

from __future__ import annotations

import json
import re
import time

import pytest
from browser_helpers import (
    chromium,
    jupyter_lab,
    set_theme,
    shoot,
    skip_without_a_browser,
)

pytestmark = pytest.mark.slow

skip_without_a_browser()

LONG = (
    "import time\n"
    "t0 = time.perf_counter()\n"
    "while time.perf_counter() - t0 < 3.2:  # ~3 s of busy work\n"
    "    sum(range(1000))"
)
FIVE = [
    "a = 1",
    "b = sum(range(10**5))\nb",
    "print('hello from a measured cell')",
    LONG,
    "c = [i * i for i in range(10**4)]",
]
CELLS = ["%load_ext jupyter_carbon\n%carbon config interval=0.25", "%carbon on"] + FIVE
CELLS += ["%carbon off", "%carbon summary"]
FIRST, LONG_INDEX, SUMMARY = CELLS.index(FIVE[0]), CELLS.index(LONG), len(CELLS) - 1
#: CO2e as the Python views write it (units.format_co2e)
CO2E = re.compile(r"\d[\d.e+-]* (?:µg|mg|g|kg|t) CO2e")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """JupyterLab and Notebook 7 on one server, jupyter_carbon's extension enabled."""
    notebooks = {"lab.ipynb": CELLS, "notebook7.ipynb": CELLS}
    with jupyter_lab(tmp_path_factory.mktemp("lab-footer"), notebooks) as (url, token, _):
        yield url, token


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


KERNEL = "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"


def open_notebook(page, address: str, lab: bool) -> None:
    page.goto(address)
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget && "
        "window.jupyterapp.shell.currentWidget.sessionContext && "
        "window.jupyterapp.shell.currentWidget.sessionContext.session && "
        f"{KERNEL} && {KERNEL}.status === 'idle'"
    )
    assert page.evaluate("() => window.jupyterapp.hasPlugin('jupyter-carbon:plugin')")
    if lab:
        page.evaluate(
            "() => { if (window.jupyterapp.shell.leftCollapsed) "
            "window.jupyterapp.shell.activateById('filebrowser'); }"
        )
        page.wait_for_function("() => !window.jupyterapp.shell.leftCollapsed")


def run_cell(page, index: int) -> None:
    """Run one cell and wait for it to end."""
    page.evaluate(
        "async (i) => { const nb = window.jupyterapp.shell.currentWidget.content; "
        "nb.activeCellIndex = i; await window.jupyterapp.commands.execute('notebook:run-cell'); }",
        index,
    )


def cell_texts(page, selector: str) -> list[str]:
    """Per cell of the notebook, the text of ``selector`` inside it ('' where there is none)."""
    return page.evaluate(
        "(sel) => Array.from(window.jupyterapp.shell.currentWidget.content.widgets)"
        ".map(c => { const e = c.node.querySelector(sel); return e ? e.textContent : ''; })",
        selector,
    )


def status_text(page) -> str:
    return page.locator("#jupyter-carbon-status").inner_text()


def footer_flow(page, address: str, ui: str) -> None:
    lab = ui == "lab"
    page.set_default_timeout(60_000)
    open_notebook(page, address, lab)
    set_theme(page, "light")
    run_cell(page, 0)  # %load_ext: the kernel opens the comm, the extension answers
    page.wait_for_function(
        "() => document.querySelector('#jupyter-carbon-status').dataset.connected === 'true'"
    )
    # the rest, not awaited: the footer and the status bar are watched while the 3 s cell runs
    page.evaluate(
        "(i) => { const nb = window.jupyterapp.shell.currentWidget.content; "
        "nb.activeCellIndex = i; window.jupyterapp.commands.execute('notebook:run-all-below'); }",
        1,
    )
    live: list[str] = []
    statuses: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        footer = cell_texts(page, ".jc-footer-line")[LONG_INDEX]
        if "running" in footer:
            if not live or live[-1] != footer:
                live.append(footer)
                if len(live) == 2:
                    shoot(page, f"footer-{ui}-live-light.png")
            status = status_text(page)
            if not statuses or statuses[-1] != status:
                statuses.append(status)
        elif live:
            break
        time.sleep(0.1)
    assert len(live) >= 2, f"the running footer changed fewer than twice: {live}"
    assert all(" W · " in t and "Wh" in t and "CO2e so far" in t for t in live), live
    assert len(statuses) >= 2 and all(" W" in s for s in statuses), statuses

    page.locator(".jupyter-carbon.jc-summary").first.wait_for(timeout=60_000)
    page.wait_for_function(f"() => {KERNEL}.status === 'idle'")
    footers = cell_texts(page, ".jc-footer-line")
    measured = list(range(FIRST, FIRST + len(FIVE)))
    assert [i for i, t in enumerate(footers) if t] == measured, footers
    assert all(footers[i].startswith("carbon: ") and "CO2e (" in footers[i] for i in measured)
    states = cell_texts(page, ".jc-footer")  # every footer final, none live or "last run"
    assert page.locator(".jc-footer[data-state='final']").count() == len(FIVE), states
    # no carbon output but the summary the user asked for
    assert page.locator(".jupyter-carbon").count() == 1, cell_texts(page, ".jupyter-carbon")
    summary = page.locator(".jupyter-carbon.jc-summary").first.inner_text()
    assert "5 cells" in summary, summary
    total = CO2E.findall(summary)[0]
    status = status_text(page)
    assert status.startswith(f"carbon: {total} · "), (status, summary[:300])
    assert "running" not in status and " W" not in status.replace("Wh", "")

    # the details of a footer: hover (its tooltip) and click
    footer = page.locator(".jc-footer").nth(1)
    assert "intensity" in footer.get_attribute("title")
    footer.locator(".jc-footer-line").click()
    assert footer.locator(".jc-footer-details").is_visible()
    assert "CPU" in footer.locator(".jc-footer-details").inner_text()
    footer.scroll_into_view_if_needed()
    shoot(page, f"footer-{ui}-light.png")

    # the status bar opens the session panel
    page.locator("#jupyter-carbon-status").click()
    panel = page.locator("#jupyter-carbon-session")
    panel.wait_for(state="visible")
    assert panel.locator("tr").count() == len(FIVE) + 1, panel.inner_text()
    assert total in panel.inner_text()
    shoot(page, f"footer-{ui}-panel-light.png")

    set_theme(page, "dark")
    colour = page.locator(".jc-footer-line").first.evaluate("e => getComputedStyle(e).color")
    background = page.evaluate(
        "() => getComputedStyle(document.querySelector('.jp-Notebook')).backgroundColor"
    )
    assert colour != background
    shoot(page, f"footer-{ui}-panel-dark.png")
    page.evaluate("() => window.jupyterapp.shell.currentWidget.content.activeCellIndex = 2")
    page.locator(".jc-footer").first.scroll_into_view_if_needed()
    shoot(page, f"footer-{ui}-dark.png")

    run_all_after_restart(page)
    footers = cell_texts(page, ".jc-footer-line")
    status = status_text(page)
    shown = [i for i, t in enumerate(footers) if t]  # the cells whose run reached the footer
    assert shown, footers

    # saved and reopened: each measured cell's last run, from its metadata
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
    open_notebook(page, address, lab)
    page.wait_for_function(
        f"() => document.querySelectorAll(\".jc-footer[data-state='last-run']\").length === "
        f"{len(shown)}"
    )
    reopened = cell_texts(page, ".jc-footer-line")
    assert [i for i, t in enumerate(reopened) if t] == shown, reopened
    assert all(reopened[i].startswith("carbon, last run: ") for i in shown), reopened
    assert [t.split(": ", 1)[1] for t in reopened if t] == [
        t.split(": ", 1)[1] for t in footers if t
    ]
    # the kernel answers the reopened page with the session so far
    page.wait_for_function(
        "() => document.querySelector('#jupyter-carbon-status').dataset.connected === 'true'"
    )
    assert status_text(page) == status, "the session's figures after a reload"
    page.locator(".jc-footer").first.scroll_into_view_if_needed()
    shoot(page, f"footer-{ui}-last-run-dark.png")
    set_theme(page, "light")


def run_all_after_restart(page) -> None:
    """A restart, then Run All from ``%load_ext``: the extension's answer reaches the kernel on a
    kernel subshell while the queued cells wait, so the cells that start after it (at the latest
    the one after the 3 s cell) show footers, those before it their output line: every measured
    cell shows its figures once."""
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.restartKernel()")
    page.wait_for_function(
        "() => document.querySelector('#jupyter-carbon-status').dataset.connected === 'false'"
    )
    page.wait_for_function(f"() => {KERNEL}.status === 'idle'")
    # the footers now say "last run": their kernel went away
    assert page.locator(".jc-footer[data-state='last-run']").count() == len(FIVE)
    assert page.locator(".jc-footer[data-state='final']").count() == 0
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.locator(".jupyter-carbon.jc-summary").first.wait_for(timeout=60_000)
    page.wait_for_function(f"() => {KERNEL}.status === 'idle'")
    finals = cell_texts(page, ".jc-footer[data-state='final'] .jc-footer-line")
    lines = cell_texts(page, ".jupyter-carbon.jc-compact")
    measured = range(FIRST, FIRST + len(FIVE))
    assert all(bool(finals[i]) != bool(lines[i]) for i in measured), (finals, lines)
    # no stale footer of the kernel before the restart under a cell that ran again
    assert page.locator(".jc-footer[data-state='last-run']").count() == 0
    # the cell after the 3 s one starts seconds after the answer could arrive
    assert finals[LONG_INDEX + 1], (finals, lines)


def test_footers_and_status_bar_in_jupyterlab(server, browser):
    url, token = server
    page = browser.new_page()
    address = f"{url}/lab/tree/lab.ipynb?token={token}"
    footer_flow(page, address, "lab")
    settings_flow(page, address)


SAVE_SETTINGS = (
    "(raw) => window.jupyterapp.serviceManager.settings.save('jupyter-carbon:plugin', raw)"
)


def settings_flow(page, address: str) -> None:
    """The settings editor's choices (saved as a user would, then the page reloaded): the footer
    off brings auto mode's output line back; CO2e only in the status bar."""
    page.evaluate(SAVE_SETTINGS, json.dumps({"footer": False, "figure": "co2e"}))
    try:
        open_notebook(page, address, lab=True)
        page.wait_for_function(
            "() => document.querySelector('#jupyter-carbon-status').dataset.connected === 'true'"
        )
        assert page.locator(".jc-footer").count() == 0
        status = status_text(page)
        assert "CO2e" in status and "Wh" not in status, status
        run_cell(page, FIRST - 1)  # %carbon on (the flow ended with %carbon off)
        run_cell(page, FIRST)
        page.wait_for_function(f"() => {KERNEL}.status === 'idle'")
        assert cell_texts(page, ".jupyter-carbon.jc-compact")[FIRST].startswith("carbon: ")
        assert page.locator(".jc-footer").count() == 0
        page.evaluate(
            "() => window.jupyterapp.commands.execute('settingeditor:open', "
            "{query: 'jupyter_carbon'})"
        )
        page.get_by_text("Footer under each measured cell").first.wait_for()
        shoot(page, "footer-lab-settings.png")
    finally:
        page.evaluate(SAVE_SETTINGS, "{}")


def test_footers_and_session_item_in_notebook_7(server, browser):
    url, token = server
    footer_flow(browser.new_page(), f"{url}/notebooks/notebook7.ipynb?token={token}", "nb7")
