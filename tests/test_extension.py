"""The extension in a real IPython InteractiveShell: %%carbon, %carbon, auto mode, errors."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

import jupyter_carbon
from jupyter_carbon.extension import get_extension


def run(shell, cell):
    return shell.run_cell(cell, store_history=True)


def records(shell):
    return get_extension(shell).session.records


def test_load_prints_one_line_saying_what_is_measured_and_how(capfd, _shell, no_pynvml):
    from jupyter_carbon.carbon_session import reset_session

    reset_session()
    _shell.run_line_magic("load_ext", "jupyter_carbon")
    try:
        out, err = capfd.readouterr()
        assert err == ""
        lines = out.splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("jupyter_carbon: CPU (") and "estimated" in lines[0]
        assert "gCO2e/kWh (world average — set a region)" in lines[0]
        ext = get_extension(_shell)
        _shell.run_line_magic("load_ext", "jupyter_carbon")  # loading twice is harmless
        from jupyter_carbon import load_ipython_extension

        load_ipython_extension(_shell)  # even when called directly, past IPython's own guard
        assert get_extension(_shell) is ext
        for event in ("pre_run_cell", "post_run_cell"):
            assert (
                sum(getattr(cb, "__self__", None) is ext for cb in _shell.events.callbacks[event])
                == 1
            )
        assert _shell.input_transformers_cleanup.count(ext.transform) == 1
    finally:
        _shell.run_line_magic("unload_ext", "jupyter_carbon")


def test_cell_runs_exactly_as_without_the_magic(shell, capsys):
    result = run(shell, "%%carbon --label sq\nprint('hello')\nvalue = 6 * 7\nvalue")
    out = capsys.readouterr().out
    assert result.success and result.result == 42
    assert shell.user_ns["_"] == 42 and shell.user_ns["Out"][result.execution_count] == 42
    assert "hello\n" in out and "carbon: sq" in out
    assert shell.user_ns["value"] == 42
    record = records(shell)[-1]
    assert record.label == "sq" and record.status == "ok" and record.kind == "cell"
    assert record.cell == result.execution_count


def test_top_level_await_works(shell):
    result = run(shell, "%%carbon\nimport asyncio\nawait asyncio.sleep(0.01)\n'awaited'")
    assert result.success and result.result == "awaited"
    assert records(shell)[-1].status == "ok"


def test_exception_propagates_with_the_users_traceback_and_record_is_kept(shell, capsys):
    result = run(shell, "%%carbon --label boom\ndef f():\n    raise ValueError('nope')\nf()")
    out = capsys.readouterr().out
    assert isinstance(result.error_in_exec, ValueError)
    assert "ValueError: nope" in out and "line 3" in out  # the user's line numbers
    assert "jupyter_carbon" not in out.split("ValueError: nope")[0].split("Traceback")[-1]
    assert records(shell)[-1].status == "error" and records(shell)[-1].label == "boom"


def test_keyboard_interrupt_marks_interrupted_and_still_interrupts(shell):
    result = run(shell, "%%carbon\nraise KeyboardInterrupt")
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert records(shell)[-1].status == "interrupted"


def test_system_exit_is_recorded(shell):
    result = run(shell, "%%carbon\nraise SystemExit(3)")
    assert not result.success
    assert records(shell)[-1].status == "error"


def test_items_quiet_and_scope(shell, capsys):
    run(shell, "%%carbon --items 1000 --task text-classification\nsum(range(10000))")
    out = capsys.readouterr().out
    assert "per 1,000 items" in out and "text-classification mean in Power Hungry Processing" in out
    assert records(shell)[-1].items == 1000
    run(shell, "%%carbon --quiet\nx = 1")
    assert capsys.readouterr().out == ""
    assert len(records(shell)) == 2
    run(shell, "%%carbon --scope process\nx = 2")
    assert records(shell)[-1].scope == "process"
    assert records(shell)[-1].components["cpu"].methods == ("cpu-model+process-share",)


@pytest.mark.parametrize(
    "line, message",
    [
        ("--bogus", "unknown %%carbon option '--bogus'"),
        ("--items", "--items needs a value"),
        ("--items ten", "--items 'ten' is not a whole number"),
        ("--items 0", "must be positive"),
        ("--scope galaxy", "choose one of: auto, machine, process, container"),
        ("--task knitting", "choose one of: text-classification"),
        ("--label 'unclosed", "cannot parse %%carbon line"),
        ("stray", "unknown %%carbon option 'stray'"),
    ],
)
def test_bad_cell_line_is_a_one_line_usage_error_and_body_does_not_run(
    shell, capsys, line, message
):
    before = len(records(shell))
    result = run(shell, f"%%carbon {line}\nran = True")
    assert not result.success
    out, err = capsys.readouterr()
    assert "ran" not in shell.user_ns
    assert "UsageError" in out + err and message in out + err
    assert "Traceback" not in out + err
    assert len(records(shell)) == before


@pytest.mark.parametrize(
    "line, message",
    [
        ("bogus", "unknown %carbon subcommand 'bogus'; choose one of: on, off"),
        ("config interval=fast", "interval='fast' is not a number"),
        ("config interval=100", "out of range"),
        ("config scope=galaxy", "choose one of: auto, machine, process, container"),
        ("config colour=red", "unknown setting 'colour'"),
        ("config region=Frnce", "closest: FR"),
        ("config nothing", "expects key=value pairs"),
        ("on please", "takes no arguments"),
        ("baseline soon", "expected seconds"),
        ("export", "takes one path"),
    ],
)
def test_bad_line_is_a_one_line_usage_error(shell, capsys, line, message):
    run(shell, f"%carbon {line}")
    out, err = capsys.readouterr()
    assert message in out + err and "UsageError" in out + err and "Traceback" not in out + err


def test_auto_mode_measures_every_cell_with_a_compact_line(shell, capsys):
    run(shell, "%carbon on")
    run(shell, "a = 1")
    run(shell, "b = 2")
    run(shell, "%carbon status")
    run(shell, "%carbon off")
    run(shell, "c = 3")
    out = capsys.readouterr().out
    kinds = [r.kind for r in records(shell)]
    assert kinds == ["auto", "auto"]  # a=1, b=2; not the %carbon status/off cells, not c=3
    assert sum(line.startswith("carbon: ") for line in out.splitlines()) == 2


def test_carbon_cell_in_auto_mode_is_counted_once(shell):
    run(shell, "%carbon on")
    run(shell, "%%carbon --label once\nx = sum(range(1000))")
    run(shell, "%carbon off")
    labelled = [r for r in records(shell) if r.label == "once"]
    assert len(labelled) == 1 and labelled[0].kind == "cell"
    cells = [r.cell for r in records(shell)]
    assert len(cells) == len(set(cells))  # one record per cell


def test_nested_magic_inside_capture(shell):
    result = run(shell, "%%capture captured\n%%carbon --label inner\nprint('inside')")
    assert result.success
    assert "inside" in shell.user_ns["captured"].stdout
    assert records(shell)[-1].label == "inner"


def test_nested_cells_in_auto_mode_close_every_window(shell):
    """%%capture runs its body with a nested run_cell: a %%carbon cell under it is measured once,
    as the whole cell, and no window stays open afterwards."""
    run(shell, "%carbon on --quiet")
    run(shell, "%%capture captured\n%%carbon --label inner\nprint('inside')")
    run(shell, "%%capture captured\nprint('plain inside')")
    run(shell, "%carbon off")
    session = get_extension(shell).session
    assert session.sampler.open_windows == 0 and session.current() is None
    kinds = [(r.kind, r.label) for r in records(shell)]
    assert kinds.count(("cell", "inner")) == 1
    assert (
        sum(kind == "auto" for kind, _ in kinds) == 1
    )  # the plain %%capture cell (a %carbon line cell is not measured)


def test_programmatic_run_cell_magic_measures_and_returns_value(shell):
    value = shell.run_cell_magic("carbon", "--label direct", "y = 5\ny * 2")
    assert value == 10 and shell.user_ns["y"] == 5
    assert records(shell)[-1].label == "direct"


def test_status_summary_reset_help(shell, capsys):
    run(shell, "%%carbon --label one\nx = 1")
    capsys.readouterr()
    run(shell, "%carbon status")
    out = capsys.readouterr().out
    assert "sources in use:" in out and "rapl:" in out and "nvml:" in out and "PUE 1" in out
    run(shell, "%carbon summary")
    out = capsys.readouterr().out
    assert "jupyter_carbon session: 1 cell ·" in out and "one" in out
    run(shell, "%carbon help")
    assert "%carbon on [--quiet] | off" in capsys.readouterr().out
    run(shell, "%carbon reset")
    assert "forgot 1 record of" in capsys.readouterr().out
    assert records(shell) == []


def test_export_of_one_record_says_so_in_the_singular(shell, tmp_path, capsys):
    run(shell, "%%carbon --label one\nx = 1")
    capsys.readouterr()
    run(shell, f"%carbon export {tmp_path / 'one.json'}")
    assert f"wrote 1 record to {tmp_path / 'one.json'}" in capsys.readouterr().out


def test_config_line_traitlets_and_env(shell, capsys, caplog):
    run(shell, "%carbon config region=FR pue=1.2 interval=0.5")
    session = get_extension(shell).session
    assert (session.config.region, session.config.pue, session.config.interval) == ("FR", 1.2, 0.5)
    run(shell, "%config Carbon.interval = 0.25")
    assert session.config.interval == 0.25 and session.sampler.interval_s == 0.25
    run(shell, "%%carbon\nx = 1")
    record = records(shell)[-1]
    assert record.intensity_source.startswith("table:FR") and record.pue == 1.2
    capsys.readouterr()
    try:
        run(shell, "%config Carbon.scope = 'galaxy'")
        out, err = capsys.readouterr()
        shown = out + err + caplog.text  # IPython's %config reports errors through logging
        assert (
            "choose one of: auto, machine, process, container" in shown and "Traceback" not in shown
        )
        assert session.config.scope == "auto" and get_extension(shell).configurable.scope == "auto"
    finally:
        shell.config.pop("Carbon", None)


def test_env_variables_apply_at_load(_shell, monkeypatch, capsys, no_pynvml):
    from jupyter_carbon.carbon_session import reset_session

    monkeypatch.setenv("JUPYTER_CARBON_REGION", "US-CA")
    monkeypatch.setenv("JUPYTER_CARBON_INTERVAL", "nonsense")
    reset_session()
    _shell.run_line_magic("load_ext", "jupyter_carbon")
    try:
        out, err = capsys.readouterr()
        session = get_extension(_shell).session
        assert session.config.region == "US-CA" and session.config.interval == 1.0
        assert "ignored JUPYTER_CARBON_INTERVAL" in err and err.count("\n") == 1
    finally:
        _shell.run_line_magic("unload_ext", "jupyter_carbon")
        reset_session()


def test_wrong_types_in_the_ipython_config_are_one_line_each_and_the_extension_works(
    _shell, capsys, no_pynvml
):
    from jupyter_carbon.carbon_session import reset_session

    wrong = {"interval": "fast", "power": "cpu:10", "log_dir": None, "store_source": "yes"}
    for name, value in wrong.items():
        _shell.config.Carbon[name] = value  # as ipython_config.py's c.Carbon.<name> = value
    _shell.config.Carbon.region = "FR"  # a good setting beside them still applies
    reset_session()
    try:
        for _ in range(2):  # a second %load_ext finds it loaded, never half loaded
            _shell.run_line_magic("load_ext", "jupyter_carbon")
        out, err = capsys.readouterr()
        session = get_extension(_shell).session
        lines = [line for line in err.splitlines() if "in the IPython config" in line]
        assert len(lines) == 4 and "Traceback" not in out + err, err
        for name, value in wrong.items():
            line = next(line for line in lines if f"c.Carbon.{name} = {value!r}" in line)
            assert f"using {getattr(session.config, name)!r}" in line
        assert session.config.interval == 1.0 and session.config.store_source is False
        assert session.config.region == "FR"
        assert _shell.run_cell("%%carbon --quiet\nx = 1").success
        assert len(session.records) == 1 and session.records[0].status == "ok"
    finally:
        _shell.run_line_magic("unload_ext", "jupyter_carbon")
        _shell.config.pop("Carbon", None)
        reset_session()


def test_a_failing_source_never_breaks_the_cell(shell, capsys):
    session = get_extension(shell).session
    source = session.sampler.sources[0]
    original = source.read
    calls = {"n": 0}

    def broken(now_s):
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("sensor fell off")
        return original(now_s)

    source.read = broken
    result = run(shell, "%%carbon\n21 * 2")
    assert result.success and result.result == 42
    assert any("sensor fell off" in f for f in records(shell)[-1].flags)


def test_a_failing_display_is_reported_once_and_the_cell_is_unaffected(shell, capsys, monkeypatch):
    from jupyter_carbon.display import text

    def broken(self, record):
        raise RuntimeError("no screen")

    monkeypatch.setattr(text.TextView, "finish", broken)
    for _ in range(3):
        result = run(shell, "%%carbon\n'fine'")
        assert result.success and result.result == "fine"
    out, err = capsys.readouterr()
    assert err.count("jupyter_carbon: displaying the result failed (RuntimeError: no screen)") == 1
    assert len(records(shell)) == 3  # nothing measured is lost


def test_unload_removes_everything_and_reload_100_times_leaks_nothing(_shell, no_pynvml):
    from jupyter_carbon.carbon_session import reset_session

    reset_session()

    def counts():
        return (
            len(_shell.events.callbacks["pre_run_cell"]),
            len(_shell.events.callbacks["post_run_cell"]),
            len(_shell.input_transformers_cleanup),
            len(_shell.configurables),
            "carbon" in _shell.magics_manager.magics["line"],
            threading.active_count(),
        )

    before = counts()
    for i in range(100):
        _shell.run_line_magic("load_ext", "jupyter_carbon")
        if i % 10 == 0:
            _shell.run_cell("%%carbon --quiet\nimport time; time.sleep(0.01)")
        _shell.run_line_magic("unload_ext", "jupyter_carbon")
    assert counts() == before
    assert not any(t.name == "jupyter_carbon-sampler" for t in threading.enumerate())
    assert len(jupyter_carbon.session().records) == 10  # the records survive unload/reload
    reset_session()


def test_load_imports_no_matplotlib_or_ipywidgets():
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_line_magic('load_ext', 'jupyter_carbon')\n"
        "shell.run_cell('%%carbon\\nx = 1')\n"
        "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'pynvml', "
        "'jupyter_carbon.intensity.providers', 'jupyter_carbon.reference') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_core_imports_without_ipython():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('IPython', 'ipywidgets', 'matplotlib', 'pynvml', "
        "'traitlets'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import jupyter_carbon\n"
        "with jupyter_carbon.track('x') as m:\n"
        "    sum(range(1000))\n"
        "print(m.record.energy_j > 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
