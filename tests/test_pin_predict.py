"""Pin predict.py: the quantile series, the interval merging and batching, and the band's width
(not only that it contains the truth), each expected value derived here from the module
docstring's formulas.

For a scenario the test states the (Δn, ΔE) intervals that the docstring's rules give (short
intervals merged into the next, a short tail into the last, then ⌈√m⌉ batches, at least 3) and
:func:`half_width_j` applies the docstring's variance formula to them.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from jupyter_carbon import predict
from jupyter_carbon.predict import LoopPredictor, format_estimate, t_quantile

T975 = 0.975  # two-sided 95 %: the upper 97.5 % quantile


def half_width_j(intervals, n, energy_j, remaining, drift_per_iteration_j=0.0):
    """The docstring's half-width: t · sqrt(R² σ²/n + R σ²) + |r_recent − r| · R, σ² pooled with a
    prior of 2 intervals at a 30 % scatter."""
    rate = energy_j / n
    m = len(intervals)
    ss = sum((de - rate * dn) ** 2 / dn for dn, de in intervals)
    prior_var = (0.3 * rate) ** 2 * (n / m)  # a per-interval CV of 30 %, per iteration
    df = m - 1 + 2
    var = (2 * prior_var + ss) / df
    return (
        t_quantile(T975, df) * math.sqrt(var * (remaining**2 / n + remaining))
        + drift_per_iteration_j * remaining
    )


def banded(p, iterations, elapsed_s, energy_j, low_j, high_j):
    """Add a checkpoint with a model's band (Energy value where the package has one)."""
    energy_type = getattr(predict, "Energy", None)  # the value type predict takes, if any
    if energy_type is None:
        p.add(iterations, elapsed_s, energy_j, low_j, high_j)
    else:
        p.add(iterations, elapsed_s, energy_type(energy_j, low_j, high_j))


def test_constants_are_the_documented_ones():
    assert predict.CONFIDENCE == 0.95
    assert predict.PRIOR_CV == 0.3 and predict.PRIOR_INTERVALS == 2
    assert predict.SHORT_INTERVAL_FRACTION == 0.25 and predict.MAX_CHECKPOINTS == 512


def test_t_quantile_exact_for_one_and_two_degrees_of_freedom():
    # df = 1 is Cauchy: tan(π (p − ½)); at p = 0.75 that is tan(π/4) = 1
    assert t_quantile(0.75, 1) == pytest.approx(1.0, rel=1e-12)
    assert t_quantile(0.25, 1) == pytest.approx(-1.0, rel=1e-12)
    # df = 2: (2p − 1) / sqrt(2 p (1 − p)); at p = 0.8: 0.6 / sqrt(0.32)
    assert t_quantile(0.8, 2) == pytest.approx(0.6 / math.sqrt(0.32), rel=1e-12)
    assert t_quantile(0.5, 2) == 0.0


@pytest.mark.parametrize("df", [3, 4, 7, 30])
def test_t_quantile_series_coefficients(df):
    """Abramowitz & Stegun 26.7.5 summed by hand at z = 1 and z = 2 (p = Φ(z)):
    g1 = (z³ + z)/4, g2 = (5z⁵ + 16z³ + 3z)/96, g3 = (3z⁷ + 19z⁵ + 17z³ − 15z)/384,
    g4 = (79z⁹ + 776z⁷ + 1482z⁵ − 1920z³ − 945z)/92160."""
    at_1 = (1.0, 2 / 4, 24 / 96, 24 / 384, -528 / 92160)
    at_2 = (2.0, 10 / 4, 294 / 96, 1098 / 384, 169950 / 92160)
    for z, g1, g2, g3, g4 in (at_1, at_2):
        expected = z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4
        assert t_quantile(NormalDist().cdf(z), df) == pytest.approx(expected, rel=1e-9)
        # odd in z
        assert t_quantile(NormalDist().cdf(-z), df) == pytest.approx(-expected, rel=1e-9)


