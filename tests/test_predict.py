"""The pure loop predictor: statistics, convergence, coverage, rate-only mode, formatting."""

from __future__ import annotations

import math
import random

import pytest

from jupyter_carbon.energy import Co2e, Energy
from jupyter_carbon.intensity.emissions import co2e_g
from jupyter_carbon.predict import (
    MAX_CHECKPOINTS,
    Estimate,
    LoopPredictor,
    format_estimate,
    t_quantile,
)


def simulate(total, step, every=1, band=0.0):
    """Feed a predictor with a loop whose iteration i costs ``step(i) -> (duration_s, power_w)``;
    returns (predictor, estimates by iterations done, actual total J)."""
    p = LoopPredictor(total)
    t = energy = 0.0
    estimates = {}
    for i in range(1, total + 1):
        dt, power = step(i, t)
        t += dt
        energy += dt * power
        if i % every == 0 or i in (1, 2, 4, 8):
            p.add(i, t, Energy(energy, energy * (1 - band), energy * (1 + band)))
            estimates[i] = p.estimate(400.0, 1.0)
    return p, estimates, energy


@pytest.mark.parametrize(
    "df,expected",
    [
        (1, 12.706),
        (2, 4.303),
        (3, 3.182),
        (4, 2.776),
        (5, 2.571),
        (10, 2.228),
        (30, 2.042),
        (1000, 1.962),
    ],
)
def test_t_quantile_matches_tables(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, rel=2e-3)


def test_t_quantile_rejects_nonsense():
    with pytest.raises(ValueError):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError):
        t_quantile(0.9, 0)


def test_no_estimate_before_the_first_iteration():
    p = LoopPredictor(10)
    assert p.estimate() is None
    p.add(0, 1.0, 5.0)
    assert p.estimate() is None


def test_exact_loop_predicts_exactly_and_band_vanishes_at_the_end():
    _, est, actual = simulate(200, lambda i, t: (0.5, 100.0), every=2)
    assert est[20].predicted_energy_j == pytest.approx(actual)
    assert est[20].remaining_s == pytest.approx(90.0)
    assert est[200].predicted_low_j == pytest.approx(actual) and est[
        200
    ].predicted_high_j == pytest.approx(actual)
    assert est[200].remaining_s == 0 and est[200].fraction == 1.0


def test_steady_noisy_loop_converges_within_5_percent_after_10_percent_and_band_contains_actual():
    for seed in range(5):
        rng = random.Random(seed)
        _, est, actual = simulate(
            1000,
            lambda i, t, rng=rng: (0.5 * rng.uniform(0.8, 1.2), 100.0 * rng.uniform(0.9, 1.1)),
            every=2,
        )
        for n in (100, 150, 250, 500, 750, 950):
            e = est[n]
            assert abs(e.predicted_energy_j - actual) / actual < 0.05, (seed, n)
            assert e.predicted_low_j <= actual <= e.predicted_high_j, (seed, n)


def test_band_narrows_as_iterations_accumulate():
    rng = random.Random(7)
    _, est, actual = simulate(1000, lambda i, t: (0.5, 100.0 * rng.uniform(0.8, 1.2)), every=4)
    widths = [est[n].predicted_high_j - est[n].predicted_low_j for n in (20, 100, 500, 900)]
    assert widths == sorted(widths, reverse=True) and widths[-1] < widths[0] / 5
    assert est[1000].predicted_high_j - est[1000].predicted_low_j == pytest.approx(0, abs=1e-6)


def varying(seed):
    """Random iteration times, a warm-up ramp, a slow oscillation and per-iteration noise."""
    rng = random.Random(seed)

    def step(i, t):
        dt = 0.5 * rng.lognormvariate(0, 0.3)
        power = 80 + 20 * min(1.0, t / 30) + 25 * math.sin(2 * math.pi * t / 45) + rng.gauss(0, 10)
        return dt, power

    return step


def test_varying_power_band_contains_actual():
    misses = []
    for seed in range(10):
        _, est, actual = simulate(1000, varying(seed), every=2)
        for n in (100, 250, 500, 750, 950):
            e = est[n]
            if not e.predicted_low_j <= actual <= e.predicted_high_j:
                misses.append((seed, n, e.predicted_low_j / actual, e.predicted_high_j / actual))
    assert misses == []


def test_point_estimate_alone_would_miss_the_varying_actual():
    """Guards the test above: without the range the prediction is not exact (the band matters)."""
    _, est, actual = simulate(1000, varying(3), every=2)
    assert est[100].predicted_energy_j != pytest.approx(actual, rel=1e-3)


def test_few_intervals_give_a_wide_but_finite_band():
    p = LoopPredictor(100)
    p.add(1, 10.0, 1000.0)
    e = p.estimate()
    assert e.predicted_energy_j == pytest.approx(100_000.0)
    assert e.predicted_low_j >= 1000.0  # never below what is already spent
    assert math.isfinite(e.predicted_high_j) and e.predicted_high_j > 2 * e.predicted_energy_j


