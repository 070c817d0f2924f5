"""Pin totals.py: every figure a counted window adds (energy, its band, CO2e and its band, time)
scaled by a fraction other than 0 and 1, from records in the log's own dict form, windows that
do not start at zero, devices that do not share one band, two intensities."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jupyter_carbon.record import WindowRecord
from jupyter_carbon.totals import counted_fractions, span_of, totals_of, totals_of_spans

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
K = 1.25e-4  # grams CO2e per J at 360 g/kWh and PUE 1.25: 1/3.6e6 × 1.25 × 360


def record(i, wall_s, duration_s, devices, g_per_kwh=360.0, pue=1.25):
    """A record as the log stores it: ``wall_s`` = (start, end) seconds after T0 on the wall
    clock, ``duration_s`` on the monotonic clock, ``devices`` = [(energy, low, high) J]."""
    start, end = wall_s
    return WindowRecord.from_dict({
        "schema": 3, "id": i, "label": None, "cell": i, "kind": "cell", "status": "ok",
        "start_utc": (T0 + timedelta(seconds=start)).isoformat(),
        "end_utc": (T0 + timedelta(seconds=end)).isoformat(),
        "start_s": 5000.0 + start, "end_s": 5000.0 + start + duration_s,
        "devices": [
            {"component": "cpu", "device": f"d{k}", "method": "test", "measured": lo == e == hi,
             "energy_j": e, "low_j": lo, "high_j": hi}
            for k, (e, lo, hi) in enumerate(devices)
        ],
        "flags": [], "intensity_g_per_kwh": g_per_kwh, "intensity_source": "test", "pue": pue,
        "scope": "machine",
        "totals": {"cells": i, "energy_j": 0.0, "low_j": 0.0, "high_j": 0.0, "co2e_g": 0.0,
                   "duration_s": 0.0},
    })  # fmt: skip


def scenario():
    nested = record(3, (101, 103), 2.0, [(1000.0, 900.0, 1100.0)])  # inside `whole`: adds nothing
    whole = record(1, (100, 108), 8.0, [(40.0, 40.0, 40.0), (8.0, 4.0, 16.0)])
    # from 106 to 110 on the wall clock: 108–110 is not covered yet, half of it
    overlap = record(2, (106, 110), 4.0, [(20.0, 20.0, 20.0), (12.0, 10.0, 18.0)])
    apart = record(4, (120, 121), 1.0, [(7.0, 6.0, 9.0)], g_per_kwh=720.0, pue=1.0)
    # shorter than the wall clock resolves
    instant = record(5, (130, 130), 0.0004, [(2.0, 2.0, 2.0)])
    return [nested, whole, overlap, apart, instant]


def test_span_sums_the_devices_and_their_band():
    whole = scenario()[1]
    span = span_of(whole)
    assert (span.start, span.end, span.duration_s) == (
        (T0.timestamp() + 100),
        T0.timestamp() + 108,
        8.0,
    )
    assert (whole.energy_j, *whole.energy_band_j) == (48.0, 44.0, 56.0)  # 40 + 8, 40 + 4, 40 + 16
    assert totals_of([whole]).low_j == 44.0 and totals_of([whole]).high_j == 56.0
    assert totals_of([whole]).co2e_low_g == pytest.approx(44 * K, rel=1e-12)
    assert totals_of([whole]).co2e_high_g == pytest.approx(56 * K, rel=1e-12)


def test_fractions_of_nested_partial_disjoint_and_instant_windows():
    assert counted_fractions([span_of(r) for r in scenario()]) == [0.0, 1.0, 0.5, 1.0, 1.0]


def test_totals_scale_every_figure_by_the_counted_fraction():
    t = totals_of(scenario())
    assert (t.windows, t.nested) == (5, 1)
    # whole + half of overlap + apart + instant
    assert t.energy_j == pytest.approx(48 + 32 * 0.5 + 7 + 2, rel=1e-12)
    assert t.low_j == pytest.approx(44 + 30 * 0.5 + 6 + 2, rel=1e-12)
    assert t.high_j == pytest.approx(56 + 38 * 0.5 + 9 + 2, rel=1e-12)
    assert t.duration_s == pytest.approx(8 + 4.0 * 0.5 + 1 + 0.0004, rel=1e-12)
    # `apart` at 720 g/kWh and PUE 1: 7 J / 3.6e6 × 720 = 1.4 mg (band 6 and 9 J in proportion)
    apart_g = 7 / 3.6e6 * 720
    assert t.co2e_g == pytest.approx((48 + 16 + 2) * K + apart_g, rel=1e-12)
    assert t.co2e_low_g == pytest.approx((44 + 15 + 2) * K + apart_g * 6 / 7, rel=1e-12)
    assert t.co2e_high_g == pytest.approx((56 + 19 + 2) * K + apart_g * 9 / 7, rel=1e-12)


def test_given_fractions_are_used_as_given():
    spans = [span_of(r) for r in scenario()]
    t = totals_of_spans(spans, [0.25, 0.0, 0.0, 0.0, 0.0])  # a quarter of the nested window only
    assert (t.windows, t.nested) == (5, 4)
    assert (t.energy_j, t.low_j, t.high_j) == (250.0, 225.0, 275.0)
    assert t.duration_s == 0.5
    assert t.co2e_g == pytest.approx(250 * K, rel=1e-12)


def test_ties_count_the_longer_window_and_instants_count_outside_windows_only():
    def spans(*walls):
        return [
            span_of(record(i, w, w[1] - w[0], [(1.0, 1.0, 1.0)])) for i, w in enumerate(walls, 1)
        ]

    assert counted_fractions(spans((10, 11), (10, 13))) == [0.0, 1.0]
    # an instant inside a window, at its very end, after it
    assert counted_fractions(spans((10, 13), (11, 11), (13, 13), (15, 15))) == [1.0, 0.0, 1.0, 1.0]
    assert counted_fractions(spans((12, 14), (11, 13))) == [0.5, 1.0]  # sorted by start
    assert (
        counted_fractions([]) == [] and totals_of([]).windows == 0 and totals_of([]).energy_j == 0.0
    )