def test_t_quantile_refuses_the_edges():
    for p, df in ((0.0, 3), (1.0, 3), (-0.1, 3), (0.5, 0)):
        with pytest.raises(ValueError) as info:
            t_quantile(p, df)
        assert str(info.value) == f"t_quantile needs 0 < p < 1 and df >= 1, got p={p!r}, df={df!r}"
    assert t_quantile(0.5, 1) == pytest.approx(0.0, abs=1e-12)  # df = 1 is allowed


def test_totals_that_are_not_whole_numbers_are_refused():
    for bad in (True, -1, 2.5, "10"):
        with pytest.raises(ValueError) as info:
            LoopPredictor(bad)
        assert (
            str(info.value) == f"total={bad!r}: expected a whole number of iterations >= 0, or None"
        )
    assert LoopPredictor(0).total == 0


def test_backwards_checkpoints_are_refused():
    p = LoopPredictor(10)
    p.add(4, 2.0, 8.0)
    with pytest.raises(
        ValueError,
        match=r"checkpoints must not go backwards: .*iterations=3.* after .*iterations=4",
    ):
        p.add(3, 2.5, 9.0)
    with pytest.raises(ValueError, match="must not go backwards"):
        p.add(5, 1.5, 9.0)  # more iterations, but the clock went back
    p.add(4, 2.0, 8.0)  # the same point again is fine
    assert p.checkpoints == 1


def test_a_reading_without_a_new_iteration_refreshes_the_last_checkpoint_only_after_the_first():
    p = LoopPredictor(10)
    p.add(0, 1.5, 3.0)  # no iteration yet: the start stays (0, 0 s, 0 J)
    assert p.checkpoints == 0 and p.estimate() is None
    p.add(5, 2.0, 10.0)
    p.add(5, 2.5, 12.5)  # fresher reading of the same point
    assert p.checkpoints == 1
    e = p.estimate()
    assert (e.iterations, e.elapsed_s, e.energy_j) == (5, 2.5, 12.5)
    # one interval from the untouched start: (5 iterations, 12.5 J), on the rate: ss = 0; the low
    # end clamps (half > 2.5 · 5)
    half = half_width_j([(5, 12.5)], 5, 12.5, 5)
    assert half > 12.5 and e.predicted_low_j == 12.5
    assert e.predicted_high_j == pytest.approx(25.0 + half, rel=1e-12)
    p.add(8, 4.0, 20.0)
    p.add(8, 4.5, 21.5)  # the refresh replaces the last checkpoint, not an earlier one
    assert p.checkpoints == 2
    e = p.estimate()
    assert (e.iterations, e.elapsed_s, e.energy_j) == (8, 4.5, 21.5)
    # intervals (5, 12.5 J), (3, 9 J) at r = 21.5/8; R = 2
    half = half_width_j([(5, 12.5), (3, 9.0)], 8, 21.5, 2)
    assert e.predicted_high_j == pytest.approx(21.5 + 21.5 / 8 * 2 + half, rel=1e-12)


def test_power_of_a_loop_shorter_than_a_second():
    p = LoopPredictor()
    p.add(4, 0.5, 3.0)
    assert p.estimate().power_w == 6.0  # 3 J / 0.5 s


def test_rate_only_fields():
    p = LoopPredictor()
    p.add(8, 2.5, 20.0)
    e = p.estimate(400.0, 1.5)
    assert e.energy_per_iteration_j == 2.5  # 20 J / 8
    assert e.power_w == 8.0  # 20 J / 2.5 s
    assert e.seconds_per_iteration == 2.5 / 8
    assert e.intervals == 1
    # 2.5 J = 2.5 / 3.6e6 kWh × PUE 1.5 × 400 g/kWh
    assert e.co2e_per_iteration_g == pytest.approx(2.5 / 3.6e6 * 1.5 * 400, rel=1e-12)
    assert e.total is None and e.fraction is None and not e.is_prediction
    assert e.predicted_energy_j is None and e.remaining_s is None
    assert LoopPredictor().estimate() is None


