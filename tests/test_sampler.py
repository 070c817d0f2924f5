"""Sampler and ledger: fake clock, nesting, bounded timelines, failures, the thread."""

from __future__ import annotations

import threading
import time
from operator import attrgetter

import pytest
from fakes import constant_session, session_with

from jupyter_carbon.carbon_session import CarbonSession
from jupyter_carbon.config import Config
from jupyter_carbon.sampler import LINGER_TICKS, Sampler, TimelineBuffer
from jupyter_carbon.sources.base import IntegratingSource
from jupyter_carbon.sources.constant import ConstantPowerSource


class Flaky(IntegratingSource):
    """A constant-power source that raises while ``broken`` is set."""

    component, device, method, measured = "gpu", "flaky", "test", True

    def __init__(self, now_s, power_w=10.0):
        super().__init__(now_s)
        self.power_w = power_w
        self.broken = False

    def _power_band_w(self, now_s):
        return self.power_w, self.power_w, self.power_w

    def read(self, now_s):
        if self.broken:
            raise OSError("device vanished")
        return super().read(now_s)


@pytest.mark.parametrize(
    ("cpu_w", "steps", "expected"),
    [
        pytest.param(
            100.0,
            ["open outer", 1, "open inner", 2, "stop inner", 1, "stop outer"],
            {
                ("inner", "energy_j"): 200,
                ("outer", "energy_j"): 400,
                ("outer", "totals.energy_j"): 400,  # not 600
                ("outer", "totals.windows"): 2,
                ("inner", "totals.energy_j"): 300,  # the union so far, when inner closed
            },
            id="nested_windows_count_once_in_totals",
        ),
        pytest.param(
            10.0,
            # 5: a gap, nothing open, nothing counted
            ["open a", 1, "open b", 1, "stop a", 1, "stop b", 5, "open c", 1, "stop c"],
            {
                ("b", "totals.energy_j"): 30,
                ("c", "totals.energy_j"): 40,
                ("session", "duration_s"): 4,
            },
            id="overlapping_windows_count_the_union",
        ),
    ],
)
def test_windows_open_together_count_once_in_totals(clock, cpu_w, steps, expected):
    """``steps``: seconds to advance the clock, or "open LABEL" / "stop LABEL"; ``expected`` maps
    (label, attribute) to a value, label "session" being ``session.totals()`` at the end."""
    session = constant_session(clock, cpu=cpu_w)
    windows, done = {}, {}
    for step in steps:
        if isinstance(step, str):
            action, label = step.split()
            if action == "open":
                windows[label] = session.open(label)
            else:
                done[label] = session.stop(windows.pop(label))
        else:
            clock.advance(step)
    done["session"] = session.totals()
    actual = {(label, name): attrgetter(name)(done[label]) for label, name in expected}
    assert actual == pytest.approx(expected)


def test_discarded_window_still_counts_in_totals_but_has_no_record(clock):
    session = constant_session(clock, cpu=10.0)
    m = session.open()
    clock.advance(2)
    session.discard(m)
    assert session.records == [] and session.totals().energy_j == pytest.approx(20)


def test_durations_use_the_monotonic_clock_not_wall_time(clock):
    from datetime import datetime, timedelta, timezone

    wall = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    session = constant_session(clock, wall_clock=lambda: wall[0], cpu=1.0)
    m = session.open()
    clock.advance(3)
    wall[0] -= timedelta(hours=5)  # the wall clock jumps backwards (NTP, DST, suspend)
    record = session.stop(m)
    assert record.duration_s == pytest.approx(3) and record.energy_j == pytest.approx(3)
    assert record.end_utc < record.start_utc  # shown as it was, but not used for durations


def test_source_error_marks_window_and_keeps_last_good_reading(clock):
    flaky = []
    session = session_with(
        lambda t: flaky.append(Flaky(t)) or flaky + [ConstantPowerSource("cpu", 1.0, t)], clock
    )
    m = session.open()
    clock.advance(1)
    session.sampler.tick()
    flaky[0].broken = True
    clock.advance(1)
    session.sampler.tick()
    record = session.stop(m)
    assert record.components["gpu"].energy_j == pytest.approx(10)
    assert record.components["cpu"].energy_j == pytest.approx(2)
    assert (
        sum("flaky (test): read failed — OSError: device vanished" in f for f in record.flags) == 1
    )
    assert session.sampler.errors == ["flaky (test): read failed — OSError: device vanished"]


def test_timeline_is_bounded_for_a_24_hour_window(clock):
    session = constant_session(clock, cpu=42.0)
    m = session.open("day")
    for _ in range(24 * 3600):
        clock.advance(1.0)
        session.sampler.tick()
    record = session.stop(m)
    assert 1000 <= len(record.timeline) <= 2000
    assert record.timeline.t_s[-1] == pytest.approx(24 * 3600, rel=0.01)
    assert all(p == pytest.approx(42.0) for p in record.timeline.power_w["cpu"])
    assert record.energy_j == pytest.approx(42.0 * 24 * 3600)


