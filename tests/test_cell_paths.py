"""Every cell measured exactly once, whatever path IPython takes to run it (a real
InteractiveShell).

Each test runs cells the way IPython, ipykernel or a user really does, and checks the records:
how many, their status, their duration. Kernel subshells (cells in other threads) are in
test_subshells.py.
"""

from __future__ import annotations

import asyncio
import shutil
import threading

import pytest

import jupyter_carbon
from jupyter_carbon.extension import get_extension


def run(shell, cell):
    return shell.run_cell(cell, store_history=True)


def records(shell):
    return get_extension(shell).session.records


def open_windows(shell):
    return get_extension(shell).session.sampler.open_windows


def run_cell_async_directly(shell, raw):
    """As IPython's own tests, embedding tools and async front ends do: no post_run_cell."""
    coro = shell.run_cell_async(raw, store_history=True, transformed_cell=shell.transform_cell(raw))
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


# --- 1. pre_run_cell without post_run_cell --------------------------------------------------------


def test_run_cell_async_without_post_run_cell_is_measured_and_blocks_no_later_cell(shell):
    run(shell, "%carbon on --quiet")
    before = len(records(shell))
    result = run_cell_async_directly(shell, "import time\ntime.sleep(0.2)\n'direct'")
    assert result.success and result.result == "direct"
    direct = records(shell)[before:]
    assert len(direct) == 1 and direct[0].status == "ok" and direct[0].kind == "auto"
    assert 0.2 <= direct[0].duration_s < 1.0
    assert direct[0].cell == result.execution_count
    assert open_windows(shell) == 0
    later = [run(shell, f"y = {i}") for i in range(3)]  # plain cells after it are measured again
    assert [r.cell for r in records(shell)[-3:]] == [r.execution_count for r in later]
    run(shell, "%carbon off")


def test_carbon_cell_run_directly_without_post_run_cell(shell):
    result = run_cell_async_directly(
        shell, "%%carbon --label direct --quiet\nimport time\ntime.sleep(0.1)\n1 / 0"
    )
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    [record] = records(shell)
    assert record.label == "direct" and record.status == "error" and record.duration_s >= 0.1
    assert open_windows(shell) == 0
    run(shell, "%%carbon --label next --quiet\nz = 1")
    assert [r.label for r in records(shell)] == ["direct", "next"]


def test_a_cell_whose_run_cell_async_raises_is_closed_with_its_status(shell, monkeypatch):
    """An exception out of run_cell_async itself (here: storing the history fails): IPython
    sends post_run_cell a result with a new info; the cell still gets its one record."""

    def broken(*args, **kwargs):
        raise RuntimeError("history database is locked")

    monkeypatch.setattr(shell.history_manager, "store_inputs", broken)
    result = run(shell, "%%carbon --label cut --quiet\nnever = True")
    monkeypatch.undo()
    assert isinstance(result.error_in_exec, RuntimeError) and "never" not in shell.user_ns
    assert [(r.label, r.status) for r in records(shell)] == [("cut", "error")]
    assert open_windows(shell) == 0
    run(shell, "%carbon on --quiet")
    run(shell, "after = 1")
    assert records(shell)[-1].kind == "auto"  # nothing left blocking auto mode
    run(shell, "%carbon off")


def test_post_execute_work_of_a_cell_is_part_of_its_window(shell):
    """What IPython runs after the code and before post_run_cell (inline figures are rendered in
    post_execute) belongs to the cell; a cell run directly ends with its code."""
    import time

    def render_figures():
        time.sleep(0.3)

    shell.events.register("post_execute", render_figures)
    try:
        run(shell, "%%carbon --quiet --label plotted\nx = 1")
    finally:
        shell.events.unregister("post_execute", render_figures)
    [record] = records(shell)
    assert record.label == "plotted" and record.duration_s >= 0.3


# --- 2. post_run_cell without pre_run_cell --------------------------------------------------------


@pytest.mark.parametrize("auto", [False, True])
def test_nested_empty_run_cell_does_not_close_the_enclosing_cell(shell, auto):
    if auto:
        run(shell, "%carbon on --quiet")
    before = len(records(shell))
    cell = (
        "import time\nget_ipython().run_cell('')\nget_ipython().run_cell('   ')\n"
        "time.sleep(0.5)\nraise ValueError('late')"
    )
    result = run(shell, cell if auto else "%%carbon --quiet --label outer\n" + cell)
    assert isinstance(result.error_in_exec, ValueError)
    [record] = records(shell)[before:]
    assert record.status == "error" and record.duration_s >= 0.5
    assert record.cell == result.execution_count
    assert open_windows(shell) == 0
    if auto:
        run(shell, "%carbon off")


