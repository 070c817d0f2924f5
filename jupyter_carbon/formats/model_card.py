"""The Hugging Face model card's ``co2_eq_emissions`` block (README front matter).

Fields as the Hub documents them (https://huggingface.co/docs/hub/model-cards-co2):
``emissions`` in grams of CO2e, ``source``, ``training_type``, ``geographical_location``,
``hardware_used``. Written through ``huggingface_hub.ModelCardData`` when it is installed (the
``huggingface`` extra), as plain YAML without it: the same numbers either way.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .._version import __version__
from ..intensity import UnknownRegionError, lookup_region

if TYPE_CHECKING:
    from .figures import Figures

__all__ = ["co2_eq_emissions", "model_card_yaml"]


def _location(figures: Figures) -> str:
    names = []
    for key in figures.regions:
        try:
            region = lookup_region(key)
            names.append(f"{region.name} ({region.key})")
        except UnknownRegionError:
            names.append(key)
    return "; ".join(names) or "not set (world-average carbon intensity used)"


def _source(figures: Figures) -> str:
    parts = [f"{c.component}: {c.how} ({'/'.join(c.methods)})" for c in figures.components]
    return f"jupyter_carbon {__version__}; {figures.how}; " + ", ".join(parts)


def co2_eq_emissions(
    figures: Figures, *, training_type: str | None = None
) -> dict[str, float | str]:
    """The block as a dict: ``emissions`` is the selection's CO2e in grams (6 significant
    digits)."""
    block: dict[str, float | str] = {
        "emissions": float(f"{figures.totals.co2e_g:.6g}"),
        "source": _source(figures),
    }
    if training_type:
        block["training_type"] = training_type
    block["geographical_location"] = _location(figures)
    block["hardware_used"] = figures.hardware
    return block


def _yaml_float(value: float) -> str:
    """``value`` as a YAML 1.1 float (``1e-05`` would be text there: the mantissa needs a dot)."""
    text = repr(value)
    return text.replace("e", ".0e") if "e" in text and "." not in text else text


def _plain_yaml(block: dict[str, float | str]) -> str:
    """``co2_eq_emissions:`` and its fields; text as JSON strings (valid YAML double-quoted
    scalars)."""
    lines = ["co2_eq_emissions:"]
    for key, value in block.items():
        lines.append(
            f"  {key}: {_yaml_float(value) if isinstance(value, float) else json.dumps(value)}"
        )
    return "\n".join(lines) + "\n"


def model_card_yaml(
    figures: Figures, *, training_type: str | None = None, use_hub: bool = True
) -> str:
    """The YAML block for a README's front matter (between its ``---`` lines)."""
    block = co2_eq_emissions(figures, training_type=training_type)
    if use_hub:
        try:
            from huggingface_hub import ModelCardData
        except ImportError:
            pass
        else:
            return str(ModelCardData(co2_eq_emissions=block).to_yaml()).rstrip("\n") + "\n"
    return _plain_yaml(block)
