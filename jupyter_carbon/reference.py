"""Per-item energy and comparison with the per-task means of "Power Hungry Processing".

Luccioni, Jernite & Strubell (2023), "Power Hungry Processing: Watts Driving the Cost of
AI Deployment?", Table 2: mean kWh per 1,000 inferences per task, measured with CodeCarbon
on an 8x A100 node. https://arxiv.org/abs/2311.16863
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from .units import J_PER_KWH, format_energy, ratio_phrase

__all__ = [
    "Comparison",
    "PerItem",
    "REFERENCE_KWH_PER_1000",
    "REFERENCE_SOURCE",
    "compare_to_reference",
    "format_energy_kwh",
    "per_item",
    "reference_tasks",
    "resolve_task",
    "versus",
]

REFERENCE_SOURCE = (
    "Luccioni, Jernite & Strubell, 'Power Hungry Processing: Watts Driving the Cost of AI "
    "Deployment?' (2023), Table 2, mean kWh per 1,000 inferences, 8x A100 node, CodeCarbon; "
    "https://arxiv.org/abs/2311.16863"
)

REFERENCE_KWH_PER_1000: dict[str, float] = {
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

_TASK_ALIASES: dict[str, str] = {
    "summarization": "summarisation",
    "question-answering": "extractive-qa",
    "qa": "extractive-qa",
    "extractive-question-answering": "extractive-qa",
    "fill-mask": "masked-language-modelling",
    "masked-language-modeling": "masked-language-modelling",
    "mlm": "masked-language-modelling",
    "ner": "token-classification",
    "text-to-image": "image-generation",
    "image-to-text": "image-captioning",
    "sentiment-analysis": "text-classification",
}


def reference_tasks() -> tuple[str, ...]:
    """The canonical task names, cheapest first."""
    return tuple(REFERENCE_KWH_PER_1000)


def resolve_task(task: str) -> str:
    """Canonical task name for ``task`` (case, ``_`` and spaces ignored; aliases accepted)."""
    norm = "-".join(str(task).replace("_", " ").split()).casefold() if isinstance(task, str) else ""
    norm = _TASK_ALIASES.get(norm, norm)
    if norm not in REFERENCE_KWH_PER_1000:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(REFERENCE_KWH_PER_1000)}")
    return norm


def format_energy_kwh(kwh: float) -> str:
    """An energy given in kWh, by the one rule of every figure (``units.format_energy``):
    ``900 mWh``, ``2.9 kWh``, ``12 mWh``."""
    return format_energy(kwh * J_PER_KWH)


@dataclass(frozen=True)
class Comparison:
    task: str
    kwh_per_1000: float
    reference_kwh_per_1000: float
    ratio: float  # measured / reference
    sentence: str
    source: str = REFERENCE_SOURCE

    def __str__(self) -> str:
        return self.sentence


@dataclass(frozen=True)
class PerItem:
    items: int
    energy_j_per_item: float
    co2e_g_per_item: float
    kwh_per_1000: float
    co2e_g_per_1000: float

    def compare(self, task: str = "text-classification") -> Comparison:
        return compare_to_reference(self.kwh_per_1000, task)


def _check_amount(value: float, what: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{what} must be a finite number >= 0, got {value!r}")
    return float(value)


def per_item(energy_j: float, co2e_g: float, items: int) -> PerItem:
    """Energy and CO2e per item and per 1,000 items; ``items`` must be a positive int."""
    if isinstance(items, bool) or not isinstance(items, numbers.Integral) or items <= 0:
        raise ValueError(
            "items must be a positive int (the number of inferences or samples processed), "
            f"got {items!r}"
        )
    energy = _check_amount(energy_j, "energy_j")
    co2e = _check_amount(co2e_g, "co2e_g")
    n = int(items)
    return PerItem(
        items=n,
        energy_j_per_item=energy / n,
        co2e_g_per_item=co2e / n,
        kwh_per_1000=energy / n * 1000 / J_PER_KWH,
        co2e_g_per_1000=co2e / n * 1000,
    )


def compare_to_reference(kwh_per_1000: float, task: str = "text-classification") -> Comparison:
    """Compare a measured kWh per 1,000 items with the paper's mean for ``task``."""
    canonical = resolve_task(task)
    measured = _check_amount(kwh_per_1000, "kwh_per_1000")
    reference = REFERENCE_KWH_PER_1000[canonical]
    ratio = measured / reference
    sentence = f"{format_energy_kwh(measured)} per 1,000 items — {versus(ratio, canonical)}"
    return Comparison(canonical, measured, reference, ratio, sentence)


def versus(ratio: float, task: str) -> str:
    """``about 1/12,000 of the text-classification mean in Power Hungry Processing (2 Wh per
    1,000 items)``: the comparison without the measured figure (a report shows that already)."""
    canonical = resolve_task(task)
    mean = f"the {canonical} mean in Power Hungry Processing"
    per_1000 = f"{format_energy_kwh(REFERENCE_KWH_PER_1000[canonical])} per 1,000 items"
    phrase = ratio_phrase(ratio, mean)
    return f"{phrase} ({per_1000})" if phrase else f"{mean}: {per_1000}"
