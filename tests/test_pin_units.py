"""Pin units.py exactly: the CO2e formula, the range check's messages, microsecond timestamps and
every unit boundary of the formatters (each expected value derived in the test)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from jupyter_carbon.units import (
    CO2E_UNITS,
    ENERGY_UNITS,
    J_PER_KWH,
    J_PER_WH,
    co2e_g_from_j,
    finite_number,
    format_co2e,
    format_co2e_range,
    format_duration,
    format_energy,
    format_energy_band,
    format_energy_range,
    format_power,
    from_utc_us,
    ratio_phrase,
    significant,
    unit_for,
    utc_us,
)


def test_energy_constants_are_exact():
    assert J_PER_WH == 1 * 3600.0  # 1 W for an hour
    assert J_PER_KWH == 1000 * 3600.0


def test_co2e_is_kwh_times_pue_times_intensity():
    # 7.2 MJ = 2 kWh; × PUE 1.5 = 3 kWh at the plug; × 400 g/kWh = 1200 g
    assert co2e_g_from_j(7.2e6, 400.0, 1.5) == pytest.approx(1200.0)
    assert co2e_g_from_j(7.2e6, 400.0) == pytest.approx(800.0)  # PUE defaults to 1


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.0, 1.0, "expected a finite number from 0 to 1"),
        (0.5, math.inf, "expected a finite number >= 0.5"),
        (-math.inf, 2.5, "expected a finite number <= 2.5"),
        (-math.inf, math.inf, "expected a finite number"),
    ],
)
def test_finite_number_says_the_range_it_expected(low, high, expected):
    with pytest.raises(ValueError) as info:
        finite_number(math.nan, "pue", low, high)
    assert str(info.value) == f"pue=nan is out of range; {expected}"
    with pytest.raises(ValueError) as info:
        finite_number("1.2", "pue", low, high, hint="see the docs")
    assert str(info.value) == f"pue='1.2' is not a number; {expected}; see the docs"


def test_finite_number_bounds_are_inclusive():
    assert finite_number(1, "x", 1.0, 3.0) == 1.0 and type(finite_number(1, "x", 1.0, 3.0)) is float
    assert finite_number(3.0, "x", 1.0, 3.0) == 3.0
    for outside in (0.999, 3.001, math.inf, -math.inf):
        with pytest.raises(ValueError, match="out of range"):
            finite_number(outside, "x", 1.0, 3.0)
    with pytest.raises(ValueError, match="not a number"):
        finite_number(True, "x")  # a bool is an int to Python, not a number here
    assert finite_number(-7, "x") == -7.0  # no bounds: any finite number


def test_utc_microseconds_both_ways():
    # 1 s and 5 µs after the epoch; a naive datetime is UTC
    assert utc_us(datetime(1970, 1, 1, 0, 0, 1, 5)) == 1_000_005
    assert (
        type(utc_us(datetime(2024, 5, 1, 12, 0, 0, 1))) is int
    )  # whole µs, as the log stores them
    assert utc_us(datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=timezone.utc)) == 1_000_005
    # 01:00 at UTC+1 is the epoch itself
    assert utc_us(datetime(1970, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))) == 0
    # one day and 2 µs
    assert utc_us(datetime(1970, 1, 2, 0, 0, 0, 2, tzinfo=timezone.utc)) == 86_400_000_002
    assert from_utc_us(1_000_005) == datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=timezone.utc)
    assert from_utc_us(-1) == datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone.utc)
    assert from_utc_us(1_000_005).tzinfo == timezone.utc


def test_unit_for_picks_the_largest_factor_not_above_the_magnitude():
    assert unit_for(1.0, CO2E_UNITS) == (1.0, "g")  # equal to a factor: that unit
    assert unit_for(0.999, CO2E_UNITS) == (1e-3, "mg")
    assert unit_for(1e-9, CO2E_UNITS) == (1e-6, "µg")  # below the smallest: the smallest
    assert unit_for(1e9, CO2E_UNITS) == (1e6, "t")  # above the largest: the largest
    assert [u for _, u in ENERGY_UNITS] == ["µWh", "mWh", "Wh", "kWh", "MWh"]
    assert [f for f, _ in ENERGY_UNITS] == pytest.approx([3600e-6, 3.6, 3600.0, 3.6e6, 3.6e9])


@pytest.mark.parametrize(
    ("energy_j", "text"),
    [
        (7200.0, "2 Wh"),  # 7200 / 3600
        (12345.0, "3.43 Wh"),  # 3.4292 Wh, 3 significant digits
        (3.6, "1 mWh"),  # exactly one mWh: the mWh unit
        (3.59, "997 µWh"),  # under 3.6 J: 3.59 / 0.0036 = 997.2 µWh
        (1e-3, "0.278 µWh"),  # below the smallest unit: 1e-3 / 0.0036
        (3.6e6, "1 kWh"),
        (3.6e9 * 2.5, "2.5 MWh"),
        (3.6e12, "1,000 MWh"),  # beyond the largest unit it stays in MWh, never an exponent
        (-7200.0, "-2 Wh"),  # the unit is chosen by magnitude
        (0.0, "0 µWh"),
        (math.nan, "n/a"),
    ],
)
def test_format_energy(energy_j, text):
    assert format_energy(energy_j) == text


@pytest.mark.parametrize(
    ("co2e_g", "text"),
    [
        (0.0123, "12.3 mg CO2e"),
        (1.0, "1 g CO2e"),
        (1500.0, "1.5 kg CO2e"),
        (2e6, "2 t CO2e"),
        (5e-7, "0.5 µg CO2e"),
        (-0.25, "-250 mg CO2e"),
        (math.nan, "n/a CO2e"),
    ],
)
def test_format_co2e(co2e_g, text):
    assert format_co2e(co2e_g) == text


@pytest.mark.parametrize(
    ("power_w", "text"),
    [
        (0.5, "500 mW"),
        (1.0, "1 W"),
        (12.34, "12.3 W"),
        (1500.0, "1.5 kW"),
        (1e-4, "0.1 mW"),
        (-2.0, "-2 W"),
    ],
)
def test_format_power(power_w, text):
    assert format_power(power_w) == text


@pytest.mark.parametrize(
    ("duration_s", "text"),
    [
        (0.0001234, "123 µs"),  # 123.4 µs, no decimals
        (0.0005004999, "500 µs"),  # 500.4999 µs: just under half a µs more, rounded down
        (0.0009996, "1000 µs"),  # still under 1 ms: µs, rounded
        (0.001, "1 ms"),  # 1 ms is the first ms value
        (0.0123, "12.3 ms"),
        (0.9994, "999 ms"),
        (1.0, "1 s"),  # 1 s is the first s value
        (2.5, "2.5 s"),
        (59.4, "59.4 s"),
        (60.0, "1 min 0 s"),  # 60 s is the first minutes value
        (75.0, "1 min 15 s"),
        (75.6, "1 min 16 s"),  # rounded to the second: 76 s
        (3599.4, "59 min 59 s"),  # 3599 s
        (3600.0, "1 h 0 min"),  # 60 min is the first hours value
        (3725.0, "1 h 2 min"),  # 62 min 5 s
        (90_061.0, "25 h 1 min"),  # 1501 min 1 s
    ],
)
def test_format_duration(duration_s, text):
    assert format_duration(duration_s) == text


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (0.05921, 3, "0.0592"),  # 3 significant digits, in fixed point
        (12.34, 3, "12.3"),
        (2.0, 3, "2"),  # no trailing zeros, like format_energy's "2 Wh"
        (1234.5, 3, "1,230"),  # never an exponent: rounded, with a thousands separator
        (11_904.76, 2, "12,000"),
        (8.4e-5, 3, "0.000084"),
        (4e-7, 3, "<0.000001"),  # past 6 decimals: not a number to print
        (-0.5, 3, "-0.5"),
        (0.0, 3, "0"),
        (math.nan, 3, "n/a"),
        (math.inf, 3, "overflow"),
    ],
)
def test_significant(value, digits, text):
    assert significant(value, digits) == text


def test_a_range_and_a_band_have_one_unit():
    mwh = J_PER_WH / 1000
    # the loop prediction of the screenshots: 1.57 mWh (603 µWh–3.25 mWh)
    assert format_energy_band(1.57 * mwh, 0.603 * mwh, 3.25 * mwh) == "1.57 mWh (0.603–3.25 mWh)"
    assert format_energy_band(0.0, 0.0, 2 * mwh) == "0 mWh (0–2 mWh)"  # the unit of the range
    # a range takes its larger end's unit
    assert format_energy_range(0.412 * mwh, 7.02 * mwh) == "0.412–7.02 mWh"
    assert format_energy_range(0.5 * J_PER_WH, 2 * J_PER_WH) == "0.5–2 Wh"
    assert format_co2e_range(196e-6, 3.34e-3) == "0.196–3.34 mg CO2e"


@pytest.mark.parametrize(
    ("ratio", "text"),
    [
        (2.0, "2× the mean"),
        (0.45, "0.45× the mean"),
        (0.1, "0.1× the mean"),
        (1 / 11_904.76, "about 1/12,000 of the mean"),  # not 0.000084×
        (4.5e-8, "about 1/22,000,000 of the mean"),  # not 0.000000045×
        (0.0, None),  # nothing to say
        (math.nan, None),
    ],
)
def test_ratio_phrase(ratio, text):
    assert ratio_phrase(ratio, "the mean") == text
