"""Pin sources/counter.py exactly: wrap, reset, the plausibility bound at its edge, the power that
replaces a glitch, with time steps other than 1 s (where ``power * dt`` and ``power / dt`` differ).

Every figure is a whole number of µJ and an exact binary fraction of a second, so the expected
totals are exact floats and compared with ``==``.
"""

from __future__ import annotations

import errno

import pytest

from jupyter_carbon.sources.counter import CounterTotal, MicrojouleFileSource

MAX_W = 100.0  # the device draws at most 100 W: in 0.5 s at most 50 J = 50_000_000 µJ


def test_plain_steps_add_up_from_a_non_zero_start():
    counter = CounterTotal(7_000_000.0, 1000.0, max_power_w=MAX_W)
    assert counter.total_uj == 0.0 and counter.glitches == 0
    assert counter.step(7_000_000.0, 1000.25) == 0.0  # no change: nothing added, no wrap, no glitch
    assert counter.step(12_000_000.0, 1000.5) == 5_000_000.0
    assert counter.step(13_500_000.0, 1002.5) == 6_500_000.0
    assert counter.glitches == 0


def test_equal_reading_with_a_register_width_is_not_a_wrap():
    counter = CounterTotal(1_000_000.0, 10.0, max_power_w=MAX_W, wrap_uj=2.0**32)
    assert counter.step(1_000_000.0, 10.5) == 0.0 and counter.glitches == 0


def test_step_exactly_at_the_bound_is_kept_one_above_is_dropped():
    # 100 W × 0.5 s = 50_000_000 µJ: a step of exactly that is plausible
    counter = CounterTotal(0.0, 20.0, max_power_w=MAX_W)
    assert counter.step(50_000_000.0, 20.5) == 50_000_000.0 and counter.glitches == 0
    # 50_000_001 µJ in the next 0.5 s is more than 100 W: dropped, replaced by the last power
    # (50 J / 0.5 s = 100 W) × 0.5 s = 50_000_000 µJ
    assert counter.step(100_000_001.0, 21.0) == 100_000_000.0 and counter.glitches == 1


def test_a_glitch_is_replaced_by_the_last_power_times_its_own_interval():
    counter = CounterTotal(3_000_000.0, 100.0, max_power_w=MAX_W)
    # 40 J over 2 s: 20 W
    assert counter.step(43_000_000.0, 102.0) == 40_000_000.0
    # +10 kJ in 0.5 s (20 kW) is a glitch: replaced by 20 W × 0.5 s = 10 J
    assert counter.step(10_043_000_000.0, 102.5) == 50_000_000.0
    assert counter.glitches == 1
    # the reading after the glitch steps from the glitched raw value, at the same 20 W:
    # +5 J over 0.25 s, plausible (bound 25 J)
    assert counter.step(10_048_000_000.0, 102.75) == 55_000_000.0
    # a second glitch over 4 s: the last plausible power was 5 J / 0.25 s = 20 W again → 80 J
    assert counter.step(20_000_000_000.0, 106.75) == 135_000_000.0
    assert counter.glitches == 2


def test_a_glitch_before_any_plausible_step_adds_nothing():
    counter = CounterTotal(0.0, 0.0, max_power_w=MAX_W)
    assert counter.step(1e12, 0.5) == 0.0 and counter.glitches == 1  # no power known yet: 0 W


def test_same_clock_time_allows_one_millisecond_of_power():
    # two reads at the same clock time: the bound is 100 W × 1 ms = 100_000 µJ
    counter = CounterTotal(0.0, 5.0, max_power_w=MAX_W)
    assert counter.step(100_000.0, 5.0) == 100_000.0 and counter.glitches == 0
    # the power is not updated by a zero-length step, and a glitch at dt = 0 adds 0 µJ
    assert counter.step(200_001.0, 5.0) == 100_000.0 and counter.glitches == 1
    # the next real step: 2 J over 0.25 s (8 W); a glitch after it is replaced at 8 W × 0.5 s = 4 J
    assert counter.step(2_200_001.0, 5.25) == 2_100_000.0
    assert counter.step(9e12, 5.75) == 6_100_000.0 and counter.glitches == 2


