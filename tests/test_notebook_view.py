"""The notebook views without a browser: the messages a cell sends, their bundles,
the summary, plots."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("matplotlib")

from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402

from jupyter_carbon.carbon_session import CarbonSession  # noqa: E402
from jupyter_carbon.config import Config  # noqa: E402
from jupyter_carbon.digest import Digest  # noqa: E402
from jupyter_carbon.display.cell import LAST_CELLS, MIN_UPDATE_S, NotebookView  # noqa: E402
from jupyter_carbon.display.html import bars_html  # noqa: E402
from jupyter_carbon.display.plots import cumulative_png  # noqa: E402
from jupyter_carbon.display.report_text import summary_text  # noqa: E402
from jupyter_carbon.display.summary import session_digest, show_summary_html  # noqa: E402
from jupyter_carbon.display.text import column, format_record, format_record_line  # noqa: E402
from jupyter_carbon.sampler import Progress  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Clock:
    def __init__(self) -> None:
        self.t_s = 0.0

    def __call__(self) -> float:
        return self.t_s


@pytest.fixture(scope="module")
def shell():
    return InteractiveShell.instance()


@pytest.fixture
def session(shell):  # a shell instance: displays go to its publisher (captured by capture_output)
    clock = Clock()
    s = CarbonSession(Config(power={"cpu": 30.0, "ram": 6.0}), clock=clock, threaded=False)
    s.test_clock = clock
    yield s
    s.shutdown()


def run_cell(
    session,
    view_clock=None,
    *,
    compact=False,
    ticks=4,
    tick_s=0.5,
    status="ok",
    label="train",
    items=None,
    cell=1,
    note=None,
):
    """Open a window with a NotebookView, tick the sampler by hand, close it;
    returns (view, record, outputs)."""
    view_clock = view_clock or Clock()
    with capture_output() as cap:
        view = NotebookView(
            session, compact=compact, label=label, cell=cell, items=items, clock=view_clock
        )
        m = session.open(label, listener=view.on_progress, kind="cell", cell=cell, items=items)
        progress_values = []
        for _ in range(ticks):
            session.test_clock.t_s += tick_s
            view_clock.t_s += tick_s
            session.sampler.tick()
            progress_values.append(view.progress_html)
        if note:
            view.note(note)
        record = session.stop(m, status=status)
        view.finish(record)
    view.progress_values = progress_values
    return view, record, cap.outputs


def test_full_view_shows_live_figures_then_the_report_after_what_the_cell_printed(shell, session):
    view, record, outputs = run_cell(session, items=1000)
    assert view.errors == []
    # nothing at the start; the first live figures are a display and the rest update it; at the
    # end that output says where the report went, and the report is a new display, at the end of
    # the cell's output (after anything the cell printed below the running figures)
    assert [o.update for o in outputs] == [False, True, True, True, True, False]
    live, report = outputs[0].transient["display_id"], outputs[-1].transient["display_id"]
    assert {o.transient["display_id"] for o in outputs[:-1]} == {live} and report != live
    moved = outputs[-2].data
    assert moved["text/plain"] == "carbon: train ran 2 s · report at the end of the cell's output"
    assert "jc-moved" in moved["text/html"] and "running" not in moved["text/html"]
    # live figures changed at every tick (0.5 s apart) and said power, energy and CO2e
    assert len(set(view.progress_values)) == 4
    assert (
        "CPU 30 W" in view.progress_values[-1]
        and "mWh" in view.progress_values[-1]
        and "CO2e so far" in view.progress_values[-1]
    )
    last = outputs[-1]
    # the report: no widget (saved notebooks render it offline), text/plain from text.py, text/html
    assert set(last.data) == {"text/plain", "text/html"}
    assert last.data["text/plain"] == format_record(record)
    html = last.data["text/html"]
    assert "<img" not in html  # no matplotlib per cell: the bars are HTML
    for text in (
        "20 mWh",
        "CO2e",
        "estimated (constant)",
        "per item",
        "session 9.5 mg CO2e (1 cell)",
        "a 10 W LED bulb lit for 7.2 s",
        "jc-bar",
        "how this was measured",
    ):
        assert text in html, text
    assert "<details" in html and "range" not in html.split("<details")[0].split("title=")[0]


def test_a_short_cell_sends_exactly_one_message(session):
    for compact in (True, False):
        view, record, outputs = run_cell(session, compact=compact, ticks=1, tick_s=0.1)
        assert len(outputs) == 1 and outputs[0].update is False, compact
        assert view.progress_updates == 0


def test_live_updates_are_throttled(session):
    clock = Clock()
    with capture_output() as cap:
        view = NotebookView(session, compact=False, clock=clock)
        status = Progress(1.0, {"cpu": 30.0}, {"cpu": 30.0})
        for _ in range(50):  # a burst in the same instant: one update
            view.on_progress(status)
        clock.t_s += MIN_UPDATE_S / 2
        view.on_progress(status._replace(elapsed_s=1.1))
        assert view.progress_updates == 1 and len(cap.outputs) == 1
        clock.t_s += MIN_UPDATE_S
        view.on_progress(status._replace(elapsed_s=1.5))
    assert view.progress_updates == 2 and [o.update for o in cap.outputs] == [False, True]
    assert "1.5 s" in view.progress_html


def test_live_output_from_the_sampler_thread_carries_the_cells_parent_header(session):
    """The sampler thread publishes in the context captured when the view was made (the cell's),
    not in the thread's own (empty) one: the frontend puts the output under the right cell."""
    import contextvars

    parent = contextvars.ContextVar("parent")
    parent.set({"msg_id": "cell-7"})
    seen = []
    view = NotebookView(
        session,
        compact=False,
        publish=lambda data, display_id, update: seen.append((parent.get(None), update)),
    )
    thread = threading.Thread(
        target=view.on_progress, args=(Progress(2.0, {"cpu": 60.0}, {"cpu": 30.0}),)
    )
    thread.start()
    thread.join()
    view.note("loop: 1,000 of 10,000 items, ~9 s left")
    m = session.open("x")
    view.finish(session.stop(m))
    cell = {"msg_id": "cell-7"}
    assert seen == [(cell, False), (cell, True), (cell, False)]  # live, moved, the report


def test_on_live_never_raises(session):
    with capture_output():
        view = NotebookView(session, compact=False)
        view.on_progress(None)  # type: ignore[arg-type]
        view.on_progress(
            Progress(1.0, {"cpu": float("nan")}, {"cpu": "bad"})  # type: ignore[dict-item]
        )
    assert view.errors and all(e.startswith("progress:") for e in view.errors)


def test_compact_view_is_one_line_live_only_for_long_cells(session):
    short, record, outputs = run_cell(session, compact=True, ticks=1, tick_s=0.5)
    assert short.progress_values == [""]  # 0.5 s: no live line
    assert len(outputs) == 1
    assert outputs[-1].data["text/plain"] == format_record_line(record)
    html = outputs[-1].data["text/html"]
    assert "<img" not in html and "jc-compact" in html and "white-space: nowrap" in html
    assert (
        "estimated (constant)" not in html.split("title=")[0]
    )  # the methods and bands are in the tooltip
    assert "CPU 4.17 mWh: estimated (constant)" in html
    long, record, outputs = run_cell(session, compact=True, ticks=4, tick_s=0.5)
    assert "carbon: running" in long.progress_values[-1]
    # live at 1, 1.5 and 2 s; then that output says where the line went, and the line is a new
    # display, after what the cell printed
    assert [o.update for o in outputs] == [False, True, True, True, False]
    assert outputs[-2].data["text/plain"] == (
        "carbon: ran 2 s · figures at the end of the cell's output"
    )
    assert outputs[-1].data["text/plain"] == format_record_line(record)
    assert format_record_line(record).endswith("(2 cells)") and "estimated" in format_record_line(
        record
    )


def test_notes_appear_in_the_report(session):
    view, record, outputs = run_cell(session, note="loop: predicted total: 3 s")
    assert "predicted total: 3 s" in outputs[-1].data["text/html"]
    assert "predicted total: 3 s" in outputs[-1].data["text/plain"]


def test_error_status_is_shown(session):
    view, record, outputs = run_cell(session, status="error", note="a note")
    assert record.status == "error"
    assert "ERROR" in outputs[-1].data["text/html"] and "jc-error" in outputs[-1].data["text/html"]
    assert "[ERROR]" in outputs[-1].data["text/plain"]
    assert "a note" in outputs[-1].data["text/html"]


def test_a_broken_display_falls_back_to_text(session, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("no frontend")

    view = NotebookView(session, compact=False, publish=broken)
    m = session.open("x", listener=view.on_progress)
    view.on_progress(Progress(1.0, {"cpu": 1.0}, {"cpu": 1.0}))
    view.finish(session.stop(m))
    assert view.errors and "no frontend" in view.errors[-1]
    assert "TOTAL" in capsys.readouterr().out


def test_html_bars_keep_tiny_cells_visible_and_outline_this_one(session):
    run_cell(session, cell=1, ticks=8)
    run_cell(session, cell=2, ticks=1, tick_s=0.001)
    records = list(session.records)
    html = bars_html(records, highlight_id=records[-1].id)
    heights = [float(h) for h in re.findall(r'class="jc-bar"[^>]*height: ([0-9.]+)px', html)]
    assert heights[0] == 40.0 and heights[1] == 2.0  # the 1 ms cell is a 2 px stub, not nothing
    assert html.count("outline: 2px") == 1


def test_report_bars_outline_this_cell_and_read_only_the_last_30(session):
    for i in range(3):
        run_cell(session, cell=i + 1, ticks=1)

    class OnlySlices(list):
        slices = []

        def __getitem__(self, index):
            if isinstance(index, slice):
                self.slices.append(index)
            return list.__getitem__(self, index)

        def __iter__(self):
            raise AssertionError("iterated the whole session")

    last = session.records[-1]
    session.records = OnlySlices(list(session.records) * 20)
    view = NotebookView(session, compact=False, label="train", cell=3)
    html = view._bundle(last, [])["text/html"]
    assert session.records.slices == [slice(-LAST_CELLS, None)]
    assert (
        html.count('class="jc-bar"') == LAST_CELLS and html.count("outline: 2px") == LAST_CELLS // 3
    )  # this cell's copies


def test_display_cost_does_not_grow_with_the_session(session):
    def cost_s() -> float:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            run_cell(session, ticks=1)
            best = min(best, time.perf_counter() - t0)
        return best

    for _ in range(5):
        run_cell(session, ticks=1)
    early = cost_s()
    last = session.records[-1]
    session.records.extend([last] * 5000)  # the views only read records; ids do not matter here
    late = cost_s()
    assert late < early * 2 + 0.05, (early, late)


@pytest.mark.slow
def test_plots_leave_pyplot_backend_and_figures_alone(session):
    run_cell(session, ticks=3)
    code = (
        "import sys, matplotlib\n"
        "raw_backend = lambda: dict.__getitem__(matplotlib.rcParams, "
        "'backend')  # reading it does not resolve it\n"
        "backend = raw_backend()\n"
        "from jupyter_carbon.display import plots\n"
        "import pickle\n"
        "records = pickle.loads(sys.stdin.buffer.read())\n"
        "plots.cumulative_png(records); plots.timeline_png(records[-1])\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "assert raw_backend() == backend, 'backend resolved or changed'\n"
        "import matplotlib.pyplot as plt\n"
        "fig = plt.figure(); nums = plt.get_fignums()\n"
        "plots.cumulative_png(records); plots.timeline_png(records[-1])\n"
        "assert plt.get_fignums() == nums and plt.gcf() is fig, 'figure leaked'\n"
        "print('ok')\n"
    )
    import pickle

    out = subprocess.run(
        [sys.executable, "-c", code],
        input=pickle.dumps(list(session.records)),
        capture_output=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().strip() == "ok"


def test_summary_is_one_static_output_with_plots_and_one_unit_per_column(session):
    for i, (status, ticks) in enumerate((("ok", 2), ("error", 8), ("ok", 1))):
        run_cell(session, cell=i + 1, ticks=ticks, status=status, label=f"step {i}")
    with capture_output() as cap:
        show_summary_html(session)
    (out,) = cap.outputs
    assert set(out.data) == {"text/plain", "text/html"}
    assert out.data["text/plain"].startswith(summary_text(session_digest(session))[:40])
    html = out.data["text/html"]
    assert (
        html.count("data:image/png;base64,") == 3
    )  # cumulative, power timeline, the next cell's in a <details>
    assert "power of the next 1 cell by energy" in html
    for text in (
        "3 cells",
        "step 0",
        "step 2",
        "ERROR",
        "energy (mWh)",
        "CO2e (mg)",
        "PUE 1",
        "sampling interval 1 s",
        "world average",
        "jc-bar",
    ):
        assert text in html, text
    assert "µWh" not in html.split("jc-table")[1].split("</table>")[0]  # one unit in each column
    # the timeline is the cell that used the most energy (step 1), not the last one
    assert Digest(session.records).timelines[0] is session.records[1]
    assert "power of [2] step 1" in html
    assert cumulative_png(session.records).startswith(PNG_MAGIC)


def test_one_unit_per_column():
    unit, cells = column([3.6 * 0.5, 3.6 * 12.5, 3.6e-3 * 0.001, 0.0], "energy")
    assert unit == "mWh" and cells == ["0.5", "12.5", "0.000001", "0"]
    assert column([2e-6, 5e-7], "co2e") == ("µg", ["2", "0.5"])


def test_every_cell_of_a_column_keeps_three_significant_digits():
    """The rule of every other figure (``format_energy``), for energy and CO2e alike: a 59 µWh
    cell under a 12.3 mWh one is 0.059, not 0.1 (and 1e-9 mWh is not a number to print)."""
    assert column([3.6e-3 * 59, 3.6 * 12.34, 3.6 * 123.4], "energy") == (
        "mWh",
        ["0.059", "12.3", "123"],
    )
    assert column([59e-6, 12.34e-3], "co2e") == ("mg", ["0.059", "12.3"])
    assert column([3.6e-12, 3.6], "energy")[1] == ["<0.000001", "1"]


def test_summary_of_an_empty_session(session):
    with capture_output() as cap:
        show_summary_html(session)
    assert "no cells measured yet" in cap.outputs[0].data["text/html"]
    assert "0 cells" in cap.outputs[0].data["text/plain"]


def test_without_matplotlib_the_summary_is_text(session, monkeypatch, capsys):
    import jupyter_carbon.display as display

    monkeypatch.setitem(
        sys.modules, "matplotlib", None
    )  # import fails, as when it is not installed
    monkeypatch.setattr(display, "in_kernel", lambda shell: True)
    m = session.open("x")
    session.stop(m)
    with capture_output() as cap:
        display.show_summary(None, session)
    html = cap.outputs[0].data["text/html"]
    assert "plots need matplotlib" in html and "1 cell" in html


def test_per_item_figures_have_one_wording_and_one_unit(session):
    """Each per-1,000-items figure once, by the rule of every figure (``format_energy``), and a
    tiny share of the published mean as "about 1/N of", not "0.00001×"."""
    from jupyter_carbon.reference import REFERENCE_KWH_PER_1000
    from jupyter_carbon.units import J_PER_KWH, format_energy

    view, record, outputs = run_cell(session, items=1_000_000)
    per_1000 = format_energy(record.energy_j / record.items * 1000)
    reference = format_energy(REFERENCE_KWH_PER_1000["text-classification"] * J_PER_KWH)
    ratio = record.energy_j / record.items * 1000 / J_PER_KWH / 0.002
    for text in (format_record(record), outputs[-1].data["text/html"]):
        figures = re.findall(r"per 1,000 items: ([^,]+),|\(([^()]+) per 1,000 items\)", text)
        assert sorted(a or b for a, b in figures) == sorted([per_1000, reference]), figures
        assert text.count(per_1000) == 1 and "inferences" not in text
        assert re.search(r"\d×", text) is None
        assert f"about 1/{round(1 / ratio):,} of the text-classification mean" in text


def _styles(html: str, tag: str) -> list[dict[str, str]]:
    """The inline style of every ``tag`` in ``html``, as {property: value}."""
    return [
        dict(
            (k.strip(), v.strip())
            for k, v in (d.split(":", 1) for d in style.split(";") if ":" in d)
        )
        for style in re.findall(rf'<{tag}\b[^>]*?style="([^"]*)"', html)
    ]


def test_summary_table_heads_sit_on_their_columns(session):
    """Each head has its column's alignment and horizontal padding (JupyterLab gives cells
    without their own 0.5em and right-aligns heads, a browser centres them)."""
    from jupyter_carbon.display.report_html import table_html

    for i in range(3):
        run_cell(session, cell=i + 1, label=f"step {i}")
    html = table_html(session_digest(session))
    heads = _styles(html.split("</thead>")[0], "th")
    rows = html.split("</thead>")[1].split("</tr>")[:-1]
    assert len(heads) == 8 and len(rows) == 3
    for row in rows:
        cells = _styles(row, "td")
        assert len(cells) == len(heads)
        for head, cell in zip(heads, cells):
            assert head["text-align"] == cell["text-align"], (head, cell)
            h, c = head["padding"].split(), cell["padding"].split()
            assert (h[1], h[3]) == (c[1], c[3]), (head, cell)  # right and left


def test_our_table_rows_are_not_striped_by_jupyterlab(session):
    """JupyterLab's ``.jp-RenderedHTMLCommon tbody tr:nth-child(odd)`` paints every other row
    (near-black in the dark theme): each row of our tables sets its own background."""
    from jupyter_carbon.display.html import record_html
    from jupyter_carbon.display.report_html import table_html

    view, record, outputs = run_cell(session)
    for html in (record_html(record), table_html(session_digest(session))):
        rows = _styles(html, "tr")
        assert rows and all(r.get("background") == "transparent" for r in rows), html
        assert html.count("<tr") == len(rows)


def test_the_summary_says_when_no_region_is_set(session):
    run_cell(session)
    assert "region: not set (world average)" in summary_text(session_digest(session))


def test_one_line_outputs_start_where_printed_text_does(session):
    """JupyterLab indents a print()'s text by 1ch of the code font (``.jp-OutputArea
    .jp-RenderedText``): the auto-mode line and the running figures do the same."""
    _, _, short = run_cell(session, compact=True, ticks=1)
    view, _, long = run_cell(session, compact=True, ticks=4)
    for html in (short[-1].data["text/html"], view.progress_values[-1]):
        (outer,) = _styles(html, "div")[:1]
        assert outer["padding-left"] == "1ch"
        assert outer["font-family"].startswith("var(--jp-code-font-family"), outer


def _contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours."""

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_plot_text_is_at_least_11_px_and_reads_on_both_themes():
    """Every text of a plot (tick labels, axis labels, legend) is >= 11 CSS px at the size the
    page shows the image, in an ink that reads on white and on JupyterLab dark's backgrounds."""
    from matplotlib.colors import to_hex

    from jupyter_carbon.display.plots import bars_figure

    for scale in (1, 2):
        fig = bars_figure({"cpu": [1e-3, 2e-3], "ram": [5e-4, 1e-4]}, [1, 1], scale=scale)
        fig.canvas.draw()
        ax = fig.axes[0]
        texts = [
            *ax.get_xticklabels(),
            *ax.get_yticklabels(),
            ax.xaxis.label,
            ax.yaxis.label,
            *ax.get_legend().get_texts(),
        ]
        css_px_per_pt = fig.dpi / scale / 72  # the image is shown at 1/scale of its pixels
        for text in texts:
            if text.get_text():
                assert text.get_fontsize() * css_px_per_pt >= 11, text
                ink = to_hex(text.get_color())
                for background in ("#ffffff", "#212121", "#111111"):  # light; dark box, page
                    assert _contrast(ink, background) >= 3.9, (ink, background)
