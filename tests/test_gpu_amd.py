"""AMD GPUs through a stub ``amdsmi`` that follows the real binding's names and units."""

from __future__ import annotations

import sys

import pytest
from fakes import exact_energy_j, run_window, sine_power
from stubs import amdsmi as stub

from jupyter_carbon.carbon_session import CarbonSession
from jupyter_carbon.config import Config
from jupyter_carbon.sources import amd
from jupyter_carbon.sources.amd import energy_uj_from_count, power_w_from_info
from jupyter_carbon.sources.detect import detect
from jupyter_carbon.sources.discovery import DiscoveryContext
from jupyter_carbon.sources.visible import amd_visible_indices


@pytest.fixture
def amd_gpus(monkeypatch, clock, no_pynvml):
    """Install the stub as ``amdsmi``; the start-up check waits on the fake clock."""

    def install(specs, **kwargs):
        stub.configure(specs, clock, **kwargs)
        monkeypatch.setitem(sys.modules, "amdsmi", stub)
        monkeypatch.setattr(amd, "_sleep", clock.advance)
        monkeypatch.setattr(amd, "_clock", clock)
        return stub

    return install


def gpu_sources(found):
    return [s for s in found.sources if s.component == "gpu"]


def test_energy_counter_is_accumulator_times_resolution(amd_gpus, clock):
    power = sine_power(300, 100, 7.0)
    amd_gpus([{"name": "AMD Instinct MI210", "power_w": power, "resolution_uj": 15.3}])
    session = CarbonSession(Config(), clock=clock, threaded=False)
    record, t0, t1 = run_window(session, clock, 30, 1.0)
    gpu = record.components["gpu"]
    assert gpu.methods == ("amd-energy",) and gpu.measured
    assert gpu.energy_j == pytest.approx(exact_energy_j(power, t0, t1), rel=1e-3)
    assert [s.device for s in gpu_sources(session.detection)] == ["gpu0 AMD Instinct MI210"]


def test_counter_under_the_pre_6_2_1_key(amd_gpus, clock):
    amd_gpus([{"power_w": lambda t: 200.0, "old_api": True}])
    found = detect(environ={})
    assert [s.method for s in gpu_sources(found)] == ["amd-energy"]


def test_a_megawatt_counter_is_refused_and_power_is_integrated(amd_gpus, clock):
    # the counter's units are off by 10**6: over the check it implies ~250 MW
    amd_gpus([{"name": "AMD Radeon RX 7900 XTX", "power_w": lambda t: 250.0, "counter_scale": 1e6}])
    session = CarbonSession(Config(interval=0.1), clock=clock, threaded=False)
    reasons = session.detection.skipped
    why = reasons["amdsmi gpu0 AMD Radeon RX 7900 XTX energy counter"]
    assert "implies" in why and "plausible" in why and "integrating power instead" in why
    record, t0, t1 = run_window(session, clock, 5.0, 0.1)
    gpu = record.components["gpu"]
    assert gpu.methods == ("amd-power",) and gpu.measured
    assert gpu.energy_j == pytest.approx(250.0 * (t1 - t0), rel=1e-6)  # never megawatts


def test_counter_disagreeing_with_power_is_refused(amd_gpus, clock):
    amd_gpus(
        [{"power_w": lambda t: 100.0, "counter_scale": 10.0}]
    )  # 1000 W by the counter, 100 W by the sensor, cap 300 W
    found = detect(environ={})
    assert [s.method for s in gpu_sources(found)] == ["amd-power"]
    amd_gpus(
        [{"power_w": lambda t: 100.0, "counter_scale": 2.0, "cap_uw": 1_000_000_000}]
    )  # 200 W vs 100 W: within 3×
    found = detect(environ={})
    assert [s.method for s in gpu_sources(found)] == ["amd-energy"]


@pytest.mark.parametrize("scale, unit", [(1e3, "mW"), (1e6, "µW")])
def test_power_in_the_wrong_unit_is_refused_not_used(amd_gpus, clock, scale, unit):
    amd_gpus(
        [
            {
                "power_w": lambda t: 250.0,
                "power_scale": scale,
                "counter": False,
                "cap_uw": 300_000_000,
            }
        ]
    )
    found = detect(environ={})
    assert gpu_sources(found) == []
    assert "above the plausible" in found.skipped["amdsmi"], unit


