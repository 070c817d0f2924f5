"""NVML with a stub pynvml module standing in for GPUs."""

from __future__ import annotations

import sys

import pytest
from fakes import exact_energy_j, run_window, sine_power, stub_pynvml

from jupyter_carbon.carbon_session import CarbonSession
from jupyter_carbon.config import Config
from jupyter_carbon.sources.detect import detect
from jupyter_carbon.sources.nvml import visible_indices


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
    assert record.components["gpu"].energy_j == pytest.approx(100.0 * 4.0, rel=1e-3)  # up to the last good read
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
