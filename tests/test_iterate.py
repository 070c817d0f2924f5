"""track_iter with a fake clock and a synthetic power source: windows, prediction,
budget, endings."""

from __future__ import annotations

import bisect
import itertools
import random
import warnings

import pytest

import jupyter_carbon
from jupyter_carbon.carbon_session import CarbonSession
from jupyter_carbon.config import Config
from jupyter_carbon.iterate import CarbonBudgetWarning, track_iter
from jupyter_carbon.sources.base import IntegratingSource
from jupyter_carbon.sources.detect import Detection
from jupyter_carbon.units import J_PER_KWH


class Machine:
    """A fake clock plus the exact energy a workload used: ``work(seconds, watts)``."""

    def __init__(self) -> None:
        self.t = 0.0
        self.energy_j = 0.0
        self._t = [0.0]
        self._e = [0.0]

    def clock(self) -> float:
        return self.t

    def work(self, duration_s: float, power_w: float) -> None:
        self.t += duration_s
        self.energy_j += duration_s * power_w
        self._t.append(self.t)
        self._e.append(self.energy_j)

    def energy_at(self, t_s: float) -> float:
        i = bisect.bisect_right(self._t, t_s) - 1
        if i >= len(self._t) - 1:
            return self._e[-1]
        t0, t1, e0, e1 = self._t[i], self._t[i + 1], self._e[i], self._e[i + 1]
        return e0 + (e1 - e0) * (t_s - t0) / (t1 - t0)


class SyntheticSource(IntegratingSource):
    """Integrates the machine's exact power between reads; ``band`` makes it a model with a
    range."""

    component, device, method, measured = "cpu", "synthetic", "synthetic", True

    def __init__(self, machine: Machine, band: float = 0.0) -> None:
        super().__init__(machine.t)
        self.machine, self.band = machine, band
        self.reads = 0

    def _power_band_w(self, now_s: float) -> tuple[float, float, float]:
        self.reads += 1
        power_w = (self.machine.energy_at(now_s) - self.machine.energy_at(self._last_s)) / (
            now_s - self._last_s
        )
        return power_w, power_w * (1 - self.band), power_w * (1 + self.band)


def make_session(
    machine: Machine, band: float = 0.0, interval: float = 1.0, intensity: float = 400.0
):
    source = SyntheticSource(machine, band)
    session = CarbonSession(
        Config(interval=interval, intensity=intensity),
        clock=machine.clock,
        threaded=False,
        detect=lambda now_s, **_: Detection(sources=[source]),
    )
    return session, source


@pytest.fixture
def machine():
    return Machine()


@pytest.fixture
def session(machine):
    s, _ = make_session(machine)
    yield s
    s.shutdown()


def steady(rng):
    return 0.5 * rng.uniform(0.8, 1.2), 100.0 * rng.uniform(0.9, 1.1)


def test_own_window_prediction_converges_and_is_recorded(machine, session):
    rng = random.Random(1)
    it = track_iter(range(1000), label="train", session=session)
    assert len(it) == 1000
    seen = []
    for _ in it:
        machine.work(*steady(rng))
        if it.estimate is not None and (not seen or seen[-1] is not it.estimate):
            seen.append(it.estimate)
    record = it.record
    assert (
        record is session.records[-1]
        and record.kind == "loop"
        and record.label == "train"
        and record.status == "ok"
    )
    assert record.energy_j == pytest.approx(machine.energy_j)
    loop = record.extra["loop"]
    assert (
        loop["iterations"] == 1000
        and loop["total"] == 1000
        and loop["ended"] == "exhausted"
        and not loop["stopped_at_budget"]
    )
    assert loop["actual_energy_j"] == pytest.approx(machine.energy_j)
    assert 0.1 <= loop["predicted_at_fraction"] < 0.11
    assert abs(loop["predicted_energy_j"] / machine.energy_j - 1) < 0.05
    assert loop["predicted_low_j"] <= machine.energy_j <= loop["predicted_high_j"]
    late = [e for e in seen if e.fraction >= 0.1]
    assert late and all(abs(e.predicted_energy_j / machine.energy_j - 1) < 0.05 for e in late)
    assert all(e.predicted_low_j <= machine.energy_j <= e.predicted_high_j for e in late)
    assert session.sampler.open_windows == 0