def test_timeline_buffer_halving_keeps_averages():
    buffer = TimelineBuffer(max_points=8)
    for i in range(64):
        buffer.add(float(i), {"cpu": float(i)})
    frozen = buffer.freeze(["cpu"])
    assert len(frozen) <= 8
    assert frozen.power_w["cpu"] == pytest.approx(
        frozen.t_s
    )  # t and power were equal before averaging


def test_live_listener_gets_energy_and_power(clock):
    seen = []
    session = constant_session(clock, cpu=5.0)
    m = session.open(listener=seen.append)
    for _ in range(3):
        clock.advance(0.5)
        session.sampler.tick()
    session.stop(m)
    assert [s.elapsed_s for s in seen] == pytest.approx([0.5, 1.0, 1.5])
    assert seen[-1].energy_j["cpu"] == pytest.approx(7.5) and seen[-1].power_w[
        "cpu"
    ] == pytest.approx(5.0)


def test_running_figures_of_an_open_window(clock):
    session = constant_session(clock, cpu=5.0, ram=1.0)
    m = session.open()
    clock.advance(2.0)  # no tick: the figures are read on demand
    assert m.energy_so_far_j == pytest.approx({"cpu": 10.0, "ram": 2.0})
    time_s, components = session.progress(m)
    assert time_s == clock.now_s and components["cpu"].high_j == pytest.approx(10.0)
    session.stop(m)


def test_failing_listener_is_dropped_and_flagged(clock):
    def boom(status):
        raise RuntimeError("display gone")

    session = constant_session(clock, cpu=5.0)
    m = session.open(listener=boom)
    clock.advance(1)
    session.sampler.tick()
    clock.advance(1)
    session.sampler.tick()
    record = session.stop(m)
    assert record.flags.count("running display failed: RuntimeError: display gone") == 1


def test_thread_runs_only_while_a_window_is_open():
    sampler = Sampler([ConstantPowerSource("cpu", 1.0, time.monotonic())], interval_s=0.05)
    assert sampler.thread is None  # nothing started at creation
    window = sampler.open()
    time.sleep(0.3)
    sampler.close(window)
    ticks = sampler.ticks
    assert ticks >= 3
    time.sleep(0.05 * (LINGER_TICKS + 2))  # lingers a couple of intervals, then parks
    parked = sampler._idle_ticks
    time.sleep(0.3)
    assert (
        sampler.ticks == ticks and sampler._idle_ticks == parked
    )  # parked: no wake-ups without a window
    assert not sampler._active.is_set()
    sampler.stop()
    sampler.stop()  # idempotent
    assert not any(t.name == "jupyter_carbon-sampler" for t in threading.enumerate())


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_dead_thread_is_detected_restarted_and_flagged():
    sampler = Sampler([ConstantPowerSource("cpu", 1.0, time.monotonic())], interval_s=0.02)
    window = sampler.open()
    original = sampler.tick

    def die():
        sampler.tick = original
        raise SystemExit  # escapes the loop's `except Exception`: the thread dies

    sampler.tick = die
    time.sleep(0.2)
    assert not sampler.thread.is_alive()
    _, _, flags = sampler.close(window)
    assert any("sampler thread stopped unexpectedly" in f for f in flags)
    assert sampler.thread.is_alive()  # restarted
    sampler.stop()


def test_ledger_is_pure():
    import ast

    import jupyter_carbon.ledger as module

    tree = ast.parse(open(module.__file__).read())
    imported = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    imported |= {
        (n.module or "").split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and not n.level
    }
    assert not imported & {"threading", "time", "os", "io", "IPython", "socket", "pathlib"}
    called = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert not called & {"open", "print", "input"}


def test_reading_band_for_measured_sources_is_the_reading(clock):
    session = session_with(lambda t: [Flaky(t)], clock)
    m = session.open()
    clock.advance(1)
    gpu = session.stop(m).components["gpu"]
    assert gpu.low_j == gpu.energy_j == gpu.high_j == pytest.approx(10)


def test_process_scope_counts_children(no_pynvml):
    """A cell that forks workers: process scope attributes the children's CPU time to the kernel."""
    import multiprocessing as mp

    session = CarbonSession(Config(scope="process"))
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:  # workers exist in both windows; only the first makes them work
        busy = session.open("pool busy")
        pool.map(_burn, [3_000_000] * 2)
        busy_record = session.stop(busy)
        idle = session.open("pool idle")
        time.sleep(busy_record.duration_s)
        idle_record = session.stop(idle)
    cpu = busy_record.components["cpu"]
    assert cpu.methods == ("cpu-model+process-share",)
    # children's CPU time counts: far more energy than the same time with idle workers
    assert cpu.energy_j > 2 * idle_record.components["cpu"].energy_j
    session.shutdown()


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


