"""CO2e arithmetic."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_carbon.intensity import co2e_g


def test_one_kwh_at_intensity_gives_intensity_grams():
    assert co2e_g(3.6e6, 56.0) == pytest.approx(56.0)
    assert co2e_g(1.8e6, 475.0) == pytest.approx(237.5)
    assert co2e_g(0.0, 475.0) == 0.0


def test_pue_scales_linearly():
    assert co2e_g(3.6e6, 100.0, pue=1.5) == pytest.approx(150.0)
    assert co2e_g(7.2e6, 100.0, pue=1.0) == pytest.approx(200.0)


@given(energy_j=st.floats(0, 1e12), g_per_kwh=st.floats(0, 2000), pue=st.floats(1.0, 3.0))
def test_co2e_formula(energy_j, g_per_kwh, pue):
    assert co2e_g(energy_j, g_per_kwh, pue) == pytest.approx(
        energy_j / 3.6e6 * pue * g_per_kwh, rel=1e-12, abs=1e-12
    )


@pytest.mark.parametrize("pue", [0.99, 0.0, -1.0, math.nan, math.inf, True, "1.2x", None])
def test_bad_pue_is_a_clear_value_error(pue):
    with pytest.raises(ValueError, match="pue") as info:
        co2e_g(1.0, 100.0, pue=pue)
    assert "\n" not in str(info.value) and "1.0" in str(info.value)


@pytest.mark.parametrize("g", [-0.1, math.nan, math.inf, "x", None])
def test_bad_intensity_is_a_clear_value_error(g):
    with pytest.raises(ValueError, match="intensity"):
        co2e_g(1.0, g)


@pytest.mark.parametrize("e", [-1.0, math.nan, math.inf])
def test_bad_energy_is_a_value_error(e):
    with pytest.raises(ValueError, match="energy_j"):
        co2e_g(e, 100.0)
