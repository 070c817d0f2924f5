"""CO2e arithmetic, equivalences, per-item maths and the Power Hungry Processing reference."""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_carbon.intensity import emissions, reference
from jupyter_carbon.intensity import (
    car_distance, co2e_g, compare_to_reference, equivalents, per_item, reference_tasks, smartphone_charges,
)


def test_one_kwh_at_intensity_gives_intensity_grams():
    assert co2e_g(3.6e6, 56.0) == pytest.approx(56.0)
    assert co2e_g(1.8e6, 475.0) == pytest.approx(237.5)
    assert co2e_g(0.0, 475.0) == 0.0


def test_pue_scales_linearly():
    assert co2e_g(3.6e6, 100.0, pue=1.5) == pytest.approx(150.0)
    assert co2e_g(7.2e6, 100.0, pue=1.0) == pytest.approx(200.0)


@given(energy_j=st.floats(0, 1e12), g_per_kwh=st.floats(0, 2000), pue=st.floats(1.0, 3.0))
def test_co2e_formula(energy_j, g_per_kwh, pue):
    assert co2e_g(energy_j, g_per_kwh, pue) == pytest.approx(energy_j / 3.6e6 * pue * g_per_kwh, rel=1e-12, abs=1e-12)


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


def test_smartphone_charges():
    assert smartphone_charges(0.022 * 3.6e6) == pytest.approx(1.0)
    assert smartphone_charges(3.6e6) == pytest.approx(1 / 0.022)


def test_car_distance():
    d = car_distance(393.0)
    assert d.miles == pytest.approx(1.0)
    assert d.km == pytest.approx(1.609344)
    km, miles = car_distance(786.0)
    assert (km, miles) == pytest.approx((2 * 1.609344, 2.0))
    with pytest.raises(ValueError):
        car_distance(-1.0)


def test_equivalents_have_values_units_and_sourced_citations():
    items = equivalents(3.6e6, 393.0)
    by_unit = {e.unit: e for e in items}
    assert set(by_unit) == {"charges", "km", "miles"}
    assert by_unit["charges"].value == pytest.approx(1 / 0.022)
    assert by_unit["miles"].value == pytest.approx(1.0)
    assert by_unit["km"].value == pytest.approx(1.609344)
    for e in items:
        assert "epa.gov" in e.source and "https://" in e.source
    assert "0.022 kWh" in emissions.SMARTPHONE_SOURCE and "393 g" in emissions.CAR_SOURCE


def test_per_item_maths():
    p = per_item(7200.0, 2.0, 4)
    assert p.items == 4
    assert p.energy_j_per_item == pytest.approx(1800.0)
    assert p.co2e_g_per_item == pytest.approx(0.5)
    assert p.kwh_per_1000 == pytest.approx(1800.0 * 1000 / 3.6e6)
    assert p.co2e_g_per_1000 == pytest.approx(500.0)


@pytest.mark.parametrize("items", [0, -3, 1.5, 2.0, True, "10", None])
def test_per_item_needs_positive_int(items):
    with pytest.raises(ValueError, match="positive int"):
        per_item(1.0, 1.0, items)


def test_reference_table_is_the_papers_table_2():
    assert reference.REFERENCE_KWH_PER_1000 == {
        "text-classification": 0.002, "extractive-qa": 0.003, "masked-language-modelling": 0.003,
        "token-classification": 0.004, "image-classification": 0.007, "object-detection": 0.038,
        "text-generation": 0.047, "summarisation": 0.049, "image-captioning": 0.063, "image-generation": 2.907,
    }
    assert "Luccioni" in reference.REFERENCE_SOURCE and "arxiv.org" in reference.REFERENCE_SOURCE


def test_compare_to_reference_sentence_and_ratio():
    c = compare_to_reference(0.0009)
    assert c.task == "text-classification"
    assert c.ratio == pytest.approx(0.45)
    assert c.sentence == ("0.9 Wh per 1,000 items — 0.45× the text-classification mean in Power Hungry "
                          "Processing (0.002 kWh per 1,000 inferences)")
    assert str(c) == c.sentence


def test_compare_large_values():
    c = compare_to_reference(5.814, "image-generation")
    assert c.ratio == pytest.approx(2.0)
    assert c.sentence.startswith("5.8 kWh per 1,000 items — 2× the image-generation mean")


@pytest.mark.parametrize("alias, task", [("summarization", "summarisation"), ("question-answering", "extractive-qa"),
                                         ("fill-mask", "masked-language-modelling"), ("text-to-image", "image-generation"),
                                         ("Text_Classification", "text-classification"), ("image captioning", "image-captioning")])
def test_task_aliases(alias, task):
    c = compare_to_reference(0.001, alias)
    assert c.task == task
    assert c.ratio == pytest.approx(0.001 / reference.REFERENCE_KWH_PER_1000[task])


def test_unknown_task_lists_valid_tasks():
    with pytest.raises(ValueError) as info:
        compare_to_reference(0.001, "translation")
    message = str(info.value)
    assert "'translation'" in message
    for task in reference_tasks():
        assert task in message


def test_per_item_compare_roundtrip():
    p = per_item(0.002 * 3.6e6, 1.0, 1000)  # exactly the text-classification mean
    assert p.compare().ratio == pytest.approx(1.0)
