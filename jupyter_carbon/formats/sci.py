"""Software Carbon Intensity per functional unit: SCI = ((E × I) + M) / R (ISO/IEC 21031:2024,
the Green Software Foundation's specification, https://sci.greensoftware.foundation/).

E: the selected windows' energy (measured or estimated, as recorded); I: the carbon intensity the
records used, with their PUE (so E × I is the records' CO2e); M: the embodied emissions of the
machine, from the bundled table (``embodied.py``) or a figure the user gives, amortised by the
windows' share of the hardware's lifetime (``lifetime_years``, 4 by default) with the whole
machine reserved; R: the functional units (``--items``). Without an embodied figure that fits
the hardware, M is left out and the result says "M not included".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..units import J_PER_KWH, format_co2e, significant
from .embodied import lookup_embodied, machine_embodied
from .options import DEFAULT_LIFETIME_YEARS, PublishError

if TYPE_CHECKING:
    from .figures import Figures

__all__ = ["Embodied", "Sci", "sci_of", "resolve_embodied", "DEFAULT_LIFETIME_YEARS", "S_PER_YEAR"]

S_PER_YEAR = 365.25 * 86400


@dataclass(frozen=True)
class Embodied:
    """A machine's embodied emissions and where the figure comes from. Units: kg CO2e."""

    label: str
    total_kg: float
    citation: str


def resolve_embodied(
    setting: str | float | None, *, dmi_root: str = "/sys/class/dmi/id", this_machine: bool = True
) -> tuple[Embodied | None, str]:
    """(the embodied figure to use or None, why none) for the ``embodied`` setting: ``auto``
    (this machine's row, matched by manufacturer and model), ``none``, a table key or kg CO2e.
    ``this_machine``: the records were made here (else ``auto`` matches nothing)."""
    text = "auto" if setting is None else str(setting).strip().lower()
    if text == "none":
        return None, "embodied=none"
    try:
        kg = float(text)
    except ValueError:
        kg = math.nan
    if math.isfinite(kg) and kg > 0:
        return Embodied("the machine (user-set)", kg, "set by the user (embodied=KG)"), ""
    if text != "auto":
        try:
            row = lookup_embodied(text)
        except ValueError as exc:
            raise PublishError(str(exc)) from None
        return Embodied(row.label, row.embodied_kg, row.citation), ""
    if not this_machine:
        return (
            None,
            "the records come from another machine: "
            "give embodied=KEY (data/embodied.csv) or embodied=KG",
        )
    matched, name = machine_embodied(dmi_root)
    if matched is None:
        return (
            None,
            f"no embodied figure fits {name}: give embodied=KEY (data/embodied.csv) or embodied=KG",
        )
    return Embodied(matched.label, matched.embodied_kg, matched.citation), ""


@dataclass(frozen=True)
class Sci:
    """One SCI figure and its terms. Units: kWh, gCO2e/kWh, g CO2e, s, years."""

    energy_kwh: float
    energy_how: str  # measured / estimated
    operational_g: float  # E × I (PUE included)
    intensity_g_per_kwh: float  # the grid's I (with one PUE), else the effective I with PUE
    pue: tuple[float, ...]
    embodied_g: float | None  # M, None when not included
    embodied: Embodied | None
    why_no_embodied: str
    lifetime_years: float
    duration_s: float
    items: int
    sci_g_per_item: float

    def line(self) -> str:
        """``SCI 0.00446 µg CO2e per item = (E … kWh × I … gCO2e/kWh) / R …``: the per-item
        figure by the rule of every figure (``format_co2e``), its terms with 4 significant digits
        in their own units, never in exponent form."""

        def num(value: float) -> str:
            return significant(value, 4, max_decimals=12)

        pue = f" × PUE {self.pue[0]:g}" if len(self.pue) == 1 else " (PUE included)"
        e_i = (
            f"E {num(self.energy_kwh)} kWh {self.energy_how} × "
            f"I {num(self.intensity_g_per_kwh)} gCO2e/kWh{pue}"
        )
        head = f"SCI {format_co2e(self.sci_g_per_item)} per item"
        if self.embodied_g is None or self.embodied is None:
            return (
                f"{head} = ({e_i}) / R {self.items:,} items; "
                f"M not included ({self.why_no_embodied})"
            )
        m = (
            f"M {num(self.embodied_g)} g estimated: {self.embodied.label}, "
            f"{self.embodied.total_kg:,.1f} kg CO2e × "
            f"{num(self.duration_s)} s / {self.lifetime_years:g} years; "
            f"source: {self.embodied.citation}"
        )
        return f"{head} = (({e_i}) + M) / R {self.items:,} items; {m}"


def _intensity(figures: Figures, operational_g: float, energy_kwh: float) -> float:
    if len(figures.intensities) == 1 or energy_kwh <= 0:
        return figures.intensities[0][0]
    pue = figures.pues[0] if len(figures.pues) == 1 else 1.0
    return operational_g / energy_kwh / pue


def sci_of(
    figures: Figures,
    items: int | None,
    embodied: Embodied | None,
    why_no_embodied: str = "",
    lifetime_years: float = DEFAULT_LIFETIME_YEARS,
) -> Sci:
    """SCI of ``figures`` per item; ``items`` default the windows' declared items."""
    units = items if items is not None else figures.items
    if units is None or isinstance(units, bool) or units <= 0:
        raise PublishError(
            "SCI needs the functional units R: give --items N (the items the windows processed)"
        )
    if not (math.isfinite(lifetime_years) and lifetime_years > 0):
        raise PublishError(f"lifetime_years={lifetime_years!r}: give a positive number of years")
    energy_kwh = figures.totals.energy_j / J_PER_KWH
    operational_g = figures.totals.co2e_g
    duration_s = figures.totals.duration_s
    embodied_g = (
        None
        if embodied is None
        else embodied.total_kg * 1000.0 * duration_s / (lifetime_years * S_PER_YEAR)
    )
    return Sci(
        energy_kwh=energy_kwh,
        energy_how=figures.how,
        operational_g=operational_g,
        intensity_g_per_kwh=_intensity(figures, operational_g, energy_kwh),
        pue=figures.pues,
        embodied_g=embodied_g,
        embodied=embodied,
        why_no_embodied=why_no_embodied or "no embodied figure given",
        lifetime_years=lifetime_years,
        duration_s=duration_s,
        items=units,
        sci_g_per_item=(operational_g + (embodied_g or 0.0)) / units,
    )