def test_a_clock_that_steps_back_replaces_a_glitch_with_nothing():
    counter = CounterTotal(0.0, 50.0, max_power_w=MAX_W)
    assert counter.step(25_000_000.0, 50.5) == 25_000_000.0  # 50 W
    # the clock went back 1 s: the bound is still 1 ms of power (100_000 µJ), the step of 1 J is a
    # glitch, and its replacement uses no negative time
    assert counter.step(26_000_000.0, 49.5) == 25_000_000.0 and counter.glitches == 1


def test_wrap_of_a_fixed_width_register():
    wrap = 2.0**32  # 4_294_967_296 µJ
    counter = CounterTotal(wrap - 3_000_000.0, 7.0, max_power_w=MAX_W, wrap_uj=wrap)
    # rolled over to 2 J: 3 J to the top + 2 J after it = 5 J, in 0.25 s (20 W, plausible)
    assert counter.step(2_000_000.0, 7.25) == 5_000_000.0 and counter.glitches == 0
    assert counter.step(4_500_000.0, 7.5) == 7_500_000.0


def test_going_back_without_a_register_width_is_a_reset_counted_from_zero():
    counter = CounterTotal(9_000_000.0, 1.0, max_power_w=MAX_W)
    # the counter restarted and reads 2 J: the energy since the reset is 2 J
    assert counter.step(2_000_000.0, 1.5) == 2_000_000.0 and counter.glitches == 0
    assert counter.step(2_500_000.0, 2.0) == 2_500_000.0


def test_going_back_past_the_register_width_is_a_reset():
    # a 64-bit count already beyond the 32-bit width it was said to have: going back is a reset
    counter = CounterTotal(2.0**32 + 1_000_000.0, 3.0, max_power_w=MAX_W, wrap_uj=2.0**32)
    assert counter.step(3_000_000.0, 3.5) == 3_000_000.0 and counter.glitches == 0


class _FileCounter(MicrojouleFileSource):
    component, device, method = "cpu", "package-0", "test-uj"

    def __init__(self, path, now_s, wrap_uj=None):
        self._open_counter(path, now_s, max_power_w=MAX_W, wrap_uj=wrap_uj)


def test_file_source_reads_joules_from_a_microjoule_file(tmp_path):
    path = tmp_path / "energy_uj"
    path.write_text("4000000\n")
    source = _FileCounter(path, 10.0, wrap_uj=10_000_000)
    path.write_text("9500000\n")  # +5.5 J in 0.5 s
    reading = source.read(10.5)
    assert (reading.energy_j, reading.low_j, reading.high_j) == (5.5, 5.5, 5.5)
    path.write_text("1500000\n")  # wrapped: 0.5 J to the top + 1.5 J = 2 J more
    assert source.read(11.0).energy_j == 7.5
    path.write_text("99999999999\n")  # 100 kJ in 0.25 s: dropped, replaced by 4 W × 0.25 s = 1 J
    assert source.read(11.25).energy_j == 8.5 and source.glitches == 1
    assert repr(source) == f"<_FileCounter cpu 'package-0' {path}>"
    source.close()


def test_file_source_that_reads_empty_raises_enodev(tmp_path):
    path = tmp_path / "energy_uj"
    path.write_text("123\n")
    source = _FileCounter(path, 0.0)
    path.write_text("")
    with pytest.raises(OSError) as info:
        source.read(1.0)
    assert info.value.errno == errno.ENODEV
    assert str(info.value) == f"[Errno {errno.ENODEV}] {path} returned nothing"
    source.close()


def test_file_source_that_cannot_be_parsed_fails_at_opening(tmp_path):
    path = tmp_path / "energy_uj"
    path.write_text("not a number\n")
    with pytest.raises(ValueError):
        _FileCounter(path, 0.0)
