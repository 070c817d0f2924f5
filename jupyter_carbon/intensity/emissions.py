"""Pure CO2e arithmetic and everyday equivalences (no I/O, no state)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "CAR_G_CO2_PER_MILE",
    "CAR_SOURCE",
    "CarDistance",
    "Equivalent",
    "J_PER_KWH",
    "KM_PER_MILE",
    "MAX_G_PER_KWH",
    "MAX_PUE",
    "SMARTPHONE_CHARGE_KWH",
    "SMARTPHONE_SOURCE",
    "car_distance",
    "check_g_per_kwh",
    "check_pue",
    "co2e_g",
    "equivalents_by_label",
    "equivalents",
    "kwh_from_j",
    "smartphone_charges",
]

from ..units import J_PER_KWH, co2e_g_from_j, finite_number  # noqa: E402  (one definition of each)
KM_PER_MILE = 1.609344

SMARTPHONE_CHARGE_KWH = 0.022
SMARTPHONE_SOURCE = (
    "0.022 kWh per full smartphone charge: US EPA Greenhouse Gas Equivalencies Calculator, "
    "https://www.epa.gov/energy/greenhouse-gas-equivalencies-calculator-calculations-and-references "
    "(figure used by Luccioni, Jernite & Strubell, 'Power Hungry Processing', FAccT 2024)"
)
CAR_G_CO2_PER_MILE = 393.0
CAR_SOURCE = (
    "393 g CO2 per mile for an average US passenger vehicle: US EPA, 'Greenhouse Gas Emissions "
    "from a Typical Passenger Vehicle', https://www.epa.gov/greenvehicles/greenhouse-gas-emissions-typical-passenger-vehicle"
)


#: No data centre is worse than this (the industry average is ~1.5).
MAX_PUE = 5.0
#: No grid is dirtier than this (coal plants emit ~1,000 gCO2e/kWh): a larger intensity is an error.
MAX_G_PER_KWH = 5000.0


def check_pue(pue: float) -> float:
    """Return ``pue`` as a float, or raise ValueError unless it is finite and in 1.0–5.0."""
    return finite_number(pue, "pue", 1.0, MAX_PUE, "PUE is facility energy / IT energy: use 1.0 for none, ~1.1-1.6 for a data centre")


def check_g_per_kwh(g_per_kwh: float) -> float:
    """Return the intensity as a float, or raise ValueError unless it is finite and in 0–5000."""
    return finite_number(g_per_kwh, "carbon intensity (gCO2e/kWh)", 0.0, MAX_G_PER_KWH, "e.g. intensity=56 for France")


def kwh_from_j(energy_j: float) -> float:
    """Joules to kilowatt-hours."""
    return finite_number(energy_j, "energy_j", 0.0, hint="pass the measured energy in joules") / J_PER_KWH


def co2e_g(energy_j: float, g_per_kwh: float, pue: float = 1.0) -> float:
    """Grams CO2e for ``energy_j`` joules at ``g_per_kwh``, scaled by the data-centre PUE."""
    return co2e_g_from_j(finite_number(energy_j, "energy_j", 0.0, hint="pass the measured energy in joules"), check_g_per_kwh(g_per_kwh), check_pue(pue))


def smartphone_charges(energy_j: float) -> float:
    """How many full smartphone charges ``energy_j`` joules would provide."""
    return kwh_from_j(energy_j) / SMARTPHONE_CHARGE_KWH


class CarDistance(NamedTuple):
    km: float
    miles: float


def car_distance(co2e_g: float) -> CarDistance:
    """Distance an average US passenger car drives while emitting ``co2e_g`` grams."""
    grams = finite_number(co2e_g, "co2e_g", 0.0, hint="pass grams of CO2e")
    miles = grams / CAR_G_CO2_PER_MILE
    return CarDistance(km=miles * KM_PER_MILE, miles=miles)


@dataclass(frozen=True)
class Equivalent:
    label: str
    value: float
    unit: str
    source: str  # citation with URL, for tooltips and docs


def equivalents_by_label(energy_j: float, co2e_g: float) -> dict[str, list[Equivalent]]:
    """:func:`equivalents` grouped by label (e.g. car distance in km and in miles together)."""
    groups: dict[str, list[Equivalent]] = {}
    for e in equivalents(energy_j, co2e_g):
        groups.setdefault(e.label, []).append(e)
    return groups


def equivalents(energy_j: float, co2e_g: float) -> list[Equivalent]:
    """Everyday equivalents of a measurement: smartphone charges and car distance (km, miles)."""
    distance = car_distance(co2e_g)
    return [
        Equivalent("smartphone charges", smartphone_charges(energy_j), "charges", SMARTPHONE_SOURCE),
        Equivalent("car distance", distance.km, "km", CAR_SOURCE),
        Equivalent("car distance", distance.miles, "miles", CAR_SOURCE),
    ]