def test_energy_is_read_at_most_every_every_s_never_per_iteration(machine):
    session, source = make_session(machine, interval=1.0)
    for _ in track_iter(range(2000), session=session):
        machine.work(0.01, 50.0)  # 20 s of 10 ms iterations
    # open + close + early samples (1, 2, 4, 8) + one per second
    assert source.reads <= 2 + 4 + 21
    session.shutdown()


def test_every_s_controls_the_cadence(machine):
    session, source = make_session(machine)
    for _ in track_iter(range(1000), session=session, every_s=5.0):
        machine.work(0.1, 50.0)  # 100 s
    assert source.reads <= 2 + 4 + 21
    session.shutdown()


def test_early_estimate_after_the_first_iterations(machine, session):
    it = track_iter(range(100), session=session, every_s=60.0)
    for i in it:
        if i == 3:
            assert (
                it.estimate is not None
                and it.estimate.iterations == 2
                and it.estimate.is_prediction
            )
            break
        machine.work(2.0, 100.0)


def test_without_total_the_rate(machine, session, capsys):
    def batches():
        yield from range(300)

    it = track_iter(batches(), session=session)
    with pytest.raises(TypeError):
        len(it)
    for _ in it:
        machine.work(0.5, 80.0)
    assert not it.estimate.is_prediction and it.estimate.energy_per_iteration_j == pytest.approx(
        40.0
    )
    loop = it.record.extra["loop"]
    assert (
        loop["total"] is None
        and loop["predicted_energy_j"] is None
        and loop["energy_per_iteration_j"] == pytest.approx(40.0)
    )
    err = capsys.readouterr().err
    assert "rate: " in err and "predicted total" not in err


def test_terminal_line_is_throttled_and_on_stderr(machine, session, capsys):
    for _ in track_iter(range(600), label="fit", session=session):
        machine.work(0.5, 100.0)  # 300 s
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.startswith("fit: predicted total")]
    assert out == "" and 5 <= len(lines) <= 11  # every 30 s, not every second
    assert "left" in lines[0] and "CO2e" in lines[0]
    assert err.splitlines()[-1].startswith("fit: 600 iterations")


def test_short_loops_print_nothing(machine, session, capsys):
    for _ in track_iter(range(50), session=session):
        machine.work(0.001, 10.0)
    assert capsys.readouterr() == ("", "")


def test_budget_warns_once_and_the_loop_goes_on(machine, session):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        it = track_iter(
            range(200), session=session, budget_kwh=0.002
        )  # 7200 J; the loop uses 10 000 J
        for _ in it:
            machine.work(1.0, 50.0)
    ours = [w for w in caught if issubclass(w.category, CarbonBudgetWarning)]
    assert (
        len(ours) == 1
        and "over its budget" in str(ours[0].message)
        and ours[0].filename == __file__
    )
    assert it.n == 200 and not it.record.extra["loop"]["stopped_at_budget"]


def test_no_warning_under_budget(machine, session):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CarbonBudgetWarning)
        for _ in track_iter(
            range(200), session=session, budget_g=10.0
        ):  # 10 000 J at 400 g/kWh = 1.1 g
            machine.work(1.0, 50.0)


def test_budget_in_grams_uses_intensity_and_pue(machine):
    session, _ = make_session(machine, intensity=500.0)
    session.configure(pue=2.0)
    it = track_iter(range(1000), session=session, budget_g=1.0, stop_at_budget=True)
    done = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CarbonBudgetWarning)
        for _ in it:
            machine.work(1.0, 35.0)
            done += 1
    assert it.loop["budget_j"] == pytest.approx(3600.0)  # 1 g at 500 g/kWh × PUE 2
    assert done == 102 and it.record.energy_j == pytest.approx(
        3570.0
    )  # one more would cross 3600 J
    session.shutdown()


def test_stop_at_budget_ends_cleanly_and_is_recorded(machine, session):
    body_runs = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        it = track_iter(
            range(1000),
            label="big",
            session=session,
            budget_kwh=2550 / J_PER_KWH,
            stop_at_budget=True,
        )
        for _ in it:
            machine.work(1.0, 100.0)
            body_runs += 1
    # reaching this line: the loop ended without raising
    assert body_runs == 25 and it.n == 25 and it.stopped_at_budget
    record = it.record
    assert (
        record.status == "ok"
        and record.extra["loop"]["stopped_at_budget"] is True
        and record.extra["loop"]["ended"] == "budget"
    )
    assert record.energy_j == pytest.approx(2500.0) and record.energy_j <= 2550.0
    assert sum(issubclass(w.category, CarbonBudgetWarning) for w in caught) == 1


