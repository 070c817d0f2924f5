"""A real browser: JupyterLab on 127.0.0.1, Debian's chromium driven by Playwright for Python.

At 1280×800 with the file browser open, in the light and the dark theme: a ``%%carbon`` cell of
~3 s whose running figures must grow while it runs, ``%carbon on`` with five cells, ``%carbon
summary`` and a failing ``%%carbon`` cell. It checks that nothing of jupyter_carbon's outputs is
wider than the cell's output area, that the auto-mode report is one line high, and saves
screenshots in ``test-artifacts/``. Without ``/usr/bin/chromium`` the test is skipped, except
under CI, where it must run.
"""

from __future__ import annotations

import time

import pytest
from browser_helpers import (
    ARTIFACTS,
    chromium,
    jupyter_lab,
    set_theme,
    shoot,
    skip_without_a_browser,
)

pytestmark = pytest.mark.slow

skip_without_a_browser()

LIVE = (
    "%%carbon --label browser\n"
    "import time\n"
    "for i in range(20):  # ~3 s: short sleeps and busy work, and a log\n"
    "    if i % 5 == 0:\n"
    "        print('step', i, flush=True)\n"
    "    time.sleep(0.1)\n"
    "    t0 = time.perf_counter()\n"
    "    while time.perf_counter() - t0 < 0.05:\n"
    "        pass\n"
    "'done'"
)
FIVE = [
    "a = 1",
    "b = sum(range(10**5))\nb",
    "print('hello from a measured cell')",
    "import time\ntime.sleep(1.5)  # long enough for the live line",
    "c = [i * i for i in range(10**4)]",
]
CELLS = (
    ["%load_ext jupyter_carbon\n%carbon config interval=0.25", LIVE, "%carbon on"]
    + FIVE
    + [
        "%carbon off",
        "%carbon summary",
        "%%carbon --label failing\nraise ValueError('a failing cell')",
    ]
)
SUMMARY_INDEX = CELLS.index("%carbon summary")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server with jupyter_carbon's JupyterLab extension present but disabled, as
    `jupyter labextension disable` leaves it: the outputs are today's
    (tests/test_browser_footer.py: enabled)."""
    base = tmp_path_factory.mktemp("lab")
    config = {"disabledExtensions": {"jupyter-carbon": True}}
    with jupyter_lab(base, {"carbon.ipynb": CELLS}, page_config=config) as server:
        yield server


@pytest.fixture(scope="module")
def page(lab, tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context.new_page()


def carbon_texts(page) -> str:
    return page.evaluate(
        "() => Array.from(document.querySelectorAll('.jupyter-carbon')).map(e => e.className + "
        "': ' + e.innerText).join(' | ')"
    )


#: Every element of every jupyter_carbon output whose right edge passes its output area's (a
#: scrolling box may hold wider content: only the box itself must fit).
CUT_OFF = """() => {
  const bad = [];
  for (const root of document.querySelectorAll('.jupyter-carbon')) {
    const area = root.closest('.jp-OutputArea-output') || root.closest('.jp-OutputArea');
    if (!area) continue;
    const limit = area.getBoundingClientRect().right + 1;
    for (const el of [root, ...root.querySelectorAll('*')]) {
      if (el.closest('.jc-table-box') && !el.classList.contains('jc-table-box')) continue;
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > limit) bad.push(`${el.tagName}.${el.className} right \
${Math.round(r.right)} > ${Math.round(limit)}`);
    }
  }
  return bad;
}"""


def _text_or_empty(locator) -> str:
    """The first match's text now, or "" when there is none (or it went away meanwhile)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        return locator.first.inner_text(timeout=1_000) if locator.count() else ""
    except PlaywrightTimeout:
        return ""


def run_cell_at(page, index: int) -> None:
    page.evaluate(
        f"() => {{ const nb = window.jupyterapp.shell.currentWidget.content; "
        f"nb.activeCellIndex = {index}; window.jupyterapp.commands.execute('notebook:run-cell'); }}"
    )


