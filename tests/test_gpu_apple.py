"""Apple Silicon through a stub ``zeus_apple_silicon`` (fields in mJ, None where not reported)."""

from __future__ import annotations

import sys

import pytest
from fakes import exact_energy_j, run_window, sine_power
from stubs import zeus_apple_silicon as stub

from jupyter_carbon.carbon_session import CarbonSession
from jupyter_carbon.config import Config
from jupyter_carbon.sources import apple
from jupyter_carbon.sources.detect import detect
from jupyter_carbon.sources.discovery import DiscoveryContext


@pytest.fixture
def soc(monkeypatch, clock, no_pynvml, tmp_path):
    def install(power, **kwargs):
        stub.configure(power, clock, **kwargs)
        monkeypatch.setitem(sys.modules, "zeus_apple_silicon", stub)
        return stub

    return install


def config(tmp_path, **kw):
    return Config(
        powercap_root=str(tmp_path / "no-rapl"), hwmon_root=str(tmp_path / "no-hwmon"), **kw
    )


def test_cpu_gpu_ane_dram_in_millijoules(soc, clock, tmp_path):
    cpu, gpu, sram, ane, dram = (
        sine_power(8, 3, 5.0),
        sine_power(12, 4, 3.0),
        (lambda t: 0.5),
        (lambda t: 2.0),
        (lambda t: 1.5),
    )
    soc({"cpu_total_mj": cpu, "gpu_mj": gpu, "gpu_sram_mj": sram, "ane_mj": ane, "dram_mj": dram})
    session = CarbonSession(config(tmp_path), clock=clock, threaded=False)
    kinds = {(s.component, s.device, s.method, s.measured) for s in session.detection.sources}
    assert kinds == {
        ("cpu", "Apple SoC CPU", "apple-energy-model", True),
        ("gpu", "Apple SoC GPU", "apple-energy-model", True),
        ("gpu", "Apple SoC ANE (Neural Engine)", "apple-energy-model", True),
        ("ram", "Apple SoC DRAM", "apple-energy-model", True),
    }  # no CPU or RAM model: the SoC's counters replace them
    record, t0, t1 = run_window(session, clock, 20, 1.0)
    c = record.components
    # integer mJ from the library: at most 1 mJ of rounding per read and field
    assert c["cpu"].energy_j == pytest.approx(exact_energy_j(cpu, t0, t1), abs=0.01)
    assert c["gpu"].energy_j == pytest.approx(
        exact_energy_j(gpu, t0, t1) + 0.5 * 20 + 2.0 * 20, abs=0.03
    )  # GPU + its SRAM + ANE
    assert c["ram"].energy_j == pytest.approx(1.5 * 20, abs=0.01)
    assert (
        stub.state["samples"] <= 1 + 2 + 20 + 2
    )  # one sample per read time, shared by the four sources


def test_parts_not_reported_are_modelled(soc, clock, tmp_path):
    soc({"cpu_total_mj": lambda t: 5.0, "gpu_mj": lambda t: 3.0})  # no DRAM, no ANE channel
    found = detect(**config(tmp_path).detection_arguments(), environ={})
    methods = {s.component: s.method for s in found.sources}
    assert methods == {"cpu": "apple-energy-model", "gpu": "apple-energy-model", "ram": "ram-model"}


def test_cpu_field_of_early_releases(soc, clock):
    soc({"cpu_total_mj": lambda t: 7.0}, legacy=True)
    sources = apple.discover(DiscoveryContext(now_s=clock.now_s)).sources
    clock.advance(2.0)
    assert sources[0].read(clock.now_s).energy_j == pytest.approx(14.0, abs=0.002)


def test_user_set_power_wins(soc, clock, tmp_path):
    soc({"cpu_total_mj": lambda t: 5.0, "gpu_mj": lambda t: 3.0, "dram_mj": lambda t: 1.0})
    found = detect(**config(tmp_path, power={"gpu": 20.0}).detection_arguments(), environ={})
    assert {(s.component, s.method) for s in found.sources} == {
        ("gpu", "constant"),
        ("cpu", "apple-energy-model"),
        ("ram", "apple-energy-model"),
    }


def test_monitor_failure_and_missing_library_are_reasons(soc, clock, tmp_path, monkeypatch):
    soc({"cpu_total_mj": lambda t: 5.0}, init_error="IOReport subscription failed")
    found = detect(**config(tmp_path).detection_arguments(), environ={})
    assert "IOReport subscription failed" in found.skipped["apple"]
    monkeypatch.setitem(sys.modules, "zeus_apple_silicon", None)
    found = detect(**config(tmp_path).detection_arguments(), environ={})
    assert "pip install 'jupyter-carbon[apple]'" in found.skipped["apple"]


def test_linux_without_the_library_skips_quietly(tmp_path, no_pynvml, monkeypatch):
    monkeypatch.delitem(sys.modules, "zeus_apple_silicon", raising=False)
    if sys.platform == "darwin":
        pytest.skip("a Mac")
    found = detect(**config(tmp_path).detection_arguments(), environ={})
    assert found.skipped["apple"] == "not an Apple Silicon Mac"


def test_an_implausible_step_is_dropped_and_flagged(soc, clock, tmp_path):
    start = clock.now_s
    soc(
        {
            "cpu_total_mj": lambda t: 1e6 if start + 5 < t < start + 6 else 5.0,
            "gpu_mj": lambda t: 3.0,
        }
    )  # 1 MW for a second: a glitch
    session = CarbonSession(config(tmp_path), clock=clock, threaded=False)
    record, t0, t1 = run_window(session, clock, 20, 1.0)
    cpu = next(s for s in session.detection.sources if s.component == "cpu")
    assert cpu.glitches == 1 and record.components["cpu"].energy_j < 1000  # not a megajoule
    assert any("implausible" in flag for flag in record.flags), record.flags
