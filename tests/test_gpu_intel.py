"""Intel GPUs through a fake hwmon tree (drivers i915 and xe; energy in µJ)."""

from __future__ import annotations

import pytest
from stubs.hwmon import FakeHwmon

from jupyter_carbon.carbon_session import CarbonSession
from jupyter_carbon.config import Config
from jupyter_carbon.sources import intel_gpu
from jupyter_carbon.sources.detect import detect
from jupyter_carbon.sources.discovery import DiscoveryContext
from jupyter_carbon.sources.intel_gpu import IntelGpuUnavailable


@pytest.fixture
def hwmon(tmp_path):
    return FakeHwmon(tmp_path)


def run_window(session, clock, hwmon, seconds, tick_s, power_w):
    m = session.open("gpu")
    for _ in range(round(seconds / tick_s)):
        clock.advance(tick_s)
        hwmon.advance(tick_s, power_w)
        session.sampler.tick()
    return session.stop(m)


def gpus(found):
    return [s for s in found.sources if s.component == "gpu"]


def test_xe_card_energy_is_measured_in_microjoules(hwmon, clock, no_pynvml):
    hw = hwmon.add("xe", "0000:03:00.0", {"energy1": "card", "energy2": "pkg"}, start_uj=5_000_000)
    hwmon.add("coretemp", "0000:00:18.3")  # another driver: ignored
    session = CarbonSession(Config(hwmon_root=str(hwmon.root)), clock=clock, threaded=False)
    (source,) = gpus(session.detection)
    assert source.device == "gpu0 Intel xe 0000:03:00.0 (card)" and source.method == "intel-hwmon"
    record = run_window(
        session, clock, hwmon, 10, 1.0, {f"{hw}/energy1": 120.0, f"{hw}/energy2": 90.0}
    )
    gpu = record.components["gpu"]
    assert gpu.measured and gpu.methods == ("intel-hwmon",)
    assert gpu.energy_j == pytest.approx(
        120.0 * 10, rel=1e-6
    )  # the card's counter, not pkg, and µJ → J


def test_i915_unlabelled_energy1(hwmon, clock):
    hwmon.add("i915", "0000:4d:00.0")
    found = intel_gpu.discover(DiscoveryContext(now_s=clock.now_s, hwmon_root=hwmon.root))
    sources, skipped = found.sources, found.skipped
    assert [s.device for s in sources] == ["gpu0 Intel i915 0000:4d:00.0"]
    assert skipped == {}


def test_integrated_gpu_is_left_to_rapl(hwmon, clock):
    hwmon.add("i915", "0000:00:02.0")
    with pytest.raises(IntelGpuUnavailable, match="part of the CPU package"):
        intel_gpu.discover(DiscoveryContext(now_s=clock.now_s, hwmon_root=hwmon.root))


def test_wraparound_at_32_bits(hwmon, clock, no_pynvml):
    hw = hwmon.add("i915", "0000:03:00.0", start_uj=2**32 - 50_000_000)  # 50 J before the wrap
    key = f"{hw}/energy1"
    session = CarbonSession(Config(hwmon_root=str(hwmon.root)), clock=clock, threaded=False)
    m = session.open("gpu")
    for _ in range(10):
        clock.advance(1.0)
        hwmon.counter_uj[key] = (hwmon.counter_uj[key] + 20e6) % 2**32  # 20 W, wrapping once
        hwmon._write(key)
        session.sampler.tick()
    record = session.stop(m)
    assert record.components["gpu"].energy_j == pytest.approx(200.0, abs=1e-5)


def test_reset_and_jump(hwmon, clock, no_pynvml):
    hw = hwmon.add("xe", "0000:03:00.0", start_uj=2**40)  # a 64-bit counter far past 32 bits
    key = f"{hw}/energy1"
    session = CarbonSession(Config(hwmon_root=str(hwmon.root)), clock=clock, threaded=False)
    (source,) = gpus(session.detection)
    m = session.open("gpu")
    clock.advance(1.0)
    hwmon.advance(1.0, {key: 30.0})
    session.sampler.tick()  # 30 J
    clock.advance(1.0)
    hwmon.set_raw(key, 10_000_000)  # driver reloaded: restarted from 0, now at 10 J
    session.sampler.tick()
    clock.advance(1.0)
    hwmon.set_raw(key, 10_000_000 + 10**15)  # a 1 GJ step in one second
    session.sampler.tick()
    record = session.stop(m)
    assert source.glitches == 1
    assert record.components["gpu"].energy_j == pytest.approx(
        30.0 + 10.0 + 10.0
    )  # the jump replaced by the last power (10 W) × 1 s
    from jupyter_carbon.display.text import format_status

    assert (
        "problem: gpu0 Intel xe 0000:03:00.0: 1 implausible counter step(s) dropped"
        in format_status(session)
    )


def test_unreadable_counter_says_how_to_fix(hwmon, clock, monkeypatch):
    hwmon.add("xe", "0000:03:00.0")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    from jupyter_carbon.sources import counter

    monkeypatch.setattr(counter, "PreadFile", denied)  # where a counter file is opened
    with pytest.raises(IntelGpuUnavailable, match="sudo chmod a\\+r"):
        intel_gpu.discover(DiscoveryContext(now_s=clock.now_s, hwmon_root=hwmon.root))


def test_no_tree_is_a_reason(tmp_path, no_pynvml):
    found = detect(hwmon_root=str(tmp_path / "none"), environ={})
    assert found.skipped["intel-gpu"].startswith("no hwmon tree at")


def test_a_reset_after_the_count_passed_32_bits_is_a_reset_not_a_wrap():
    from jupyter_carbon.sources.counter import CounterTotal

    counter = CounterTotal(1e6, 0.0, max_power_w=1500.0, wrap_uj=2**32)
    counter.step(5e9, 3600.0)  # 4,999 J in an hour: the 64-bit count is past 2**32 µJ
    total = counter.step(2e6, 3601.0)  # the driver reloaded: the count restarted
    assert total == 4999e6 + 2e6 and counter.glitches == 0  # never backwards
    assert counter.step(3e6, 3602.0) == total + 1e6


def test_a_fifo_where_a_label_should_be_never_blocks_detection(tmp_path):
    import os
    import threading

    from jupyter_carbon.sources.intel_gpu import _text

    fifo = tmp_path / "energy1_label"
    os.mkfifo(fifo)
    done = []
    thread = threading.Thread(target=lambda: done.append(_text(fifo)), daemon=True)
    thread.start()
    thread.join(5.0)
    assert done == [""]  # refused at once, not a reader waiting for a writer forever