#: For each one-line output (the auto-mode line, the running figures' line) with printed text in
#: the same cell: the left edge of its text and of the printed text.
TEXT_EDGES = """() => {
  const pairs = [];
  for (const line of document.querySelectorAll('.jc-compact, .jc-moved')) {
    const area = line.closest('.jp-OutputArea');
    const pre = area && area.querySelector('.jp-RenderedText pre');
    if (!pre) continue;
    const text = document.createRange();
    text.selectNodeContents(line);
    pairs.push([text.getBoundingClientRect().left, pre.getBoundingClientRect().left,
                line.innerText.slice(0, 30)]);
  }
  return pairs;
}"""

#: The computed background of every row of our tables.
ROW_BACKGROUNDS = """() => Array.from(document.querySelectorAll(
  '.jc-components tr, .jc-table tr')).map(r => getComputedStyle(r).backgroundColor)"""

#: For each column of the summary's table: where its head's text and its first cell's text
#: sit (their right edges for a right-aligned column, else their left edges).
HEAD_EDGES = """() => {
  const table = document.querySelector('.jc-summary .jc-table');
  const heads = table.querySelectorAll('thead th');
  const cells = table.querySelectorAll('tbody tr:first-child td');
  const edge = (el, side) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    const r = range.getBoundingClientRect();
    return r.width ? r[side] : null;
  };
  return Array.from(heads).map((th, i) => {
    const side = getComputedStyle(cells[i]).textAlign === 'left' ? 'left' : 'right';
    return [th.innerText, side, edge(th, side), edge(cells[i], side)];
  });
}"""


def check_layout(page, theme: str) -> None:
    """Nothing cut off, the compact lines one line high and where printed text starts, our tables
    unstriped with heads on their columns, and screenshots of each kind of output."""
    assert page.evaluate(CUT_OFF) == [], theme
    edges = page.evaluate(TEXT_EDGES)
    assert len(edges) >= 2, edges  # the printing auto-mode cell and the live cell's log
    assert all(abs(line - printed) <= 1 for line, printed, _ in edges), (theme, edges)
    backgrounds = page.evaluate(ROW_BACKGROUNDS)
    assert len(backgrounds) >= 9, backgrounds  # 2 components, 7 summary rows and its head
    assert set(backgrounds) == {"rgba(0, 0, 0, 0)"}, (theme, backgrounds)
    for head, side, at_head, at_cell in page.evaluate(HEAD_EDGES):
        if at_cell is not None:  # an empty cell (no label) has no text to line up with
            assert abs(at_head - at_cell) <= 1, (theme, head, side, at_head, at_cell)
    compact = page.locator(".jupyter-carbon.jc-compact")
    assert compact.count() == 5, carbon_texts(page)
    # each line is its cell's last output, under the cell's own output (not between code and output)
    order = compact.evaluate_all(
        "els => els.map(e => { const c = e.closest('.jp-OutputArea-child'); "
        "return Array.from(c.parentElement.querySelectorAll(':scope > "
        ".jp-OutputArea-child')).map(x => x === c ? 'CARBON' : x.innerText.slice(0, 30)); })"
    )
    assert all(siblings[-1] == "CARBON" for siblings in order), order
    for i in range(compact.count()):
        box = compact.nth(i).bounding_box()
        line = compact.nth(i).evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
        assert box["height"] <= line * 1.5, (theme, box, line, compact.nth(i).inner_text())
    shoot(page, f"browser-report-{theme}.png", page.locator(".jc-report").first)
    shoot(page, f"browser-auto-{theme}.png", compact.nth(2))
    shoot(page, f"browser-summary-{theme}.png", page.locator(".jc-summary").first)
    shoot(page, f"browser-error-{theme}.png", page.locator(".jc-report.jc-error").first)