def test_one_checkpoint_band_is_wide_and_its_low_end_clamps_at_what_was_spent():
    p = LoopPredictor(100)
    p.add(1, 0.5, 10.0)
    e = p.estimate()
    # one interval (1 iteration, 10 J): r = 10, ss = 0, prior σ² = (3)²·1/1 = 9, df = 2,
    # σ² = 2·9/2 = 9; R = 99: sd = sqrt(9 (99² + 99)); half = t(2) · sd
    half = t_quantile(T975, 2) * math.sqrt(9 * (99**2 + 99))
    assert half == pytest.approx(half_width_j([(1, 10.0)], 1, 10.0, 99), rel=1e-12)
    assert half > 990  # wider than the whole future: the low end is what was spent
    assert e.predicted_energy_j == pytest.approx(10 + 990, rel=1e-12)
    assert e.predicted_low_j == 10.0
    assert e.predicted_high_j == pytest.approx(1000 + half, rel=1e-12)
    assert e.remaining_s == pytest.approx(0.5 * 99, rel=1e-12) and e.fraction == 0.01


def test_three_unequal_intervals_width_without_drift():
    p = LoopPredictor(24)
    for n, t, energy in ((2, 1.5, 14.0), (6, 4.5, 36.0), (12, 9.0, 60.0)):
        p.add(n, t, energy)
    e = p.estimate(360.0, 1.25)
    # intervals (Δn, Δt, ΔE): (2, 1.5, 14), (4, 3, 22), (6, 4.5, 24); the median Δt is 3, none
    # is under 0.75 s, and 3 intervals are 3 batches. r = 60/12 = 5:
    # ss = (14−10)²/2 + (22−20)²/4 + (24−30)²/6 = 8 + 1 + 6 = 15
    # prior σ² = (0.3·5)²·12/3 = 9; df = 4; σ² = (2·9 + 15)/4 = 8.25; R = 12: 12²/12 + 12 = 24
    # only 3 checkpoints: no drift allowance (the recent half's rate, 24 J/6, would add 1 J per
    # iteration)
    half = t_quantile(T975, 4) * math.sqrt(8.25 * 24)
    assert half == pytest.approx(
        half_width_j([(2, 14.0), (4, 22.0), (6, 24.0)], 12, 60.0, 12), rel=1e-12
    )
    assert e.intervals == 3 and e.total == 24
    assert e.predicted_energy_j == pytest.approx(120.0, rel=1e-12)  # 60 + 5 · 12
    assert e.predicted_low_j == pytest.approx(120.0 - half, rel=1e-12)
    assert e.predicted_high_j == pytest.approx(120.0 + half, rel=1e-12)
    assert e.remaining_s == pytest.approx(9.0, rel=1e-12) and e.fraction == 0.5  # 0.75 s × 12
    # CO2e: J / 3.6e6 × 1.25 × 360 = J × 1.25e-4
    assert e.co2e_per_iteration_g == pytest.approx(5 * 1.25e-4, rel=1e-12)
    assert e.predicted_co2e_g == pytest.approx(120 * 1.25e-4, rel=1e-12)
    assert e.predicted_co2e_low_g == pytest.approx((120 - half) * 1.25e-4, rel=1e-12)
    assert e.predicted_co2e_high_g == pytest.approx((120 + half) * 1.25e-4, rel=1e-12)


def test_a_model_band_scales_the_past_and_the_future():
    p = LoopPredictor(24)
    p.add(2, 1.5, 14.0)
    p.add(6, 4.5, 36.0)
    banded(p, 12, 9.0, 60.0, 48.0, 90.0)  # the sources' band: 0.8× to 1.5× of the figure
    e = p.estimate()
    half = half_width_j([(2, 14.0), (4, 22.0), (6, 24.0)], 12, 60.0, 12)  # as above
    assert half < 60  # the low end is not clamped here
    # low = low_n + (rR − h)·low_n/E_n, high = high_n + (rR + h)·high_n/E_n
    assert e.predicted_energy_j == pytest.approx(120.0, rel=1e-12)
    assert e.predicted_low_j == pytest.approx(48 + (60 - half) * 0.8, rel=1e-12)
    assert e.predicted_high_j == pytest.approx(90 + (60 + half) * 1.5, rel=1e-12)


