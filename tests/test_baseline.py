"""%carbon baseline: idle power with a fake clock, then marginal energy on later records."""

from __future__ import annotations

import pytest
from fakes import constant_session

from jupyter_carbon.baseline import measure_baseline
from jupyter_carbon.display.text import format_record


def make_session(clock, power):
    return constant_session(clock, **power)


def test_baseline_measures_idle_power_and_records_show_marginal_energy(clock):
    power = {"cpu": 12.0, "ram": 3.0}
    session = make_session(clock, power)
    progress = []
    baseline = measure_baseline(
        session, 10, sleep=clock.advance, progress=lambda done, total: progress.append(done)
    )
    assert baseline == pytest.approx({"cpu": 12.0, "ram": 3.0})
    assert progress[-1] == 10 and len(progress) == 20  # a progress update every 0.5 s
    assert session.baseline_w == baseline
    # the machine now works harder: the source integrates a higher power
    for source in session.detection.sources:
        source.power_w *= 2
    m = session.open("work")
    clock.advance(4.0)
    record = session.stop(m)
    assert record.energy_j == pytest.approx(4.0 * 30.0)
    assert record.marginal_energy_j == pytest.approx(4.0 * 15.0)
    assert "above idle baseline (marginal): 16.7 mWh" in format_record(record)


def test_records_without_baseline_have_no_marginal(clock):
    session = make_session(clock, {"cpu": 5.0, "ram": 1.0})
    m = session.open()
    clock.advance(1)
    record = session.stop(m)
    assert record.marginal_energy_j is None and "marginal" not in format_record(record)


def test_interrupted_baseline_is_not_used(clock):
    session = make_session(clock, {"cpu": 5.0, "ram": 1.0})

    def sleep(seconds):
        clock.advance(seconds)
        if clock.now_s > 1003:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        measure_baseline(session, 10, sleep=sleep)
    assert session.baseline_w is None
    assert session.records[-1].status == "interrupted" and session.records[-1].kind == "baseline"


def test_baseline_magic_in_a_real_shell(shell, capsys, monkeypatch):
    import jupyter_carbon.baseline as module

    monkeypatch.setattr(
        module.time, "sleep", lambda s: None
    )  # no real waiting; the real clock still runs
    shell.run_cell("%carbon baseline 1")
    out = capsys.readouterr().out
    assert "measuring idle power" in out and "idle baseline CPU" in out
    shell.run_cell("%carbon status")
    assert "idle baseline:" in capsys.readouterr().out