def test_views_in_jupyterlab_light_and_dark(lab, page):
    url, token, _ = lab
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_default_timeout(60_000)
    page.goto(f"{url}/lab/tree/carbon.ipynb?token={token}")
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget && "
        "window.jupyterapp.shell.currentWidget.sessionContext && "
        "window.jupyterapp.shell.currentWidget.sessionContext.session && "
        "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
    )
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === "
        "'idle'"
    )
    page.evaluate(
        "() => { if (window.jupyterapp.shell.leftCollapsed) "
        "window.jupyterapp.shell.activateById('filebrowser'); }"
    )
    page.wait_for_function("() => !window.jupyterapp.shell.leftCollapsed")
    # the extension is installed, and disabled
    assert page.evaluate(
        "() => JSON.parse(document.getElementById('jupyter-config-data').textContent)"
        ".federated_extensions.map(e => e.name)"
    ).count("jupyter-carbon"), "the extension is not where JupyterLab looks"
    assert page.evaluate("() => window.jupyterapp.hasPlugin('jupyter-carbon:plugin')") is False
    # not awaited: the command's promise resolves only once every cell has run
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")

    live = page.locator(".jupyter-carbon.jc-progress")
    live.first.wait_for(state="attached", timeout=60_000)
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = _text_or_empty(live)  # the line may be replaced between count and read
        if "running browser" in text and (not seen or seen[-1] != text):
            seen.append(text)
            if len(seen) == 3:
                shoot(page, "browser-live-light.png")
        if page.locator(".jc-report").count():
            break
        time.sleep(0.05)
    if len(seen) < 3:
        page.screenshot(path=str(ARTIFACTS / "browser-failed.png"))
    assert len(seen) >= 3, (
        f"live figures changed fewer than twice: {seen}; outputs now: {carbon_texts(page)}"
    )
    assert all("CO2e so far" in t and "Wh" in t and " W" in t for t in seen), seen
    elapsed = [
        float(t.split("browser: ")[1].split(" ")[0]) * (1e-3 if " ms elapsed" in t else 1)
        for t in seen
    ]
    assert elapsed == sorted(elapsed) and elapsed[-1] > elapsed[0], seen  # the numbers grow

    # the failing cell ends the run; then the summary (run-all stops at the error, so it is rerun)
    page.locator(".jc-report.jc-error").first.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === "
        "'idle'"
    )
    run_cell_at(page, SUMMARY_INDEX)
    page.locator(".jc-summary img").nth(1).wait_for(state="visible", timeout=60_000)

    report = page.locator(".jc-report").first
    final = report.inner_text()
    assert "browser" in final and "Wh" in final and "CO2e" in final and "running" not in final, (
        final
    )
    assert page.locator(".jc-report .jc-bar").count() >= 1
    errors = page.locator(".jc-report.jc-error").first.inner_text()
    assert "ERROR" in errors and "failing" in errors
    summary = page.locator(".jc-summary").first
    assert (
        "7 cells" in summary.inner_text()
    )  # the live cell, five auto cells, the failing cell; not %carbon lines
    for img in summary.locator("img").all():
        assert img.evaluate(
            "img => img.naturalWidth >= 2 * img.getBoundingClientRect().width - 2"
        ), "plots are drawn at 2x"
    assert (
        page.locator(".jupyter-carbon:not(.jc-moved)").count() == 8
    )  # report, five lines, summary, error: nothing else but the running lines' last words
    # the live cell: its running line stayed where it appeared, in its log; the report is last
    live_cell = page.locator(".jp-CodeCell").nth(CELLS.index(LIVE))
    kinds = live_cell.locator(".jp-OutputArea-child").evaluate_all(
        "els => els.map(e => e.querySelector('.jc-report') ? 'REPORT' : e.querySelector("
        "'.jc-moved') ? 'MOVED' : e.innerText.trim().slice(0, 12))"
    )
    assert kinds[-1] == "REPORT" and "MOVED" in kinds, kinds
    assert any(k.startswith("step") for k in kinds[kinds.index("MOVED") + 1 :]), kinds

    set_theme(page, "light")
    check_layout(page, "light")
    set_theme(page, "dark")
    check_layout(page, "dark")
    colour = page.locator(".jc-report").first.evaluate("e => getComputedStyle(e).color")
    assert colour != "rgb(26, 26, 26)", "the report follows the theme's font colour"