def test_nested_cells_inside_a_measured_cell_are_part_of_it(shell):
    run(shell, "%carbon on --quiet")
    before = len(records(shell))
    result = run(shell, "for i in range(3):\n    get_ipython().run_cell(f'v{i} = {i}')\n'outer'")
    assert result.success and shell.user_ns["v2"] == 2
    assert len(records(shell)) == before + 1  # counted in the outer cell
    run(shell, "%carbon off")


# --- 3. %%carbon stacked on another cell magic ----------------------------------------------------


def test_carbon_then_capture(shell):
    result = run(
        shell, "%%carbon --label cap --quiet\n%%capture captured\nprint('inside')\nvalue = 3"
    )
    assert result.success
    assert shell.user_ns["captured"].stdout == "inside\n" and shell.user_ns["value"] == 3
    assert [(r.label, r.status) for r in records(shell)] == [("cap", "ok")]


def test_carbon_then_timeit(shell, capsys):
    result = run(shell, "%%carbon --label t --quiet\n%%timeit -n 2 -r 2\nsum(range(100))")
    assert result.success
    assert "loop" in capsys.readouterr().out  # timeit's own report
    assert [r.label for r in records(shell)] == ["t"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_carbon_then_bash(shell, capfd):
    result = run(shell, "%%carbon --label sh --quiet\n%%bash\necho from-bash")
    assert result.success and "from-bash" in capfd.readouterr().out
    assert [r.label for r in records(shell)] == ["sh"]


def test_carbon_then_writefile(shell, tmp_path):
    target = tmp_path / "written.py"
    result = run(shell, f"%%carbon --label w --quiet\n%%writefile {target}\nprint('hi')\n")
    assert result.success and target.read_text() == "print('hi')\n"
    assert [r.label for r in records(shell)] == ["w"]


def test_time_then_carbon_runs_the_body_and_measures_it_once(shell, capsys):
    result = run(
        shell, "%%time\n%%carbon --label timed --quiet\nimport time\ntime.sleep(0.2)\n6 * 7"
    )
    assert result.success and result.result == 42
    assert "Wall time" in capsys.readouterr().out
    [record] = records(shell)
    assert (
        record.label == "timed"
        and record.kind == "cell"
        and record.status == "ok"
        and record.duration_s >= 0.2
    )


def test_time_then_carbon_error_is_recorded(shell):
    run(
        shell, "%%time\n%%carbon --label bad --quiet\n1 / 0"
    )  # IPython 8's %%time shows the error, 9's raises it
    assert [(r.label, r.status) for r in records(shell)] == [("bad", "error")]


def test_timeit_then_carbon_is_measured_once_as_the_whole_cell(shell, capsys):
    result = run(shell, "%%timeit -n 5 -r 3\n%%carbon --quiet --label all\nsum(range(10))")
    assert result.success and "loops each" in capsys.readouterr().out
    assert [(r.label, r.kind) for r in records(shell)] == [("all", "cell")]


def test_capture_then_carbon_is_measured_once(shell):
    run(shell, "%carbon on --quiet")
    result = run(shell, "%%capture captured\n\n%%carbon --label under --quiet\nprint('inside')")
    run(shell, "%carbon off")
    assert result.success and shell.user_ns["captured"].stdout == "inside\n"
    assert [(r.label, r.kind) for r in records(shell)] == [
        ("under", "cell")
    ]  # the cell (a %carbon line cell is not measured)


def test_time_then_carbon_in_auto_mode_is_measured_once(shell):
    run(shell, "%carbon on --quiet")
    run(shell, "%%time\n%%carbon --label timed --quiet\nx = 1")
    run(shell, "%carbon off")
    assert [r.label for r in records(shell)] == [
        "timed"
    ]  # the cell (a %carbon line cell is not measured)


# --- 5. %%carbon in a .ipy file run with %run (silent: no hooks) ----------------------------------


def test_carbon_cell_in_an_ipy_file_is_measured(shell, tmp_path):
    script = tmp_path / "job.ipy"
    script.write_text("%%carbon --label ipy --quiet\nimport time\ntime.sleep(0.1)\nipy_value = 7\n")
    result = run(shell, f"%run {script}")
    assert result.success and shell.user_ns["ipy_value"] == 7
    [record] = records(shell)
    assert record.label == "ipy" and record.status == "ok" and record.duration_s >= 0.1


def test_silent_cell_runs_the_magic_and_is_measured_once(shell):
    result = shell.run_cell("%%carbon --label quiet-run --quiet\nsilent_value = 5", silent=True)
    assert result.success and shell.user_ns["silent_value"] == 5
    assert [r.label for r in records(shell)] == ["quiet-run"]


def test_carbon_magic_called_inside_a_carbon_cell_gets_its_own_record(shell):
    result = run(
        shell,
        "%%carbon --label outer --quiet\nget_ipython().run_cell_magic('carbon', "
        "'--label inner --quiet', 'x = 2')\ny = 3",
    )
    assert result.success and shell.user_ns["x"] == 2 and shell.user_ns["y"] == 3
    assert sorted(r.label for r in records(shell)) == ["inner", "outer"]


def test_transform_cell_called_directly_gives_what_ipython_gives(shell):
    assert shell.transform_cell("%%carbon --label x\ny = 1\n").startswith(
        "get_ipython().run_cell_magic('carbon'"
    )


# --- 6. the session goes away while a window is open ----------------------------------------------


def test_unload_inside_a_track_block(shell):
    result = run(
        shell,
        "import jupyter_carbon\n"
        "with jupyter_carbon.track('block') as m:\n"
        "    get_ipython().run_line_magic('unload_ext', 'jupyter_carbon')\n"
        "    after_unload = True\n",
    )
    assert result.success and shell.user_ns["after_unload"] is True
    record = shell.user_ns["m"].record
    assert (
        record is not None
        and record.label == "block"
        and any(f.startswith("cut short") for f in record.flags)
    )
    import jupyter_carbon

    assert record in jupyter_carbon.session().records
    shell.run_line_magic("load_ext", "jupyter_carbon")  # for the fixture's unload


def test_unload_inside_a_measured_cell(shell):
    result = run(
        shell,
        "%%carbon --label unloading --quiet\nget_ipython().run_line_magic('unload_ext', "
        "'jupyter_carbon')\nstill_ran = 1",
    )
    assert result.success and shell.user_ns["still_ran"] == 1
    import jupyter_carbon

    [record] = jupyter_carbon.session().records
    assert record.label == "unloading" and any(f.startswith("cut short") for f in record.flags)
    shell.run_line_magic("load_ext", "jupyter_carbon")


def test_session_reset_while_a_block_is_open_in_another_thread(shell):
    from jupyter_carbon import track
    from jupyter_carbon.carbon_session import reset_session

    opened, release = threading.Event(), threading.Event()
    seen: dict = {}

    def worker():
        try:
            with track("worker") as m:
                opened.set()
                release.wait(5)
            seen["record"] = m.record
        except BaseException as exc:  # what the user's code would see
            seen["error"] = exc

    session = jupyter_carbon.session()
    thread = threading.Thread(target=worker)
    thread.start()
    assert opened.wait(5)
    reset_session()
    release.set()
    thread.join(5)
    assert "error" not in seen
    assert seen["record"].label == "worker" and any(
        f.startswith("cut short") for f in seen["record"].flags
    )
    assert seen["record"] in session.records


def test_carbon_reset_while_a_block_is_open(shell):
    result = run(
        shell,
        "import jupyter_carbon\nwith jupyter_carbon.track('kept') as m:\n"
        "    get_ipython().run_line_magic('carbon', 'reset')\n",
    )
    assert result.success
    assert [r.label for r in records(shell)] == ["kept"] and not shell.user_ns["m"].record.flags


# --- 7. a rejected %config value ------------------------------------------------------------------


def test_rejected_config_leaves_the_bridge_connected(shell):
    session = get_extension(shell).session
    try:
        run(shell, "%config Carbon.power = {'cpu': 'lots'}")
        run(shell, "%config Carbon.region = 'FR'")
        assert session.config.region == "FR"
        run(shell, "%config Carbon.pue = 0.5")  # rejected too (below 1)
        run(shell, "%config Carbon.pue = 1.3")
        assert session.config.pue == 1.3
        run(shell, "%%carbon --quiet\nx = 1")
        record = records(shell)[-1]
        assert record.intensity_source.startswith("table:FR") and record.pue == 1.3
    finally:
        shell.config.pop("Carbon", None)


# --- the session's stack of current windows: track_iter and track() need no IPython ---------------


def test_track_iter_attaches_to_a_track_block():
    from jupyter_carbon import track, track_iter
    from jupyter_carbon.carbon_session import CarbonSession
    from jupyter_carbon.config import Config

    session = CarbonSession(Config(), threaded=False)
    try:
        with track("outer", session=session) as m:
            for _ in track_iter(range(5), session=session):
                pass
        assert [r.label for r in session.records] == ["outer"]
        assert m.record.extra["loop"]["iterations"] == 5
    finally:
        session.shutdown()


def test_a_loop_in_another_thread_does_not_attach_to_this_threads_cell(shell):
    run(
        shell,
        "%%carbon --label main --quiet\nimport threading, jupyter_carbon\n"
        "t = threading.Thread(target=lambda: list(jupyter_carbon.track_iter(range(3), "
        "label='bg')))\nt.start(); t.join()",
    )
    kinds = sorted((r.label, r.kind) for r in records(shell))
    assert kinds == [("bg", "loop"), ("main", "cell")]
    assert "loop" not in records(shell)[-1].extra