def test_power_cap_in_watts_is_not_taken_for_microwatts(amd_gpus, clock):
    # amdsmi documents the cap in µW; a binding that returns W (560) must not make 400 W
    # implausible
    amd_gpus([{"power_w": lambda t: 400.0, "cap_uw": 560}])
    found = detect(environ={})
    assert [s.method for s in gpu_sources(found)] == ["amd-energy"]


def test_wrong_power_unit_leaves_a_good_counter_in_use(amd_gpus, clock):
    amd_gpus([{"power_w": lambda t: 250.0, "power_scale": 1e3}])
    found = detect(environ={})
    assert [s.method for s in gpu_sources(found)] == ["amd-energy"]
    assert (
        "250000 W" in found.skipped["amdsmi gpu0 AMD Instinct MI210 power"]
        or "2.5e+05 W" in found.skipped["amdsmi gpu0 AMD Instinct MI210 power"]
    )


def test_power_only_gpu_integrates_current_socket_power(amd_gpus, clock):
    power = sine_power(500, 150, 1.3)
    amd_gpus(
        [
            {
                "name": "AMD Instinct MI300X",
                "power_w": power,
                "counter": False,
                "power_field": "current",
                "cap_uw": 750_000_000,
            }
        ]
    )
    session = CarbonSession(Config(interval=0.1), clock=clock, threaded=False)
    record, t0, t1 = run_window(session, clock, 2.0, 0.1)
    gpu = record.components["gpu"]
    assert gpu.methods == ("amd-power",)
    assert gpu.energy_j == pytest.approx(exact_energy_j(power, t0, t1), rel=0.02)


def test_mi250_card_is_counted_once(amd_gpus, clock):
    # GCD 0 reports the whole card (both dies), GCD 1 reads 0 W and a still counter
    card_w = 400.0
    amd_gpus([
        {"name": "AMD Instinct MI250X", "power_w": lambda t: card_w, "cap_uw": 560_000_000},
        {"name": "AMD Instinct MI250X", "power_w": lambda t: card_w, "secondary_die": True,
         "cap_uw": 560_000_000},
    ])  # fmt: skip
    session = CarbonSession(Config(), clock=clock, threaded=False)
    assert [s.device for s in gpu_sources(session.detection)] == [
        "gpu0 AMD Instinct MI250X (both dies)"
    ]
    assert "second die" in session.detection.skipped["amdsmi gpu1 AMD Instinct MI250X"]
    record, t0, t1 = run_window(session, clock, 10, 1.0)
    assert record.components["gpu"].energy_j == pytest.approx(card_w * (t1 - t0), rel=1e-3)


def test_mi250_labels(amd_gpus, clock):
    die = {"name": "AMD Instinct MI250X", "power_w": lambda t: 200.0, "cap_uw": 560_000_000}
    amd_gpus([die, {**die, "secondary_die": True}])
    found = detect(environ={"HIP_VISIBLE_DEVICES": "0"})  # the partner hidden: still the whole card
    assert [s.device for s in gpu_sources(found)] == ["gpu0 AMD Instinct MI250X (both dies)"]
    amd_gpus([die, die])  # a driver that reports each die's own power: summed, no "both dies"
    found = detect(environ={})
    assert [s.device for s in gpu_sources(found)] == [
        "gpu0 AMD Instinct MI250X",
        "gpu1 AMD Instinct MI250X",
    ]


def test_visibility_follows_rocr_then_hip():
    uuids = [f"{i:08x}-aaaa" for i in range(4)]
    assert amd_visible_indices({}, uuids) == [0, 1, 2, 3]
    assert amd_visible_indices(
        {"ROCR_VISIBLE_DEVICES": "1,2,3", "HIP_VISIBLE_DEVICES": "2,0"}, uuids
    ) == [3, 1]
    assert amd_visible_indices({"CUDA_VISIBLE_DEVICES": "1"}, uuids) == [
        1
    ]  # HIP honours it when HIP_… is unset
    assert amd_visible_indices(
        {"HIP_VISIBLE_DEVICES": "0", "CUDA_VISIBLE_DEVICES": "1"}, uuids
    ) == [0]
    assert amd_visible_indices({"ROCR_VISIBLE_DEVICES": "00000002"}, uuids) == [2]


