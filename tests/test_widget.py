"""The widget and summary views without a browser: ipywidgets state, display calls, plots."""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402

from jupyter_carbon.config import Config  # noqa: E402
from jupyter_carbon.display.plots import LAST_CELLS, cells_bar_png, cumulative_png, timeline_png  # noqa: E402
from jupyter_carbon.display.summary import SummaryView  # noqa: E402
from jupyter_carbon.display.text import format_record, format_record_line, format_summary  # noqa: E402
from jupyter_carbon.display.widget import MIN_UPDATE_S, WidgetView  # noqa: E402
from jupyter_carbon.sampler import LiveStatus  # noqa: E402
from jupyter_carbon.carbon_session import CarbonSession  # noqa: E402

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
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
def session():
    clock = Clock()
    s = CarbonSession(Config(power={"cpu": 30.0, "ram": 6.0}), clock=clock, threaded=False)
    s.test_clock = clock
    yield s
    s.shutdown()


def run_cell(session, view_clock=None, *, compact=False, ticks=4, tick_s=0.5, status="ok", label="train", items=None, cell=1, note=None):
    """Open a window with a WidgetView, tick the sampler by hand, close it; returns (view, record, outputs)."""
    view_clock = view_clock or Clock()
    with capture_output() as cap:
        view = WidgetView(session, compact=compact, label=label, cell=cell, items=items, clock=view_clock)
        m = session.open(label, listener=view.on_live, kind="cell", cell=cell, items=items)
        live_values = []
        for _ in range(ticks):
            session.test_clock.t_s += tick_s
            view_clock.t_s += tick_s
            session.sampler.tick()
            live_values.append(view.live.value)
        if note:
            view.note(note)
        record = session.stop(m, status=status)
        view.finish(record)
    view.live_values = live_values
    return view, record, cap.outputs


def test_full_view_shows_live_figures_then_the_report_with_fallbacks(shell, session):
    view, record, outputs = run_cell(session, items=1000)
    assert view.errors == []
    # one display from the constructor, one update through the handle at the end
    assert [o.update for o in outputs] == [False, True]
    first, last = outputs
    assert first.data[WIDGET_MIME]["model_id"] == view.box.model_id
    assert first.transient["display_id"] == last.transient["display_id"]
    # live figures changed at every tick (0.5 s apart) and said power, energy and CO2e
    assert len(set(view.live_values)) == 4
    assert "CPU 30 W" in view.live_values[-1] and "mWh" in view.live_values[-1] and "CO2e so far" in view.live_values[-1]
    # the final bundle: widget view + text/plain from text.py + text/html with the plot
    assert last.data[WIDGET_MIME]["model_id"] == view.box.model_id
    assert last.data["text/plain"] == format_record(record)
    html = last.data["text/html"]
    assert "data:image/png;base64," in html
    png = base64.b64decode(html.split("data:image/png;base64,")[1].split('"')[0])
    assert png.startswith(PNG_MAGIC)
    for text in ("20 mWh", "CO2e", "estimated (constant)", "per item", "session so far: 1 cells", "smartphone charges"):
        assert text in html, text
    assert "EPA" in html  # equivalents carry their source (title attribute)
    # widget state
    assert view.live.layout.display == "none"
    assert "20 mWh" in view.result.value and "TOTAL" in view.result.value
    assert bytes(view.plot.value).startswith(PNG_MAGIC) and view.plot.layout.display == ""


def test_live_updates_are_throttled_and_batched(session):
    clock = Clock()
    with capture_output():
        view = WidgetView(session, compact=False, clock=clock)
    sends = []
    original = view.live.send_state
    view.live.send_state = lambda key=None: (sends.append(key), original(key))
    status = LiveStatus(1.0, {"cpu": 30.0}, {"cpu": 30.0})
    for _ in range(50):  # a burst in the same instant: one update
        view.on_live(status)
    clock.t_s += MIN_UPDATE_S / 2
    view.on_live(status._replace(elapsed_s=1.1))
    assert view.live_updates == 1 and len(sends) == 1
    clock.t_s += MIN_UPDATE_S
    view.on_live(status._replace(elapsed_s=1.5))
    assert view.live_updates == 2 and len(sends) == 2
    assert "1.5 s" in view.live.value


def test_on_live_from_another_thread_only_sets_traits(session):
    with capture_output() as cap:
        view = WidgetView(session, compact=False)
        before = len(cap.outputs)
        thread = threading.Thread(target=view.on_live, args=(LiveStatus(2.0, {"cpu": 60.0}, {"cpu": 30.0}),))
        thread.start()
        thread.join()
        thread = threading.Thread(target=view.note, args=("loop: 1,000 of 10,000 items, ~9 s left",))
        thread.start()
        thread.join()
    assert len(cap.outputs) == before == 1  # no display call from the thread
    assert "2 s" in view.live.value and "60 mWh" not in view.live.value
    assert "~9 s left" in view.notes_widget.value and view.notes_widget.layout.display == ""


def test_on_live_never_raises(session):
    with capture_output():
        view = WidgetView(session, compact=False)
    view.on_live(None)  # type: ignore[arg-type]
    view.on_live(LiveStatus(1.0, {"cpu": float("nan")}, {"cpu": "bad"}))  # type: ignore[dict-item]
    assert view.errors and all(e.startswith("live:") for e in view.errors)


