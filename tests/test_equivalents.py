"""Comparisons a person can picture, or none: the ladder of references and its thresholds."""

from __future__ import annotations

import pytest

from jupyter_carbon.display.equivalents import (
    CAR_SOURCE,
    SMARTPHONE_SOURCE,
    compare_co2e,
    compare_energy,
    comparisons,
)

J_PER_WH = 3600.0


@pytest.mark.parametrize(
    "energy_j, text",
    [
        (0.4, None),  # 115 µWh: an LED bulb for 0.04 s says nothing
        (72.0, "a 10 W LED bulb lit for 7.2 s"),
        (0.5 * 22 * J_PER_WH, "50% of a smartphone charge"),
        (3.5 * 22 * J_PER_WH, "3.5 smartphone charges"),
        (300 * 22 * J_PER_WH, "300 smartphone charges"),
        (100e3 * J_PER_WH, "3.4 days of an average US home's electricity"),
        (float("nan"), None),
        (0.0, None),
    ],
)
def test_energy_comparison_picks_a_picturable_number(energy_j, text):
    found = compare_energy(energy_j)
    assert (found.text if found else None) == text


@pytest.mark.parametrize(
    "co2e_g, text",
    [
        (1e-6, None),
        (0.1, None),
        (2.0, "a car driving 8.2 m"),
        (120.0, "a car driving 491 m"),
        (3930.0, "a car driving 16.1 km (10 miles)"),
    ],
)
def test_co2e_comparison_is_a_car_distance_from_one_metre(co2e_g, text):
    found = compare_co2e(co2e_g)
    assert (found.text if found else None) == text


def test_each_comparison_has_its_source():
    found = comparisons(0.5 * 22 * J_PER_WH, 120.0)
    assert [c.source for c in found] == [SMARTPHONE_SOURCE, CAR_SOURCE]
    assert comparisons(0.4, 1e-4) == []  # a trivial cell: nothing rather than 0.000764


def test_references_are_sourced():
    from jupyter_carbon.display import equivalents

    assert "0.022 kWh" in SMARTPHONE_SOURCE and "393 g" in CAR_SOURCE
    for source in (SMARTPHONE_SOURCE, CAR_SOURCE, equivalents.HOME_SOURCE):
        assert "https://" in source
    assert equivalents.SMARTPHONE_CHARGE_KWH == 0.022 and equivalents.CAR_G_CO2_PER_MILE == 393.0
