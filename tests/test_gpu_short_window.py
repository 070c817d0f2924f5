"""Windows shorter than a GPU counter resolves are estimated and flagged, never a measured 0 J or a
whole refresh step reported as the truth. Stub pynvml whose energy counter refreshes every
100 ms."""

from __future__ import annotations

import math
import sys

import pytest
from fakes import stub_pynvml

from jupyter_carbon.carbon_session import CarbonSession
from jupyter_carbon.config import Config
from jupyter_carbon.sources.nvml import RESOLUTION_S

POWER_W = 200.0


@pytest.fixture
def session(monkeypatch, clock, tmp_path):
    def make(counter=True, update_s=0.1):
        module = stub_pynvml(
            [
                {
                    "name": "H100",
                    "power_w": lambda t: POWER_W,
                    "counter": counter,
                    "update_s": update_s,
                }
            ],
            clock,
        )
        monkeypatch.setitem(sys.modules, "pynvml", module)
        s = CarbonSession(
            Config(interval=0.05, powercap_root=str(tmp_path / "none")), clock=clock, threaded=False
        )
        warm = s.open("warm-up")  # gives the sampler a recent power to estimate from
        for _ in range(40):
            clock.advance(0.05)
            s.sampler.tick()
        s.stop(warm)
        return s

    return make


def window(session, clock, seconds):
    m = session.open("short")
    clock.advance(seconds)
    return session.stop(m)


def test_sources_state_their_resolution(session):
    s = session()
    (gpu,) = [x for x in s.detection.sources if x.component == "gpu"]
    assert gpu.resolution_s == RESOLUTION_S["nvml-energy"] == 0.1
    s = session(counter=False)
    (gpu,) = [x for x in s.detection.sources if x.component == "gpu"]
    assert gpu.method == "nvml-power" and gpu.resolution_s == 1.0


def test_window_inside_one_refresh_is_estimated_not_zero(session, clock):
    s = session()
    start = math.floor(clock.now_s * 10) / 10 + 0.1 + 0.02  # just after a refresh
    clock.advance(start - clock.now_s)
    record = window(s, clock, 0.04)  # the counter does not move
    gpu = record.components["gpu"]
    assert not gpu.measured
    # recent power from the stepping counter is off by up to one step per span (~10 % here): the
    # band covers it
    assert gpu.energy_j == pytest.approx(POWER_W * 0.04, rel=0.15)
    assert gpu.low_j <= POWER_W * 0.04 <= gpu.high_j
    assert any("H100" in f and "estimated" in f for f in record.flags)


def test_window_across_a_refresh_is_not_taken_as_the_truth(session, clock):
    s = session()
    start = math.floor(clock.now_s * 10) / 10 + 0.1 + 0.09  # 10 ms before the next refresh
    clock.advance(start - clock.now_s)
    m = s.open("straddle")
    clock.advance(
        0.03
    )  # crosses a refresh: the counter steps by a whole 100 ms (20 J) for 6 J of work
    record = s.stop(m)
    gpu = record.components["gpu"]
    assert not gpu.measured
    assert gpu.energy_j == pytest.approx(POWER_W * 0.03, rel=0.15)  # not the 20 J step
    assert gpu.low_j <= POWER_W * 0.03 <= gpu.high_j


def test_window_longer_than_the_resolution_is_measured(session, clock):
    s = session()
    m = s.open("long")
    for _ in range(10):
        clock.advance(0.05)
        s.sampler.tick()
    record = s.stop(m)
    gpu = record.components["gpu"]
    assert gpu.measured and not record.flags
    assert abs(gpu.energy_j - POWER_W * 0.5) <= POWER_W * 0.1 + 1e-6  # within one refresh step


def test_power_average_window_shorter_than_a_second_is_estimated(session, clock):
    s = session(counter=False)
    m = s.open("half-second")
    for _ in range(10):
        clock.advance(0.05)
        s.sampler.tick()
    record = s.stop(m)
    assert not record.components["gpu"].measured
    assert record.components["gpu"].energy_j == pytest.approx(POWER_W * 0.5, rel=0.05)
