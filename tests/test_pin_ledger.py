"""Pin ledger.py through a session on a fake clock: the session totals' band, CO2e and time, the
devices' band from readings that do not start at zero, and where a measured window becomes a
power × time estimate (the counter's resolution, a counter that did not move, a zero-length window).

Times are binary fractions of a second (0.25, 0.0625, …) so that clock arithmetic is exact.
"""

from __future__ import annotations

import pytest
from fakes import session_with

from jupyter_carbon.ledger import SHORT_WINDOW_BAND, SHORT_WINDOW_FLAG
from jupyter_carbon.sources.base import IntegratingSource, Reading

K = 1.25e-4  # grams CO2e per J at 360 g/kWh and PUE 1.25: 1/3.6e6 × 1.25 × 360
SETTINGS = {"intensity": 360.0, "pue": 1.25}


class Model(IntegratingSource):
    """A model source: 10 W, its band 8–15 W."""

    component, device, method, measured = "cpu", "model", "test-model", False

    def _power_band_w(self, now_s):
        return 10.0, 8.0, 15.0


class Counter:
    """A measured counter the test sets by hand (``energy_j``), resolving ``resolution_s``."""

    component, device, method, measured = "gpu", "gpu0", "test-counter", True

    def __init__(self, resolution_s=0.125):
        self.resolution_s = resolution_s
        self.energy_j = 0.0

    def read(self, now_s):
        return Reading(self.energy_j, self.energy_j, self.energy_j)

    def close(self):
        pass


def model_session(clock):
    return session_with(lambda t: [Model(t)], clock, **SETTINGS)


def test_session_totals_count_the_union_with_its_band_co2e_and_time(clock):
    s = model_session(clock)
    clock.advance(4.0)  # 4 s before any window: never counted
    a = s.open("a")
    clock.advance(1.5)
    b = s.open("b")
    clock.advance(2.5)
    s.stop(a)
    clock.advance(0.75)
    record_b = s.stop(b)  # the union: 4.75 s
    t = record_b.totals
    # 4.75 s × 10, 8, 15 W
    assert (t.energy_j, t.low_j, t.high_j) == pytest.approx((47.5, 38.0, 71.25), rel=1e-12)
    assert t.co2e_g == pytest.approx(47.5 * K, rel=1e-12) and t.duration_s == 4.75
    assert t.to_dict()["cells"] == 2
    clock.advance(3.0)  # a gap: not counted
    c = s.open("c")
    clock.advance(0.5)
    now = s.totals()  # the open union segment up to now
    assert (now.energy_j, now.low_j, now.high_j) == pytest.approx((52.5, 42.0, 78.75), rel=1e-12)
    assert now.co2e_g == pytest.approx(52.5 * K, rel=1e-12) and now.duration_s == 5.25
    assert now.to_dict()["cells"] == 2  # windows closed so far
    clock.advance(0.25)
    record_c = s.stop(c)
    t = record_c.totals
    assert (t.energy_j, t.low_j, t.high_j) == pytest.approx((55.0, 44.0, 82.5), rel=1e-12)  # 5.5 s
    assert t.co2e_g == pytest.approx(55.0 * K, rel=1e-12) and t.duration_s == 5.5
    assert t.to_dict()["cells"] == 3  # this record counts itself
    done = s.totals()
    assert (done.energy_j, done.low_j, done.high_j, done.duration_s) == (
        t.energy_j,
        t.low_j,
        t.high_j,
        5.5,
    )
    assert done.co2e_g == t.co2e_g


def test_a_model_window_gets_the_band_of_its_own_interval(clock):
    s = model_session(clock)
    clock.advance(2.25)  # the source has counted 22.5 J (18, 33.75) before the window
    m = s.open()
    clock.advance(1.25)
    record = s.stop(m)
    (device,) = record.devices
    assert (device.energy_j, device.low_j, device.high_j) == pytest.approx(
        (12.5, 10.0, 18.75), rel=1e-12
    )
    assert not device.measured and device.method == "test-model"
    assert record.co2e_g == pytest.approx(12.5 * K, rel=1e-12)
    assert record.co2e_band_g == pytest.approx((10.0 * K, 18.75 * K), rel=1e-12)
    assert record.flags == ()


