"""What ``%carbon config``, ``summary`` and the auto mode print in a real shell (a terminal)."""

from __future__ import annotations

from jupyter_carbon.config import SETTINGS
from jupyter_carbon.extension import get_extension


def run(shell, cell):
    return shell.run_cell(cell, store_history=True)


def test_config_confirms_what_changed(shell, capsys):
    capsys.readouterr()
    run(shell, "%carbon config region=FR")
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0, out  # one line, not every setting
    assert out.startswith("jupyter_carbon: region FR → ") and "gCO2e/kWh" in out
    intensity = get_extension(shell).session.intensity().g_per_kwh
    assert f"{intensity:g} gCO2e/kWh" in out
    run(shell, "%carbon config interval=0.5 pue=1.2")
    out = capsys.readouterr().out.strip()
    assert (
        out.startswith("jupyter_carbon: interval 0.5 (was 1), pue 1.2 (was 1) → ")
        and "PUE 1.2" in out
    )
    run(shell, "%carbon config interval=0.5")
    assert "interval 0.5 (unchanged)" in capsys.readouterr().out
    run(shell, "%carbon config")  # no arguments: every setting
    out = capsys.readouterr().out
    assert all(f"{name} = " in out for name in SETTINGS)


def test_auto_lines_and_summary_agree_in_a_terminal(shell, capsys):
    run(shell, "%carbon on")
    for code in ("a = 1", "b = 2", "c = 3"):
        run(shell, code)
    run(shell, "%carbon summary")
    run(shell, "%carbon off")
    out = capsys.readouterr().out.splitlines()
    lines = [line for line in out if line.startswith("carbon: ")]
    assert len(lines) == 3 and lines[-1].endswith("(3 cells)") and "(1 cell)" in lines[0]
    (head,) = [line for line in out if line.startswith("jupyter_carbon session: ")]
    session_figure = lines[-1].split("· session ")[1].split(" (")[0]
    assert head.startswith("jupyter_carbon session: 3 cells ·") and head.endswith(
        session_figure
    )  # same total, same digits
    assert len(get_extension(shell).session.records) == 3  # the %carbon lines were not measured
