"""NVML with a stub pynvml module standing in for GPUs."""

from __future__ import annotations

import math
import sys

import pytest
from fakes import exact_energy_j, run_window, sine_power, stub_pynvml

from jupyter_carbon.carbon_session import CarbonSession
from jupyter_carbon.config import Config
from jupyter_carbon.sources.detect import detect
from jupyter_carbon.sources.visible import visible_indices


@pytest.fixture
def gpus(monkeypatch, clock):
    def install(specs):
        module = stub_pynvml(specs, clock)
        monkeypatch.setitem(sys.modules, "pynvml", module)
        return module

    return install


def test_energy_counter_path(gpus, clock):
    power = sine_power(200, 80, 7.0)
    gpus([{"name": "A100", "power_w": power, "counter": True}])
    session = CarbonSession(Config(), clock=clock, threaded=False)
    record, t0, t1 = run_window(session, clock, 30, 1.0)
    gpu = record.components["gpu"]
    assert gpu.methods == ("nvml-energy",) and gpu.measured
    assert gpu.energy_j == pytest.approx(exact_energy_j(power, t0, t1), rel=1e-3)


def test_back_to_back_short_cells_read_the_slow_counter_about_once_per_refresh(gpus, clock):
    """A counter read costs ~2.3 ms on an H200 (docs/benchmarks.md): within its refresh period
    (0.1 s) the reading is carried forward with the power (a ~1.5 µs read) instead."""
    stub = gpus([{"name": "H200", "power_w": lambda t: 300.0, "counter": True, "update_s": 0.1}])
    session = CarbonSession(Config(), clock=clock, threaded=False)
    before = stub.state["energy_reads"]
    records = []
    for _ in range(250):  # 250 cells of 2 ms, 2 ms apart: 1 s
        clock.advance(0.002)
        m = session.open("cell")
        clock.advance(0.002)
        records.append(session.stop(m))
    reads = stub.state["energy_reads"] - before
    assert 9 <= reads <= 11, reads  # one per 0.1 s of the 1 s, not 500
    for record in records:  # shorter than the counter resolves: power × time, estimated, as before
        gpu = record.components["gpu"]
        assert not gpu.measured and gpu.energy_j == pytest.approx(300.0 * 0.002, rel=1e-4)


def test_carrying_the_counter_forward_keeps_windows_measured_and_close(gpus, clock):
    power = sine_power(400, 250, 0.7)  # swings of ±250 W within the refresh period's reach
    stub = gpus(
        [{"name": "H200", "power_w": power, "counter": True}]
    )  # update_s 0: the counter is exact
    session = CarbonSession(Config(), clock=clock, threaded=False)
    session.stop(session.open("warm"))  # a read just before: the next start is carried forward
    for gap_s, seconds in ((0.03, 0.5), (0.09, 0.3), (0.0, 2.0), (0.2, 0.15)):
        clock.advance(gap_s)
        reads = stub.state["energy_reads"]
        record, t0, t1 = run_window(session, clock, seconds, seconds / 5)
        gpu = record.components["gpu"]
        assert gpu.measured and gpu.methods == ("nvml-energy",)
        exact = exact_energy_j(power, t0, t1)
        # each end is off by at most the power's change over the time it was carried (< 0.1 s)
        assert abs(gpu.energy_j - exact) <= 2 * 250 * 2 * math.pi / 0.7 * 0.1 * 0.1, (
            gap_s,
            seconds,
            gpu.energy_j,
            exact,
        )
        if gap_s < 0.1:
            assert stub.state["energy_reads"] - reads < 7  # the start was carried forward