def test_batches_and_the_drift_allowance():
    p = LoopPredictor(80)
    for n, t, energy in ((10, 0.5, 10.0), (20, 1.0, 20.0), (30, 1.5, 40.0), (40, 2.0, 70.0)):
        p.add(n, t, energy)
    e = p.estimate()
    # 4 intervals of 10 iterations in 0.5 s: 10, 10, 20, 30 J. m = 4 gives b = max(3, ⌈2⌉) = 3
    # batches: merged[0:1], [1:2], [2:4] = (10, 10 J), (10, 10 J), (20, 50 J)
    # r = 70/40 = 1.75; the recent half starts at the checkpoint nearest 40/2 = 20 iterations
    # (20 J): (70 − 20)/(40 − 20) = 2.5, so the drift is |2.5 − 1.75| = 0.75 J per iteration
    # ss = (10 − 17.5)²/10 · 2 + (50 − 35)²/20 = 22.5; prior σ² = 0.525²·40/3 = 3.675
    half = t_quantile(T975, 4) * math.sqrt((2 * 3.675 + 22.5) / 4 * (40**2 / 40 + 40)) + 0.75 * 40
    assert half == pytest.approx(
        half_width_j([(10, 10.0), (10, 10.0), (20, 50.0)], 40, 70.0, 40, 0.75), rel=1e-12
    )
    assert e.intervals == 3
    assert e.predicted_energy_j == pytest.approx(140.0, rel=1e-12)  # 70 + 1.75 · 40
    assert e.predicted_high_j == pytest.approx(140.0 + half, rel=1e-12)
    assert half > 70  # more than the future's 1.75 · 40: the low end is what was spent
    assert e.predicted_low_j == 70.0


def test_short_early_intervals_merge_into_the_next_one():
    p = LoopPredictor(40)
    for n, t, energy in ((1, 0.1, 3.0), (2, 0.2, 4.0), (10, 2.2, 40.0), (20, 4.2, 80.0)):
        p.add(n, t, energy)
    e = p.estimate()
    # Δt: 0.1, 0.1, 2, 2 (median 1.05, threshold 0.2625): 0.1 and 0.1 wait for the 2 s that
    # follows: (10 it, 2.2 s, 40 J), then (10 it, 2 s, 40 J). r = 80/20 = 4, ss = 0
    # (unmerged, the first two (1 it, 3 J) and (1 it, 1 J) would add 1 + 9 = 10)
    # 5 points: the recent half from the checkpoint nearest 10 iterations (40 J): (80 − 40)/10 = 4,
    # no drift
    half = half_width_j([(10, 40.0), (10, 40.0)], 20, 80.0, 20)
    assert e.intervals == 2
    assert e.predicted_high_j - e.predicted_low_j == pytest.approx(2 * half, rel=1e-12)


def test_three_intervals_are_merged_too():
    p = LoopPredictor(20)
    for n, t, energy in ((2, 0.125, 6.0), (6, 2.125, 14.0), (10, 4.125, 26.0)):
        p.add(n, t, energy)
    # Δt: 0.125, 2, 2 (median 2, threshold 0.5): the first joins the second: (6, 14 J), (4, 12 J)
    e = p.estimate()
    assert e.intervals == 2
    half = half_width_j([(6, 14.0), (4, 12.0)], 10, 26.0, 10)
    assert e.predicted_high_j == pytest.approx(26.0 + 2.6 * 10 + half, rel=1e-12)


def test_an_interval_exactly_at_the_threshold_stands_alone():
    p = LoopPredictor(40)
    for n, t, energy in ((2, 0.5, 2.0), (6, 2.5, 14.0), (10, 4.5, 18.0), (14, 6.5, 30.0)):
        p.add(n, t, energy)
    # Δt: 0.5, 2, 2, 2 (median 2, threshold 0.5): the first interval is not short. m = 4 → 3
    # batches: (2, 2 J), (4, 12 J), (8, 16 J). r = 30/14; R = 26
    # drift: the checkpoint nearest 7 iterations is 6 (14 J): (30 − 14)/8 − 30/14
    e = p.estimate()
    assert e.intervals == 3
    drift = abs(16 / 8 - 30 / 14)
    half = half_width_j([(2, 2.0), (4, 12.0), (8, 16.0)], 14, 30.0, 26, drift)
    assert e.predicted_high_j == pytest.approx(30.0 + 30 / 14 * 26 + half, rel=1e-12)