def test_compact_view_is_one_line_live_only_for_long_cells(session):
    short, record, outputs = run_cell(session, compact=True, ticks=1, tick_s=0.5)
    assert short.live_values == [""]  # 0.5 s: no live line
    assert outputs[-1].data["text/plain"] == format_record_line(record)
    assert "<img" not in outputs[-1].data["text/html"] and short.plot is None
    long, record, outputs = run_cell(session, compact=True, ticks=4, tick_s=0.5)
    assert "carbon: running" in long.live_values[-1]
    assert "jc-compact" in long.box._dom_classes
    # finished: a static line, and the widgets are closed (no model kept alive per auto-mode cell)
    assert "jupyter.widget-view" not in str(list(outputs[-1].data)) and "jc-compact" in outputs[-1].data["text/html"]
    assert outputs[-1].data["text/plain"] == format_record_line(record)
    assert long.box.comm is None and long.live.comm is None


def test_compact_cells_leave_no_widget_model_behind(session):
    from ipywidgets.widgets.widget import _instances

    run_cell(session, compact=True, ticks=1)  # anything built once per process (e.g. shared styles)
    before = len(_instances)
    for _ in range(20):
        run_cell(session, compact=True, ticks=4)
    assert len(_instances) == before  # widgets, their layouts and styles all closed


def test_error_status_is_shown(session):
    view, record, outputs = run_cell(session, status="error", note="a note")
    assert record.status == "error"
    assert "ERROR" in view.result.value and "ERROR" in outputs[-1].data["text/html"]
    assert "[ERROR]" in outputs[-1].data["text/plain"]
    assert "jc-error" in view.box._dom_classes
    assert "a note" in view.result.value


def test_a_broken_display_falls_back_to_text(session, capsys):
    def broken_display(*args, **kwargs):
        raise RuntimeError("no frontend")

    view = WidgetView(session, compact=False, display=broken_display)
    m = session.open("x", listener=view.on_live)
    view.on_live(LiveStatus(1.0, {"cpu": 1.0}, {"cpu": 1.0}))
    view.finish(session.stop(m))
    assert view.errors and "no frontend" in view.errors[0]
    assert "TOTAL" in capsys.readouterr().out


def test_plot_highlights_this_cell_and_reads_only_the_last_30(session):
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

    records = OnlySlices(session.records * 20)
    png = cells_bar_png(records, highlight_id=session.records[-1].id)
    assert png.startswith(PNG_MAGIC)
    assert records.slices == [slice(-LAST_CELLS, None)]
    assert cells_bar_png(session.records, highlight_id=None) != cells_bar_png(session.records, highlight_id=session.records[-1].id)


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


def test_plots_leave_pyplot_backend_and_figures_alone(session):
    run_cell(session, ticks=3)
    code = (
        "import sys, matplotlib\n"
        "raw_backend = lambda: dict.__getitem__(matplotlib.rcParams, 'backend')  # reading it does not resolve it\n"
        "backend = raw_backend()\n"
        "from jupyter_carbon.display import plots\n"
        "import pickle\n"
        "records = pickle.loads(sys.stdin.buffer.read())\n"
        "plots.cells_bar_png(records, records[-1].id); plots.cumulative_png(records); plots.timeline_png(records[-1])\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "assert raw_backend() == backend, 'backend resolved or changed'\n"
        "import matplotlib.pyplot as plt\n"
        "fig = plt.figure(); nums = plt.get_fignums()\n"
        "plots.cells_bar_png(records, records[-1].id); plots.timeline_png(records[-1])\n"
        "assert plt.get_fignums() == nums and plt.gcf() is fig, 'figure leaked'\n"
        "print('ok')\n"
    )
    import pickle

    out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(list(session.records)), capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().strip() == "ok"


def test_summary_widget_state_and_fallbacks(session):
    for i, status in enumerate(("ok", "error", "ok")):
        run_cell(session, cell=i + 1, ticks=2 + 2 * i, status=status, label=f"step {i}")
    with capture_output() as cap:
        view = SummaryView(session)
    (out,) = cap.outputs
    assert out.data[WIDGET_MIME]["model_id"] == view.box.model_id
    assert out.data["text/plain"].startswith(format_summary(session.records, session.totals(), "")[:40])
    html = out.data["text/html"]
    assert html.count("data:image/png;base64,") == 3  # bar, cumulative, timeline
    for text in ("3 cells", "step 0", "step 2", "ERROR", "CPU CO2e", "RAM energy", "PUE 1", "sampling interval 1 s", "world average", "smartphone charges"):
        assert text in html, text
    assert "step 1" in view.table.value and "ERROR" in view.table.value
    assert view.dropdown.value == session.records[-1].id and len(view.dropdown.options) == 3
    last_png = bytes(view.timeline.value)
    assert last_png.startswith(PNG_MAGIC)
    view.dropdown.value = session.records[0].id  # what a user's choice in the frontend does
    assert bytes(view.timeline.value) != last_png and bytes(view.timeline.value) == timeline_png(session.records[0])
    assert cumulative_png(session.records).startswith(PNG_MAGIC)


def test_summary_of_an_empty_session(session):
    with capture_output() as cap:
        view = SummaryView(session)
    assert view.dropdown is None
    assert "no cells measured yet" in cap.outputs[0].data["text/html"]
    assert "0 cells" in cap.outputs[0].data["text/plain"]


@pytest.mark.parametrize("what", ["cell", "summary"])
def test_without_ipywidgets_a_kernel_gets_text(session, monkeypatch, capsys, what):
    import sys

    import jupyter_carbon.display as display

    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails, as when ipywidgets is not installed
    for name in ("jupyter_carbon.display.widget", "jupyter_carbon.display.summary"):
        monkeypatch.delitem(sys.modules, name)  # imported afresh, without ipywidgets
    monkeypatch.setattr(display, "in_kernel", lambda shell: True)
    if what == "cell":
        view = display.make_view(None, session, compact=True)
        assert type(view).__name__ == "TextView"
    else:
        m = session.open("x")
        session.stop(m)
        display.show_summary(None, session)
        assert "jupyter_carbon session: 1 cells" in capsys.readouterr().out