def test_stop_at_budget_needs_a_budget_and_arguments_are_checked(session):
    with pytest.raises(ValueError, match="budget"):
        track_iter(range(3), session=session, stop_at_budget=True)
    for kwargs in ({"budget_g": 0}, {"budget_kwh": -1}, {"every_s": float("nan")}, {"total": -2}):
        with pytest.raises(ValueError):
            track_iter(range(3), session=session, **kwargs)


def test_break_closes_the_window_at_once(machine, session):
    for i in track_iter(range(100), session=session):
        machine.work(1.0, 10.0)
        if i == 9:
            break
    assert session.sampler.open_windows == 0
    record = session.records[-1]
    assert (
        record.status == "ok"
        and record.extra["loop"]["ended"] == "left early"
        and record.extra["loop"]["iterations"] == 9
    )
    assert record.energy_j == pytest.approx(100.0)


def test_never_ending_generator_with_break(machine, session):
    for i in track_iter(itertools.count(), session=session):
        machine.work(0.5, 20.0)
        if i == 499:
            break
    loop = session.records[-1].extra["loop"]
    assert (
        loop["total"] is None
        and loop["iterations"] == 499
        and loop["actual_energy_j"] == pytest.approx(5000.0)
    )


class Boom(Exception):
    pass


def fail(x):
    raise Boom(x)


@pytest.mark.parametrize("how", ["raise", "call"])
def test_exception_in_the_body_propagates_unchanged_and_closes_the_window(machine, session, how):
    error = Boom("mine")
    with pytest.raises(Boom) as info:
        for i in track_iter(range(100), session=session):
            machine.work(1.0, 10.0)
            if i == 5:
                if how == "raise":
                    raise error
                fail(error)
    assert info.value is error or info.value.args == (error,)
    record = session.records[-1]
    # a plain for loop cannot tell an exception in its body from a break (see the module docstring)
    assert record.extra["loop"]["ended"] == "left early" and record.extra["loop"]["iterations"] == 5
    assert session.sampler.open_windows == 0


def test_exception_from_the_iterable_propagates_unchanged(machine, session):
    error = Boom("loader")

    def loader():
        yield 1
        yield 2
        raise error

    with pytest.raises(Boom) as info:
        for _ in track_iter(loader(), session=session):
            machine.work(1.0, 10.0)
    assert info.value is error
    assert (
        session.records[-1].status == "error"
        and session.records[-1].extra["loop"]["iterations"] == 2
    )


def test_with_block_gives_the_exact_status(machine, session):
    with pytest.raises(Boom):
        with track_iter(range(10), session=session) as it:
            for _ in it:
                machine.work(1.0, 10.0)
                raise Boom()
    assert it.record.status == "error"
    with track_iter(range(10), session=session) as it:
        for i in it:
            machine.work(1.0, 10.0)
            if i == 3:
                break
        assert session.sampler.open_windows == 1  # the with block is the window
    assert it.record.status == "ok" and it.loop["ended"] == "left early"


def test_explicit_close_and_single_use(machine, session):
    it = track_iter(range(10), session=session)
    gen = iter(it)
    next(gen)
    machine.work(1.0, 10.0)
    next(gen)
    it.close()
    it.close()
    assert (
        it.record.status == "ok"
        and it.loop["iterations"] == 1
        and session.sampler.open_windows == 0
    )
    with pytest.raises(RuntimeError):
        iter(it)


def test_source_band_reaches_the_recorded_range(machine):
    session, _ = make_session(machine, band=0.2)
    it = track_iter(range(100), session=session)
    for _ in it:
        machine.work(1.0, 50.0)
    loop = it.loop
    assert loop["predicted_low_j"] < 0.81 * 5000 and loop["predicted_high_j"] > 1.19 * 5000
    session.shutdown()


def test_exported():
    assert jupyter_carbon.track_iter is track_iter and "track_iter" in jupyter_carbon.__all__


# --- tqdm in the same loop -----------------------------------------------------------------------


