"""Per-item maths and the Power Hungry Processing per-inference reference."""

from __future__ import annotations

import pytest

from jupyter_carbon import reference
from jupyter_carbon.reference import compare_to_reference, per_item, reference_tasks


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
        "text-classification": 0.002,
        "extractive-qa": 0.003,
        "masked-language-modelling": 0.003,
        "token-classification": 0.004,
        "image-classification": 0.007,
        "object-detection": 0.038,
        "text-generation": 0.047,
        "summarisation": 0.049,
        "image-captioning": 0.063,
        "image-generation": 2.907,
    }
    assert "Luccioni" in reference.REFERENCE_SOURCE and "arxiv.org" in reference.REFERENCE_SOURCE


def test_compare_to_reference_sentence_and_ratio():
    c = compare_to_reference(0.0009)
    assert c.task == "text-classification"
    assert c.ratio == pytest.approx(0.45)
    assert c.sentence == (
        "900 mWh per 1,000 items — 0.45× the text-classification mean in Power Hungry "
        "Processing (2 Wh per 1,000 items)"
    )
    assert str(c) == c.sentence


def test_compare_large_values():
    c = compare_to_reference(5.814, "image-generation")
    assert c.ratio == pytest.approx(2.0)
    assert c.sentence.startswith("5.81 kWh per 1,000 items — 2× the image-generation mean")


@pytest.mark.parametrize(
    "alias, task",
    [
        ("summarization", "summarisation"),
        ("question-answering", "extractive-qa"),
        ("fill-mask", "masked-language-modelling"),
        ("text-to-image", "image-generation"),
        ("Text_Classification", "text-classification"),
        ("image captioning", "image-captioning"),
    ],
)
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