def test_discarded_and_reset_windows(clock):
    s = model_session(clock)
    m = s.open()
    clock.advance(0.75)
    s.discard(m)  # no record, but its 7.5 J count in the totals
    assert s.records == []
    t = s.totals()
    assert (t.energy_j, t.low_j, t.high_j, t.duration_s) == pytest.approx(
        (7.5, 6.0, 11.25, 0.75), rel=1e-12
    )
    assert t.co2e_g == pytest.approx(7.5 * K, rel=1e-12)
    keep = s.open("open across the reset")
    clock.advance(0.5)
    s.stop(s.open("closed"))
    # closed records and totals go; the open window's union segment goes on from its start
    s.reset()
    assert s.records == []
    clock.advance(0.25)
    record = s.stop(keep)
    assert record.energy_j == pytest.approx(7.5, rel=1e-12)  # its own 0.75 s
    assert (
        record.totals.energy_j == pytest.approx(7.5, rel=1e-12) and record.totals.duration_s == 0.75
    )
    assert record.totals.to_dict()["cells"] == 1


def counter_session(clock, counter):
    """A session with ``counter`` whose power the sampler has seen: 16 W over the last 0.5 s."""
    s = session_with(lambda t: [counter], clock, **SETTINGS)
    for _ in range(4):  # 2 s, a tick every 0.5 s: 8 J per tick
        clock.advance(0.5)
        counter.energy_j += 8.0
        s.sampler.tick()
    return s


def window(s, clock, counter, seconds, joules=0.0):
    m = s.open("short")
    clock.advance(seconds)
    counter.energy_j += joules
    return s.stop(m)


def test_a_counter_that_did_not_move_is_estimated_from_power_times_time(clock):
    counter = Counter()
    s = counter_session(clock, counter)
    # within one 0.125 s step: the counter reads the same
    record = window(s, clock, counter, 0.0625)
    (gpu,) = record.devices
    # 16 W × 0.0625 s = 1 J, its band 0.5× to 1.5×
    assert SHORT_WINDOW_BAND == (0.5, 1.5)
    assert (gpu.energy_j, gpu.low_j, gpu.high_j) == (1.0, 0.5, 1.5)
    assert not gpu.measured and gpu.method == "test-counter power × time"
    assert record.flags == (SHORT_WINDOW_FLAG.format(device="gpu0"),)
    assert record.flags == (
        "gpu0: shorter than the counter's resolution — estimated from power × time",
    )
    assert record.co2e_band_g == pytest.approx((0.5 * K, 1.5 * K), rel=1e-12)
    # a window as long as the resolution whose counter did not move either
    record = window(s, clock, counter, 0.25)
    assert record.devices[0].energy_j == 4.0 and not record.devices[0].measured  # 16 W × 0.25 s


def test_a_step_inside_a_window_shorter_than_the_resolution_is_not_the_truth(clock):
    counter = Counter()
    s = counter_session(clock, counter)
    record = window(s, clock, counter, 0.0625, joules=2.0)  # one 2 J step fell inside 62.5 ms
    (gpu,) = record.devices
    assert (gpu.energy_j, gpu.low_j, gpu.high_j) == (1.0, 0.5, 1.5)  # 16 W × 0.0625 s, not 2 J
    assert not gpu.measured


def test_a_measured_window_of_at_least_the_resolution_is_its_own_band(clock):
    counter = Counter()
    s = counter_session(clock, counter)
    record = window(s, clock, counter, 0.125, joules=2.0)  # exactly the resolution
    (gpu,) = record.devices
    assert (gpu.energy_j, gpu.low_j, gpu.high_j) == (2.0, 2.0, 2.0)
    assert gpu.measured and gpu.method == "test-counter" and record.flags == ()
    record = window(s, clock, counter, 0.25, joules=0.25)  # a small energy is still measured
    assert (record.devices[0].energy_j, record.devices[0].high_j, record.devices[0].measured) == (
        0.25,
        0.25,
        True,
    )