def test_works_with_tqdm_lines_go_through_tqdm_write(machine, session, monkeypatch):
    tqdm_module = pytest.importorskip("tqdm", reason="tqdm not installed (test extra)")
    import io

    written = []
    real_write = tqdm_module.tqdm.write.__func__

    def spy(cls, s, file=None, end="\n", nolock=False):
        written.append(s)
        real_write(cls, s, file=io.StringIO(), end=end, nolock=nolock)

    monkeypatch.setattr(tqdm_module.tqdm, "write", classmethod(spy))
    bar_file = io.StringIO()
    it = track_iter(
        tqdm_module.tqdm(range(200), file=bar_file, mininterval=0), label="tq", session=session
    )
    assert len(it) == 200  # total from tqdm's len()
    for _ in it:
        machine.work(1.0, 20.0)
    assert any(line.startswith("tq: predicted total") for line in written)
    assert it.record.extra["loop"]["iterations"] == 200 and "200/200" in bar_file.getvalue()


def test_tqdm_around_track_iter(machine, session):
    tqdm_module = pytest.importorskip("tqdm", reason="tqdm not installed (test extra)")
    import io

    bar_file = io.StringIO()
    for i in tqdm_module.tqdm(track_iter(range(50), session=session), file=bar_file):
        machine.work(1.0, 20.0)
        if i == 19:
            break
    assert session.records[-1].extra["loop"]["iterations"] == 19 and "/50" in bar_file.getvalue()


# --- a real IPython shell with %%carbon -----------------------------------------------------------


@pytest.fixture
def shell(machine, monkeypatch):
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    import jupyter_carbon.carbon_session as session_module

    session, _ = make_session(machine)
    monkeypatch.setattr(session_module, "_default", session)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jupyter_carbon")
    ip.user_ns["machine"] = machine
    yield ip, session
    ip.run_line_magic("unload_ext", "jupyter_carbon")


def test_inside_a_carbon_cell_the_loop_attaches_to_the_cell(shell):
    ip, session = shell
    result = ip.run_cell(
        "%%carbon --label train\n"
        "import jupyter_carbon\n"
        "machine.work(10.0, 100.0)\n"
        "for i in jupyter_carbon.track_iter(range(50)):\n"
        "    machine.work(1.0, 40.0)\n"
    )
    assert result.success
    assert len(session.records) == 1  # no window of its own
    record = session.records[0]
    assert (
        record.kind == "cell"
        and record.label == "train"
        and record.energy_j == pytest.approx(3000.0)
    )
    loop = record.extra["loop"]
    assert loop["iterations"] == 50 and loop["total"] == 50 and loop["ended"] == "exhausted"
    assert loop["actual_energy_j"] == pytest.approx(2000.0)  # the loop's own energy, not the cell's
    assert (
        loop["predicted_energy_j"] == pytest.approx(2000.0, rel=0.05)
        and loop["predicted_at_fraction"] >= 0.1
    )


def test_error_in_a_measured_cell_loop(shell):
    ip, session = shell
    result = ip.run_cell(
        "%%carbon\n"
        "import jupyter_carbon\n"
        "for i in jupyter_carbon.track_iter(range(50)):\n"
        "    machine.work(1.0, 40.0)\n"
        "    if i == 9:\n"
        "        1 / 0\n"
    )
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    record = session.records[-1]
    assert record.status == "error"  # the cell's status is exact
    assert record.extra["loop"]["ended"] == "left early" and record.extra["loop"]["iterations"] == 9


def test_unmeasured_cell_opens_its_own_loop_window(shell):
    ip, session = shell
    assert ip.run_cell(
        "import jupyter_carbon\nfor i in jupyter_carbon.track_iter(range(5)):\n"
        "    machine.work(1.0, 10.0)\n"
    ).success
    assert [r.kind for r in session.records] == ["loop"] and session.records[
        0
    ].energy_j == pytest.approx(50.0)


def test_widget_view_gets_notes(machine, session):
    class View:
        def __init__(self):
            self.notes = []

        def note(self, text, key=None):
            self.notes.append(text)

    view = View()
    m = session.open("cell", kind="cell")  # the window of a measured cell, with its view
    m.view = view
    for _ in track_iter(range(40), session=session):
        machine.work(1.0, 10.0)
    record = session.stop(m)
    assert view.notes and all(n.startswith("predicted total: ") for n in view.notes)
    assert len(view.notes) <= 4 + 41 and record.extra["loop"]["iterations"] == 40