def test_detect_respects_visibility_and_hip_order(amd_gpus, clock):
    # amdsmi lists by PCI address; HIP numbers them otherwise
    amd_gpus([{"name": f"G{i}", "power_w": lambda t: 100.0, "hip_id": 3 - i} for i in range(4)])
    found = detect(environ={"HIP_VISIBLE_DEVICES": "0,2"})
    assert [s.device for s in gpu_sources(found)] == ["gpu0 G3", "gpu2 G1"]
    found = detect(environ={"HIP_VISIBLE_DEVICES": ""})
    assert "hide every GPU" in found.skipped["amdsmi"]


def test_counter_that_goes_backwards_or_jumps(amd_gpus, clock):
    start = clock.now_s
    amd_gpus([{"power_w": lambda t: 200.0, "backwards_at": start + 5.0, "jump_at": start + 7.5}])
    session = CarbonSession(Config(), clock=clock, threaded=False)
    (source,) = gpu_sources(session.detection)
    record, t0, t1 = run_window(session, clock, 10, 1.0)
    assert source.glitches == 1  # the 10**12-tick jump, dropped
    # the reset loses at most the energy between the last read before it and the reset itself
    assert record.components["gpu"].energy_j == pytest.approx(200.0 * (t1 - t0), rel=0.11)
    assert record.components["gpu"].energy_j > 0


def test_unit_helpers():
    assert energy_uj_from_count(
        {"energy_accumulator": 1000, "counter_resolution": 15.3, "timestamp": 1}
    ) == pytest.approx(15300.0)
    assert energy_uj_from_count({"power": 10, "counter_resolution": 15.3}) == pytest.approx(153.0)
    assert energy_uj_from_count({"energy_accumulator": "N/A", "counter_resolution": 15.3}) is None
    assert energy_uj_from_count({"energy_accumulator": 10, "counter_resolution": 0.0}) is None
    assert power_w_from_info({"average_socket_power": "N/A", "current_socket_power": 412}) == 412.0
    assert (
        power_w_from_info(
            {
                "average_socket_power": 0xFFFFFFFF,
                "current_socket_power": "N/A",
                "socket_power": "N/A",
            }
        )
        is None
    )


def test_init_error_and_missing_binding_are_reasons(amd_gpus, clock, monkeypatch):
    amd_gpus([{"power_w": lambda t: 1.0}], init_error="AMDSMI_STATUS_INIT_ERROR")
    found = detect(environ={})
    assert "could not initialise" in found.skipped["amdsmi"]
    monkeypatch.setitem(sys.modules, "amdsmi", None)  # import amdsmi → ImportError
    found = detect(environ={})
    assert "pip install 'jupyter-carbon[amd]'" in found.skipped["amdsmi"]


def test_gpu_lost_mid_window_and_shutdown(amd_gpus, clock):
    start = clock.now_s
    module = amd_gpus(
        [{"power_w": lambda t: 100.0, "fail_at": start + 5.0}, {"power_w": lambda t: 50.0}]
    )
    session = CarbonSession(Config(), clock=clock, threaded=False)
    record, t0, t1 = run_window(session, clock, 10, 1.0)
    assert any("read failed" in f for f in record.flags)
    session.shutdown()
    assert module.state["shutdown"] == 1  # once, after the last AMD source closed


def test_no_driver_costs_no_import(no_pynvml, monkeypatch):
    monkeypatch.delitem(sys.modules, "amdsmi", raising=False)
    if amd._driver_present():
        pytest.skip("this machine has an AMD GPU driver")
    with pytest.raises(amd.AmdUnavailable, match="no AMD GPU driver"):
        amd.discover(DiscoveryContext(now_s=0.0, environ={}))
    assert "amdsmi" not in sys.modules