def test_a_zero_length_window_is_measured_zero(clock):
    counter = Counter()
    s = counter_session(clock, counter)
    record = window(s, clock, counter, 0.0)
    (gpu,) = record.devices
    assert (gpu.energy_j, gpu.low_j, gpu.high_j, gpu.measured) == (0.0, 0.0, 0.0, True)
    assert record.flags == ()


def test_before_any_power_is_known_a_short_window_keeps_its_reading(clock):
    counter = Counter()
    s = session_with(lambda t: [counter], clock, **SETTINGS)  # no 0.5 s seen yet: no power
    record = window(s, clock, counter, 0.0625, joules=0.25)
    (gpu,) = record.devices
    assert (gpu.energy_j, gpu.low_j, gpu.high_j) == (0.25, 0.125, 0.375)
    assert not gpu.measured
    record = window(s, clock, counter, 0.0625)  # and a counter that did not move: 0 J, flagged
    assert (record.devices[0].energy_j, record.devices[0].high_j) == (0.0, 0.0) and len(
        record.flags
    ) == 1


def test_record_fields_from_the_window(clock):
    s = model_session(clock)
    m = s.open("train", items=1000, task="text-classification", note="kept in extra")
    clock.advance(0.5)
    record = s.stop(m, cell=7, extra={"more": 1})
    assert (record.label, record.cell, record.items, record.task) == (
        "train",
        7,
        1000,
        "text-classification",
    )
    assert dict(record.extra) == {"note": "kept in extra", "more": 1}
    assert (record.kind, record.scope, record.status) == ("cell", "machine", "ok")
    assert (record.intensity_g_per_kwh, record.pue) == (360.0, 1.25)
    assert record.duration_s == 0.5 and record.start_s == 1000.0
    assert record.id == 1 and s.stop(s.open()).id == 2


class Ram(Model):
    """A second model source: 2 W, its band 1–4 W."""

    component, device = "ram", "ram-model"

    def _power_band_w(self, now_s):
        return 2.0, 1.0, 4.0


def test_session_totals_add_every_source(clock):
    s = session_with(lambda t: [Model(t), Ram(t)], clock, **SETTINGS)
    m = s.open()
    clock.advance(2.5)
    t = s.stop(m).totals
    # 2.5 s × (10 + 2, 8 + 1, 15 + 4) W
    assert (t.energy_j, t.low_j, t.high_j) == pytest.approx((30.0, 22.5, 47.5), rel=1e-12)
    assert t.co2e_g == pytest.approx(30.0 * K, rel=1e-12)


class CoarseCounter(Counter):
    """A measured counter that does not state a resolution."""

    def __init__(self):
        self.energy_j = 0.0


def test_a_counter_without_a_stated_resolution_is_measured_however_short(clock):
    counter = CoarseCounter()
    s = counter_session(clock, counter)
    record = window(s, clock, counter, 0.0625, joules=0.5)
    (gpu,) = record.devices
    assert (gpu.energy_j, gpu.low_j, gpu.high_j, gpu.measured) == (0.5, 0.5, 0.5, True)
    assert (gpu.component, gpu.device, gpu.method) == ("gpu", "gpu0", "test-counter")


def test_the_record_keeps_what_the_session_passes(clock):
    s = session_with(lambda t: [Model(t)], clock, region="FR", **SETTINGS)
    s.baseline_w = {"cpu": 4.0}
    m = s.open("x", cell=5)
    clock.advance(0.5)
    record = s.stop(m)
    assert record.cell == 5  # from the window's metadata when stop() names none
    assert (record.intensity_source, record.region) == ("user", "FR")
    assert record.intensity_utc is not None  # when the intensity was obtained
    assert dict(record.baseline_w) == {"cpu": 4.0}


def test_a_process_window_reads_the_process_views_and_the_totals_the_machine(clock):
    s = model_session(clock)
    m = s.open("mine", scope="process")
    clock.advance(2.0)
    record = s.stop(m)
    assert (record.scope, record.scope_reason) == ("process", "set by the user")
    # the window counts this process's share of each source, not the machine's reading
    assert [d.method for d in record.devices] == ["test-model+process-share"]
    # the session totals stay the machine's: 2 s × 10 W
    assert record.totals.energy_j == pytest.approx(20.0, rel=1e-12)