def test_readings_never_go_down_when_the_power_drops(gpus, clock):
    """A reading carried forward at a high power may pass the counter's next value:
    never below it."""
    watts = {"now": 700.0}
    stub = gpus(
        [{"name": "H200", "power_w": lambda t: watts["now"], "counter": True, "update_s": 0.1}]
    )
    session = CarbonSession(Config(), clock=clock, threaded=False)
    gpu_index = next(i for i, s in enumerate(session.sampler.sources) if s.component == "gpu")
    nvml_source = session.sampler.sources[gpu_index]
    seen = []
    for step in range(60):
        clock.advance(0.013)
        watts["now"] = 700.0 if (step // 10) % 2 == 0 else 60.0  # load on, off, on …
        seen.append(nvml_source.read(clock()).energy_j)
    assert all(b >= a for a, b in zip(seen, seen[1:])), seen
    assert stub.state["energy_reads"] > 5


def test_power_only_path_integrates_samples_within_2_percent(gpus, clock):
    power = sine_power(150, 60, 1.3)  # varies within a second: sampling matters
    gpus([{"name": "T4", "power_w": power, "counter": False}])
    session = CarbonSession(Config(interval=0.1), clock=clock, threaded=False)
    record, t0, t1 = run_window(session, clock, 2.0, 0.1)  # 20 samples
    gpu = record.components["gpu"]
    assert gpu.methods == ("nvml-power",) and gpu.measured
    assert gpu.energy_j == pytest.approx(exact_energy_j(power, t0, t1), rel=0.02)


def test_every_visible_gpu_and_cuda_visible_devices(gpus, clock, monkeypatch):
    gpus([{"name": f"G{i}", "uuid": f"GPU-{i}abc", "power_w": lambda t: 100.0} for i in range(4)])
    found = detect(environ={"CUDA_VISIBLE_DEVICES": "2,GPU-0abc"})
    assert [s.device for s in found.sources if s.component == "gpu"] == ["gpu2 G2", "gpu0 G0"]
    found = detect(environ={})
    assert len([s for s in found.sources if s.component == "gpu"]) == 4
    found = detect(environ={"CUDA_VISIBLE_DEVICES": ""})
    assert "hides every GPU" in found.skipped["nvml"]


def test_visible_indices_stops_at_first_invalid_entry():
    uuids = ["GPU-aaa", "GPU-bbb", "GPU-ccc"]
    assert visible_indices("1,7,0", uuids) == [1]
    assert visible_indices("GPU-c,0", uuids) == [2, 0]
    assert visible_indices(None, uuids) == [0, 1, 2]


def test_init_error_is_a_reason_not_an_exception(gpus, clock):
    gpus([{"name": "X", "power_w": lambda t: 1.0, "init_error": "Driver/library version mismatch"}])
    found = detect()
    assert "version mismatch" in found.skipped["nvml"]
    assert not any(s.component == "gpu" for s in found.sources)


def test_gpu_lost_mid_window_marks_the_window_and_keeps_the_rest(gpus, clock):
    start = clock.now_s
    gpus([{"name": "A100", "power_w": lambda t: 100.0, "fail_at": start + 5.0}])
    session = CarbonSession(Config(), clock=clock, threaded=False)
    record, t0, t1 = run_window(session, clock, 10, 1.0)
    assert record.status == "ok"
    assert record.components["gpu"].energy_j == pytest.approx(
        100.0 * 4.0, rel=1e-3
    )  # up to the last good read
    assert any("read failed" in f and "GPU is lost" in f for f in record.flags)
    assert record.components["cpu"].energy_j > 0  # other sources unaffected


def test_shutdown_releases_nvml(gpus, clock):
    module = gpus([{"name": "A100", "power_w": lambda t: 50.0}])
    session = CarbonSession(Config(), clock=clock, threaded=False)
    session.shutdown()
    assert module.state["shutdown"] == 1


def test_missing_driver_costs_no_pynvml_import(no_pynvml):
    from jupyter_carbon.sources.nvml import _driver_library_present

    if _driver_library_present():
        pytest.skip("this machine has an NVIDIA driver")
    found = detect()
    assert found.skipped["nvml"] == "no NVIDIA driver: libnvidia-ml.so.1 not found"
    assert "pynvml" not in sys.modules


def _counter_now(stub, i: int = 0) -> None:
    """Bring the stub's counter up to the clock (it advances when queried)."""
    stub.nvmlDeviceGetTotalEnergyConsumption(i)


def test_a_counter_that_restarts_from_zero_is_a_reset_not_lost_energy(gpus, clock):
    """Before: half the window's energy, then 0 J for every later window (the counter stayed below
    its start); now the energy since the restart is counted, and the window and status say so."""
    from jupyter_carbon.display.text import format_status

    stub = gpus([{"name": "H200", "power_w": lambda t: 300.0, "limit_w": 700}])
    session = CarbonSession(Config(), clock=clock, threaded=False)
    clock.advance(100.0)  # the counter is at 30 kJ
    m = session.open("reset")
    clock.advance(5.0)
    session.sampler.tick()
    _counter_now(stub)
    stub.state["energy_mj"][0] = 0.0  # the driver reloaded: the counter restarts from zero
    clock.advance(5.0)
    record = session.stop(m)
    assert record.components["gpu"].energy_j == pytest.approx(300.0 * 10, rel=1e-3)
    assert any("restarted from zero" in f for f in record.flags)
    assert "its counter restarted from zero 1 time(s)" in format_status(session)
    record, _, _ = run_window(session, clock, 10, 1.0)  # later windows are measured again
    assert record.components["gpu"].energy_j == pytest.approx(300.0 * 10, rel=1e-3)
    assert not any("restarted" in f for f in record.flags)


def test_an_implausible_counter_jump_is_dropped_and_flagged(gpus, clock):
    """A jump of 2**40 mJ in 1 s (1.1e9 J) is beyond twice the card's 700 W limit: dropped,
    replaced by the last power × time (before: 1.1e9 J in a 10 s window, unflagged)."""
    stub = gpus([{"name": "H200", "power_w": lambda t: 300.0, "limit_w": 700}])
    session = CarbonSession(Config(), clock=clock, threaded=False)
    source = next(s for s in session.sampler.sources if s.component == "gpu")
    assert source.max_power_w == 1400.0  # 2 × the enforced limit
    m = session.open("jump")
    for step in range(10):
        clock.advance(1.0)
        if step == 4:
            _counter_now(stub)
            stub.state["energy_mj"][0] += 2**40
        session.sampler.tick()
    record = session.stop(m)
    assert record.components["gpu"].energy_j == pytest.approx(300.0 * 10, rel=1e-3)
    assert any("implausible counter step" in f for f in record.flags)
    assert source.glitches == 1


def test_an_implausible_power_reading_is_dropped_and_flagged(gpus, clock):
    """One 0xFFFFFFFF mW reading (4.3 MW) on a power-only GPU gave 4.3e6 J: it is dropped for the
    last plausible power. Without a power limit from NVML the bound is ``MAX_POWER_W``."""
    from jupyter_carbon.sources.nvml import MAX_POWER_W

    bad = {"at": None}
    power = lambda t: 0xFFFFFFFF / 1000 if t == bad["at"] else 150.0  # noqa: E731
    gpus([{"name": "T4", "power_w": power, "counter": False}])
    session = CarbonSession(Config(), clock=clock, threaded=False)
    source = next(s for s in session.sampler.sources if s.component == "gpu")
    assert source.max_power_w == MAX_POWER_W
    m = session.open("glitch")
    for step in range(10):
        clock.advance(1.0)
        if step == 4:
            bad["at"] = clock.now_s
        session.sampler.tick()
    record = session.stop(m)
    assert record.components["gpu"].energy_j == pytest.approx(150.0 * 10, rel=1e-6)
    assert any("implausible" in f for f in record.flags)