class Blocking(IntegratingSource):
    """A constant-power source whose read blocks on ``release`` once ``armed`` (a slow NVML
    read)."""

    component, device, method, measured = "gpu", "slow", "test", True

    def __init__(self, now_s, power_w=100.0):
        super().__init__(now_s)
        self.power_w = power_w
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def _power_band_w(self, now_s):
        return self.power_w, self.power_w, self.power_w

    def read(self, now_s):
        if self.armed:
            self.armed = False
            self.entered.set()
            assert self.release.wait(10)
        return super().read(now_s)


def test_a_window_opens_and_closes_while_a_tick_is_blocked_in_a_slow_read(clock):
    """Before, the tick held the sampler's lock through the read: a boundary waited for it."""
    slow = Blocking(clock())
    cpu = ConstantPowerSource("cpu", 10.0, clock())
    sampler = Sampler([cpu, slow], clock=clock, threaded=False)
    outer = sampler.open()
    clock.advance(1.0)
    slow.armed = True
    ticker = threading.Thread(target=sampler.tick)  # the sampler thread's tick, reading at t=1
    ticker.start()
    assert slow.entered.wait(5)
    done = threading.Event()
    out = {}

    def boundary():
        clock.advance(1.0)
        inner = sampler.open()  # t=2
        clock.advance(1.0)
        out["end"], _, out["flags"] = sampler.close(inner)  # t=3
        out["inner"] = inner
        done.set()

    threading.Thread(target=boundary).start()
    try:
        assert done.wait(5), "the boundary waited for the blocked read"
    finally:
        slow.release.set()
        ticker.join(5)
    inner, end = out["inner"], out["end"]
    # the slow source was being read: its reading held (at t=0) for the inner window, which
    # therefore counts no GPU energy it did not see; the CPU, read by the boundary, is exact
    assert end.readings[0].energy_j - inner.start.readings[0].energy_j == pytest.approx(10.0)
    assert end.readings[1].energy_j >= inner.start.readings[1].energy_j
    # the blocked tick (taken at t=1) finished after the inner window opened: it extends the
    # outer window only, and never replaced the newer CPU reading with its older one
    assert not isinstance(inner.timeline, TimelineBuffer)
    assert sampler._last[0].energy_j == pytest.approx(30.0)
    clock.advance(1.0)
    final, _, _ = sampler.close(outer)
    assert [r.energy_j - s.energy_j for r, s in zip(final.readings[:2], outer.start.readings)] == [
        pytest.approx(40.0),
        pytest.approx(400.0),
    ]


def test_the_thread_ticks_often_enough_for_a_counters_wrap_whatever_the_interval():
    """A source that must be read every 0.15 s (``max_gap_s``) under interval=60: before, the
    thread waited 60 s between reads."""
    source = ConstantPowerSource("cpu", 1.0, time.monotonic())
    source.max_gap_s = 0.15
    sampler = Sampler([source], interval_s=60.0)
    assert sampler.tick_s == pytest.approx(0.15)
    window = sampler.open()
    time.sleep(0.8)
    sampler.close(window)
    sampler.stop()
    assert sampler.ticks >= 3


def test_a_process_view_and_its_machine_source_are_never_read_at_once(clock):
    """Reads happen outside the sampler's lock: a view reads its machine source (``inner``) and
    the views share one process share, so they share the machine source's read lock; a GPU
    (no view) keeps its own, so its slow read holds up nothing else."""
    cpu = ConstantPowerSource("cpu", 10.0, clock())
    ram = ConstantPowerSource("ram", 3.0, clock())
    gpu = Blocking(clock())
    sampler = Sampler([cpu, ram, gpu], clock=clock, threaded=False)
    locks = sampler._source_locks
    views = [i for i, s in enumerate(sampler.sources) if getattr(s, "inner", None) is not None]
    assert views and all(locks[i] is locks[0] for i in views)
    assert locks[1] is locks[0] and locks[2] is not locks[0]


def test_a_new_interval_sets_the_threads_period():
    """`%carbon config interval=0.25` must make the running figures tick every 0.25 s (the
    period is shortened for wrapping counters, never lengthened past the interval)."""
    sampler = Sampler([ConstantPowerSource("cpu", 10.0, 0.0)], 1.0, threaded=False)
    assert sampler.tick_s == 1.0
    sampler.interval_s = 0.25
    assert (sampler.interval_s, sampler.tick_s) == (0.25, 0.25)
