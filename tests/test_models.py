"""The CPU and RAM models, the TDP table and the constant override."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from jupyter_carbon.carbon_session import CarbonSession
from jupyter_carbon.config import Config
from jupyter_carbon.sources.cpu_model import (
    DEFAULT_TDP_PER_THREAD_W,
    CpuInfo,
    CpuModelSource,
    cpu_power_band_w,
    cpu_power_w,
    lookup_tdp_w,
    read_cpu_info,
    tdp_for,
)
from jupyter_carbon.sources.detect import detect
from jupyter_carbon.sources.ram_model import RAM_W_PER_GB, RamModelSource


def test_cpu_curve_is_the_fitted_line():
    # 5 % of TDP idle, 75 % at full load (docs/cpu-model-validation.md), linear in between
    for u, fraction in ((0.0, 0.05), (0.2, 0.19), (0.5, 0.40), (1.0, 0.75)):
        assert cpu_power_w(u, 100.0) == pytest.approx(100.0 * fraction)


@pytest.mark.parametrize("u", [i / 20 for i in range(21)])
def test_cpu_curve_monotonic_and_inside_band(u):
    low, high = cpu_power_band_w(u, 65.0)
    assert low <= cpu_power_w(u, 65.0) <= high
    assert cpu_power_w(min(1.0, u + 0.05), 65.0) >= cpu_power_w(u, 65.0)


def test_cpu_curve_clamps_bad_utilisation():
    assert cpu_power_w(-1.0, 100) == cpu_power_w(0.0, 100)
    assert cpu_power_w(3.0, 100) == cpu_power_w(1.0, 100)
    assert cpu_power_w(float("nan"), 100) == cpu_power_w(0.0, 100)


@pytest.mark.parametrize(
    "name, tdp",
    [
        ("Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", 65.0),
        ("Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz", 95.0),
        ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 150.0),
        ("AMD EPYC 7763 64-Core Processor", 280.0),
        ("AMD Ryzen 5 5600X 6-Core Processor", 65.0),
    ],
)
def test_tdp_lookup(name, tdp):
    found = lookup_tdp_w(name)
    assert found is not None and found[0] == tdp


def test_unknown_cpu_and_vm_use_per_thread_default():
    assert lookup_tdp_w("AMD EPYC") is None
    tdp, note = tdp_for(CpuInfo("Mystery CPU 9000X", 1, 8, False))
    assert tdp == 8 * DEFAULT_TDP_PER_THREAD_W and "not in the TDP table" in note
    tdp, note = tdp_for(CpuInfo("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 1, 4, True))
    assert tdp == 4 * DEFAULT_TDP_PER_THREAD_W and "virtual machine" in note
    tdp, note = tdp_for(CpuInfo("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 2, 80, False))
    assert tdp == 300.0


def test_read_cpu_info_counts_sockets(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\nphysical id\t: 0\n"
        "flags\t: fpu sse\n\n"
        "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\nphysical id\t: 1\n"
        "flags\t: fpu sse\n"
    )
    info = read_cpu_info(str(cpuinfo))
    assert info.sockets == 2 and not info.virtual and "6248" in info.model_name


def test_cpu_model_source_integrates_utilisation(clock):
    cpu = {"busy": 0.0, "total": 0.0}
    source = CpuModelSource(100.0, clock(), cpu_s=lambda: (cpu["busy"], cpu["total"]))
    # 10 s at 50 % of 4 CPUs, then 10 s idle
    cpu["busy"] += 20.0
    cpu["total"] += 40.0
    clock.advance(10)
    first = source.read(clock())
    cpu["total"] += 40.0
    clock.advance(10)
    second = source.read(clock())
    assert first.energy_j == pytest.approx(10 * cpu_power_w(0.5, 100.0))
    assert second.energy_j - first.energy_j == pytest.approx(10 * cpu_power_w(0.0, 100.0))
    low, high = cpu_power_band_w(0.5, 100.0)
    assert first.low_j == pytest.approx(10 * low) and first.high_j == pytest.approx(10 * high)


def test_cpu_model_reuses_last_utilisation_when_no_tick_landed(clock):
    cpu = {"busy": 0.0, "total": 0.0}
    source = CpuModelSource(100.0, clock(), cpu_s=lambda: (cpu["busy"], cpu["total"]))
    cpu["busy"], cpu["total"] = 8.0, 10.0
    clock.advance(1)
    source.read(clock())
    clock.advance(0.001)  # shorter than one cpu_times tick: no change in counters
    before = source.read(clock() - 0.001).energy_j
    after = source.read(clock()).energy_j
    assert after - before == pytest.approx(0.001 * cpu_power_w(0.8, 100.0))


def test_ram_model_refreshes_at_most_once_per_interval(clock):
    calls = []

    def used_gb():
        calls.append(clock())
        return 8.0

    source = RamModelSource(clock(), used_gb=used_gb, refresh_s=1.0)
    for _ in range(10):
        clock.advance(0.05)
        source.read(clock())
    assert len(calls) == 1  # only at creation
    clock.advance(1.0)
    reading = source.read(clock())
    assert len(calls) == 2
    assert reading.energy_j == pytest.approx(1.5 * 8.0 * RAM_W_PER_GB)


def test_constant_override_replaces_the_model(clock, no_pynvml):
    session = CarbonSession(Config(power={"cpu": 15.0, "ram": 3.0}), clock=clock, threaded=False)
    m = session.open()
    clock.advance(2.0)
    record = session.stop(m)
    assert record.components["cpu"].energy_j == pytest.approx(30.0)
    assert record.components["ram"].energy_j == pytest.approx(6.0)
    assert (
        record.components["cpu"].methods == ("constant",) and not record.components["cpu"].measured
    )
    assert "CPU and RAM power set by the user" in session.detection.skipped["rapl"]


def test_detect_without_hardware_gives_models_and_reasons(tmp_path, no_pynvml):
    found = detect(powercap_root=str(tmp_path / "none"))
    assert {s.method for s in found.sources} == {"cpu-model", "ram-model"}
    assert set(found.skipped) >= {"rapl", "nvml"}
    assert all(reason and "\n" not in reason for reason in found.skipped.values())


def test_cpu_model_computes_its_power_once_per_counter_tick(clock, monkeypatch):
    from jupyter_carbon.sources import cpu_model

    calls = []
    real = cpu_model.TDP_CURVE

    class Counting:
        def fractions(self, u):
            calls.append(u)
            return real.fractions(u)

    cpu = {"busy": 0.0, "total": 0.0}
    source = CpuModelSource(
        100.0, clock(), cpu_s=lambda: (cpu["busy"], cpu["total"]), curve=Counting()
    )
    for _ in range(5):  # back-to-back reads, no tick: the power of the last tick is reused
        clock.advance(0.001)
        source.read(clock())
    cpu["busy"], cpu["total"] = 1.0, 2.0
    clock.advance(0.001)
    source.read(clock())
    assert calls == [0.0, 0.5]


def _validation_tool():
    path = Path(__file__).resolve().parents[1] / "tools" / "cpu_model_validation.py"
    spec = importlib.util.spec_from_file_location("cpu_model_validation", path)
    validation = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(validation)
    return validation


def test_cpu_model_on_measured_rapl_load_profiles():
    """The line beats CodeCarbon's TDP × load and the old Teads curve on real RAPL data;
    its band covers ≥ 80 %."""
    validation = _validation_tool()
    points = validation.load_points()
    assert len({p[0] for p in points}) == 4 and len(points) == 86
    f = validation.figures(points)
    assert f["line"]["error"] <= f["codecarbon"]["error"] < f["teads"]["error"]
    assert f["line"]["coverage"] >= 0.80 > f["teads"]["coverage"]


def test_cpu_band_is_calibrated_leave_one_cpu_out():
    """The shipped band is the calibration on all four CPUs; calibrated on three, it holds ≥ 80 %
    of the fourth's points, and its margin is the smallest on the grid that does."""
    validation = _validation_tool()
    points = validation.load_points()
    assert validation.calibrated_band(points) == validation._shipped_band()

    def coverage(margin: float) -> float:
        held = validation.leave_one_cpu_out(points, margin)
        return sum(k for k, _ in held.values()) / len(points)

    assert (
        coverage(validation.BAND_MARGIN)
        >= 0.80
        > coverage(validation.BAND_MARGIN - validation.BAND_STEP)
    )
    assert validation.BAND_MARGIN - validation.BAND_STEP >= 0