def test_the_accumulator_restarts_from_zero_after_each_interval():
    p = LoopPredictor(40)
    for n, t, energy in ((4, 2.0, 8.0), (5, 2.125, 12.0), (9, 4.125, 20.0), (13, 6.125, 36.0)):
        p.add(n, t, energy)
    # Δt: 2, 0.125, 2, 2 (median 2, threshold 0.5): the 0.125 s joins the next: (4, 8 J),
    # (5, 12 J), (4, 16 J). r = 36/13; R = 27
    # drift: the checkpoint nearest 6.5 iterations is 5 (12 J): (36 − 12)/8 − 36/13
    e = p.estimate()
    assert e.intervals == 3
    drift = abs(24 / 8 - 36 / 13)
    half = half_width_j([(4, 8.0), (5, 12.0), (4, 16.0)], 13, 36.0, 27, drift)
    assert e.predicted_high_j == pytest.approx(36.0 + 36 / 13 * 27 + half, rel=1e-12)


def test_the_recent_half_may_start_at_the_first_checkpoint():
    p = LoopPredictor(40)
    for n, t, energy in ((10, 1.0, 10.0), (16, 1.5, 20.0), (18, 2.0, 26.0), (20, 2.5, 30.0)):
        p.add(n, t, energy)
    # the checkpoint nearest 10 iterations is the first one (10 J): (30 − 10)/10 − 30/20 = 0.5
    # (from the next one, 16 iterations, it would be (30 − 20)/4 − 1.5 = 1)
    # Δt 1, 0.5, 0.5, 0.5 (median 0.5, threshold 0.125): 4 intervals, 3 batches:
    # (10, 10 J), (6, 10 J), (4, 10 J)
    e = p.estimate()
    half = half_width_j([(10, 10.0), (6, 10.0), (4, 10.0)], 20, 30.0, 20, 0.5)
    assert e.predicted_high_j == pytest.approx(30.0 + 1.5 * 20 + half, rel=1e-12)


def test_a_short_tail_merges_into_the_last_interval():
    p = LoopPredictor(26)
    for n, t, energy in ((4, 2.0, 20.0), (8, 4.0, 40.0), (12, 6.0, 60.0), (13, 6.1, 78.0)):
        p.add(n, t, energy)
    e = p.estimate()
    # Δt: 2, 2, 2, 0.1 (median 2, threshold 0.5): the last 0.1 s never reaches it and joins the
    # interval before: (4, 20 J), (4, 20 J), (5, 38 J). r = 78/13 = 6
    # ss = (20 − 24)²/4 · 2 + (38 − 30)²/5 = 8 + 12.8
    # drift: the checkpoint nearest 6.5 iterations is 8 (40 J): (78 − 40)/5 − 6 = 1.6 J/iteration
    half = half_width_j([(4, 20.0), (4, 20.0), (5, 38.0)], 13, 78.0, 13, 1.6)
    assert e.intervals == 3
    assert e.predicted_energy_j == pytest.approx(78.0 + 6 * 13, rel=1e-12)
    assert e.predicted_high_j - e.predicted_low_j == pytest.approx(2 * half, rel=1e-12)


def test_many_intervals_make_root_m_batches():
    p = LoopPredictor(200)
    energy = 0.0
    for i in range(1, 17):  # 16 intervals of 5 iterations in 0.25 s: 2 J/iteration, then 3
        energy += 5 * (2.0 if i <= 8 else 3.0)
        p.add(5 * i, 0.25 * i, energy)
    e = p.estimate()
    # m = 16: b = max(3, ⌈4⌉) = 4 batches of 4 intervals: (20 it, 40 J) × 2, (20 it, 60 J) × 2
    # r = 200/80 = 2.5. Drift: the checkpoint nearest 40 iterations (80 J): (200 − 80)/40 = 3, 0.5 J
    assert e.intervals == 4
    half = half_width_j([(20, 40.0), (20, 40.0), (20, 60.0), (20, 60.0)], 80, 200.0, 120, 0.5)
    assert e.predicted_energy_j == pytest.approx(200 + 2.5 * 120, rel=1e-12)
    assert e.predicted_high_j - e.predicted_low_j == pytest.approx(2 * half, rel=1e-12)