def test_source_band_widens_the_prediction_proportionally():
    _, exact, actual = simulate(100, lambda i, t: (1.0, 50.0), every=1)
    _, banded, _ = simulate(100, lambda i, t: (1.0, 50.0), every=1, band=0.2)
    assert banded[10].predicted_energy_j == pytest.approx(exact[10].predicted_energy_j)
    assert (
        banded[10].predicted_low_j < 0.81 * actual and banded[10].predicted_high_j > 1.19 * actual
    )
    assert banded[100].predicted_low_j == pytest.approx(0.8 * actual) and banded[
        100
    ].predicted_high_j == pytest.approx(1.2 * actual)


def test_without_total_only_the_rate():
    p = LoopPredictor(None)
    p.add(10, 5.0, 500.0)
    e = p.estimate(400.0, 1.5)
    assert not e.is_prediction and e.predicted_energy_j is None and e.remaining_s is None
    assert (
        e.energy_per_iteration_j == 50.0 and e.power_w == 100.0 and e.seconds_per_iteration == 0.5
    )
    assert e.co2e_per_iteration_g == pytest.approx(co2e_g(50.0, 400.0, 1.5))
    assert format_estimate(e).startswith("rate: ")


def test_co2e_follows_intensity_and_pue():
    p = LoopPredictor(10)
    p.add(5, 5.0, 3_600_000.0)  # 1 kWh for half the loop
    e = p.estimate(200.0, 1.25)
    assert e.predicted_co2e_g == pytest.approx(2 * 200.0 * 1.25)
    assert p.estimate().predicted_co2e_g is None


def test_more_iterations_than_total_predicts_what_was_spent():
    p = LoopPredictor(10)
    p.add(12, 6.0, 120.0)
    e = p.estimate()
    assert e.predicted_energy_j == 120.0 and e.fraction == 1.0 and e.remaining_s == 0


def test_checkpoints_are_bounded_and_keep_the_estimate():
    p = LoopPredictor(10 * MAX_CHECKPOINTS)
    for i in range(1, 3 * MAX_CHECKPOINTS):
        p.add(i, i * 1.0, i * 10.0)
    assert p.checkpoints <= MAX_CHECKPOINTS
    assert p.last.iterations == 3 * MAX_CHECKPOINTS - 1
    assert p.estimate().predicted_energy_j == pytest.approx(100.0 * MAX_CHECKPOINTS)


def test_checkpoints_must_not_go_backwards_and_bad_totals_are_refused():
    p = LoopPredictor(10)
    p.add(3, 3.0, 30.0)
    with pytest.raises(ValueError):
        p.add(2, 4.0, 40.0)
    for bad in (-1, 2.5, True, "10"):
        with pytest.raises(ValueError):
            LoopPredictor(bad)


def test_same_iteration_count_refreshes_the_last_checkpoint():
    p = LoopPredictor(10)
    p.add(2, 2.0, 20.0)
    p.add(2, 2.5, 25.0)
    assert p.checkpoints == 1 and p.last.energy_j == 25.0


def test_format_prediction_line():
    e = Estimate(
        iterations=10,
        elapsed_s=60.0,
        energy_j=1e5,
        energy_per_iteration_j=1e4,
        power_w=1666.0,
        seconds_per_iteration=6.0,
        intervals=5,
        total=100,
        fraction=0.1,
        predicted=Energy(1_476_000.0, 1_296_000.0, 1_692_000.0),
        remaining_s=720.0,
        predicted_co2e=Co2e(190.0, 167.0, 218.0),
    )
    assert (
        format_estimate(e) == "predicted total: 410 Wh (360–470 Wh), 190 g CO2e, ~12 min 0 s left"
    )


def test_the_sources_band_scales_the_future_and_each_end_has_its_co2e():
    """A model band of -20 %/+25 %: the past keeps its band, the future (rate × remaining ±
    half-width) is scaled by low/E and high/E; CO2e of each end at the intensity and PUE."""
    p = LoopPredictor(40)
    for i in range(1, 11):
        p.add(i, 0.5 * i, Energy(12.5 * i, 10.0 * i, 15.625 * i))
    assert p.last.energy == Energy(125.0, 100.0, 156.25) and p.last.energy_j == 125.0
    e = p.estimate(400.0, 1.5)
    future = 12.5 * 30
    assert e.predicted_energy_j == 125.0 + future
    half_from_high = (e.predicted_high_j - 156.25) / 1.25 - future
    half_from_low = future - (e.predicted_low_j - 100.0) / 0.8
    assert 0 < half_from_high < future and half_from_low == pytest.approx(half_from_high, rel=1e-12)
    assert e.predicted == Energy(e.predicted_energy_j, e.predicted_low_j, e.predicted_high_j)
    assert e.predicted_co2e == Co2e(
        *(
            co2e_g(x, 400.0, 1.5)
            for x in (e.predicted_energy_j, e.predicted_low_j, e.predicted_high_j)
        )
    )
    assert (e.predicted_co2e_g, e.predicted_co2e_low_g, e.predicted_co2e_high_g) == (
        e.predicted_co2e.co2e_g,
        e.predicted_co2e.low_g,
        e.predicted_co2e.high_g,
    )
    assert e.predicted_co2e_g == pytest.approx(500.0 / 3.6e6 * 1.5 * 400.0, rel=1e-12)
    for i in range(11, 41):
        p.add(i, 0.5 * i, Energy(12.5 * i, 10.0 * i, 15.625 * i))
    assert p.estimate().predicted == Energy(500.0, 400.0, 625.0)  # the end: exactly what was spent
