"""Embodied emissions of hardware (the M of SCI): a bundled, sourced table and its matching.

``data/embodied.csv`` holds one row per product: its class (server, workstation, desktop,
laptop), the manufacturer's product carbon footprint without its use phase (``embodied_kg``:
manufacturing, transport, end of life, kg CO2e), the PCF's own inputs, year and address, and the
licence (``data/NOTICE.md``; built by ``tools/build_embodied_table.py``). A machine matches a row
only by its manufacturer and model as the firmware names them (DMI ``sys_vendor`` and
``product_name``); nothing is matched by resemblance, so most machines match nothing and the SCI
then says "M not included". No GPU figure is bundled: none was found with a source to cite.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

__all__ = ["EmbodiedRow", "embodied_rows", "lookup_embodied", "match_machine", "machine_embodied"]

_VENDOR_WORDS = {
    "dell": "dell",
    "hp": "hp",
    "hpe": "hp",
    "hewlett": "hp",
    "lenovo": "lenovo",
    "apple": "apple",
}


@dataclass(frozen=True)
class EmbodiedRow:
    """One product's embodied emissions. Units: kg CO2e."""

    key: str
    hardware_class: str
    manufacturer: str
    model: str
    embodied_kg: float
    year: int | None
    source_url: str
    via: str
    licence: str

    @property
    def label(self) -> str:
        return f"{self.manufacturer} {self.model}"

    @property
    def citation(self) -> str:
        year = self.year if self.year is not None else "year not given"
        return (
            f"{self.manufacturer} product carbon footprint ({year}), "
            f"via {self.via} ({self.licence}): {self.source_url}"
        )


@lru_cache(maxsize=1)
def embodied_rows() -> tuple[EmbodiedRow, ...]:
    text = (
        resources.files("jupyter_carbon").joinpath("data/embodied.csv").read_text(encoding="utf-8")
    )
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        rows.append(
            EmbodiedRow(
                key=row["key"],
                hardware_class=row["hardware_class"],
                manufacturer=row["manufacturer"],
                model=row["model"],
                embodied_kg=float(row["embodied_kg"]),
                year=int(row["year"]) if row["year"] else None,
                source_url=row["source_url"],
                via=row["via"],
                licence=row["licence"],
            )
        )
    return tuple(rows)


def lookup_embodied(key: str) -> EmbodiedRow:
    """The row of ``key`` (e.g. ``dell-poweredge-r740``); ValueError naming close keys if none."""
    norm = key.strip().lower()
    for row in embodied_rows():
        if row.key == norm:
            return row
    close = difflib.get_close_matches(norm, [r.key for r in embodied_rows()], n=3, cutoff=0.6)
    hint = (
        f"; did you mean {', '.join(close)}?"
        if close
        else "; keys are in jupyter_carbon/data/embodied.csv"
    )
    raise ValueError(f"embodied={key!r} is not in the embodied-emissions table{hint}")


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def match_machine(vendor: str, product: str) -> EmbodiedRow | None:
    """The row whose manufacturer is ``vendor`` and whose every model word is in ``product``
    (the longest such model); None when none is."""
    maker = next((_VENDOR_WORDS[w] for w in _tokens(vendor) if w in _VENDOR_WORDS), None)
    if maker is None:
        return None
    words = _tokens(product)
    best: EmbodiedRow | None = None
    for row in embodied_rows():
        if _VENDOR_WORDS.get(row.manufacturer.lower()) != maker:
            continue
        model = _tokens(row.model)
        if model and model <= words and (best is None or len(model) > len(_tokens(best.model))):
            best = row
    return best


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def machine_embodied(dmi_root: str = "/sys/class/dmi/id") -> tuple[EmbodiedRow | None, str]:
    """(this machine's row or None, what the firmware calls the machine)."""
    root = Path(dmi_root)
    vendor, product = _read(root / "sys_vendor"), _read(root / "product_name")
    name = (
        " ".join(part for part in (vendor, product) if part) or "this machine (no DMI product name)"
    )
    return (match_machine(vendor, product) if vendor and product else None), name