def test_checkpoints_thin_out_in_pairs_beyond_the_limit():
    p = LoopPredictor(2000)
    for i in range(1, 512):
        p.add(i, 0.5 * i, 3.0 * i)
    assert p.checkpoints == 511
    p.add(512, 256.0, 1536.0)  # 513 points with the start: every other one but the last is kept
    assert p.checkpoints == 256  # points 0, 2, …, 510 (256 of them, the start included) and 512
    assert p.last.iterations == 512
    e = p.estimate()
    assert e.energy_per_iteration_j == 3.0 and e.intervals == 16  # 256 intervals: ⌈√256⌉ batches


def test_a_loop_past_its_total_predicts_what_was_spent_and_no_time_left():
    p = LoopPredictor(10)
    p.add(12, 6.0, 30.0)
    e = p.estimate()
    assert e.fraction == 1.0 and e.remaining_s == 0.0
    assert e.predicted_energy_j == e.predicted_low_j == e.predicted_high_j == 30.0
    p = LoopPredictor(0)
    p.add(3, 1.0, 6.0)
    assert p.estimate().fraction == 1.0


def test_negative_energy_gives_no_negative_co2e():
    p = LoopPredictor(4)
    p.add(2, 1.0, -4.0)  # e.g. less than a subtracted baseline
    e = p.estimate(500.0)
    assert e.co2e_per_iteration_g == 0.0
    assert e.predicted_energy_j == -8.0 and e.predicted_co2e_g == 0.0
    # the band ratios fall back to 1 without a positive energy; r = −2, R = 2, future −4
    half = half_width_j([(2, -4.0)], 2, -4.0, 2)
    assert e.predicted_low_j == -4.0  # −4 + max(0, −4 − half)
    assert e.predicted_high_j == pytest.approx(-4.0 + (-4.0 + half) * 1.0, rel=1e-12)
    p = LoopPredictor(4)
    p.add(2, 1.0, 0.0)  # nothing spent: no band to scale, no division by 0
    e = p.estimate()
    assert (e.predicted_energy_j, e.predicted_low_j, e.predicted_high_j) == (0.0, 0.0, 0.0)


def test_a_band_on_less_than_a_joule_still_scales():
    p = LoopPredictor(4)
    p.add(1, 0.25, 0.25)
    banded(p, 2, 0.5, 0.5, 0.4, 0.75)  # 0.8× to 1.5×
    e = p.estimate()
    # intervals (1, 0.25 J), (1, 0.25 J) at r = 0.25: ss = 0; R = 2, future 0.5
    half = half_width_j([(1, 0.25), (1, 0.25)], 2, 0.5, 2)
    assert e.predicted_high_j == pytest.approx(0.75 + (0.5 + half) * 1.5, rel=1e-12)
    assert e.predicted_low_j == pytest.approx(0.4 + max(0.0, 0.5 - half) * 0.8, rel=1e-12)


def test_format_rate_and_prediction():
    p = LoopPredictor()
    p.add(10, 4.0, 72.0)
    e = p.estimate(500.0)
    # 7.2 J = 2 mWh per iteration, 72 J / 4 s = 18 W, 7.2 J at 500 g/kWh = 1 mg
    assert (
        format_estimate(e)
        == "rate: 2 mWh/iteration, 18 W, 1 mg CO2e/iteration (10 iterations in 4 s)"
    )
    assert format_estimate(p.estimate()) == "rate: 2 mWh/iteration, 18 W (10 iterations in 4 s)"
    p = LoopPredictor()
    p.add(10, 0.0, 72.0)  # no time elapsed: no power
    assert format_estimate(p.estimate()) == "rate: 2 mWh/iteration (10 iterations in 0 µs)"
    p = LoopPredictor(4)
    p.add(4, 75.0, 7200.0)  # done: 2 Wh, the band closed, 7200 J at 500 g/kWh = 1 g
    assert (
        format_estimate(p.estimate(500.0)) == "predicted total: 2 Wh (2–2 Wh), 1 g CO2e, ~0 µs left"
    )
    assert format_estimate(p.estimate()) == "predicted total: 2 Wh (2–2 Wh), ~0 µs left"
