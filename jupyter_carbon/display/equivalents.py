"""Everyday comparisons a person can picture, or none.

A notebook cell usually uses micro- to milliwatt-hours: "0.000764 smartphone charges" says
nothing. For each figure (energy, CO2e) this picks, from a short ladder of references, the one
whose number is easy to picture (seconds of an LED bulb, a share of a phone charge, days of a
home's electricity; metres or kilometres driven by a car), and returns nothing when even the
smallest reference would need a tiny number.
Each comparison carries its source for a tooltip.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..units import J_PER_KWH, format_duration

__all__ = [
    "Equivalent",
    "compare_energy",
    "compare_co2e",
    "comparisons",
    "LED_W",
    "SMARTPHONE_CHARGE_KWH",
    "CAR_G_CO2_PER_MILE",
    "KM_PER_MILE",
]

#: A common LED bulb (the usual replacement for a 60 W incandescent bulb draws 8–10 W).
LED_W = 10.0
LED_SOURCE = (
    "a 10 W LED bulb (the usual replacement for a 60 W incandescent bulb); time = energy ÷ 10 W"
)
#: Average electricity of a US home: 10,791 kWh in 2022 (US EIA), ~29.6 kWh a day.
HOME_KWH_PER_DAY = 10_791 / 365
SMARTPHONE_CHARGE_KWH = 0.022
SMARTPHONE_SOURCE = (
    "0.022 kWh per full smartphone charge: US EPA Greenhouse Gas Equivalencies Calculator, "
    "https://www.epa.gov/energy/"
    "greenhouse-gas-equivalencies-calculator-calculations-and-references "
    "(figure used by Luccioni, Jernite & Strubell, 'Power Hungry Processing', FAccT 2024)"
)
CAR_G_CO2_PER_MILE = 393.0
CAR_SOURCE = (
    "393 g CO2 per mile for an average US passenger vehicle: US EPA, 'Greenhouse Gas Emissions "
    "from a Typical Passenger Vehicle', "
    "https://www.epa.gov/greenvehicles/greenhouse-gas-emissions-typical-passenger-vehicle"
)
KM_PER_MILE = 1.609344
HOME_SOURCE = (
    "10,791 kWh a year (2022) for an average US residential customer: US EIA, "
    "'How much electricity does an American home use?', "
    "https://www.eia.gov/tools/faqs/faq.php?id=97"
)


@dataclass(frozen=True)
class Equivalent:
    """Something a person can picture that uses as much energy or emits as much CO2e (not to be
    confused with ``reference.Comparison``, a measured figure against a published one)."""

    text: str  # "a 10 W LED bulb lit for 7 s"
    source: str  # where the reference figure comes from


def _share(value: float) -> str:
    """0.23 -> '23%', 0.012 -> '1.2%'."""
    percent = value * 100
    return f"{percent:.2g}%" if percent < 10 else f"{percent:.0f}%"


def compare_energy(energy_j: float) -> Equivalent | None:
    """Days of a home's electricity from half a day up; a phone charge (its share, or how many) from
    10% of one; an LED bulb's time from 1 s; else None."""
    if not energy_j == energy_j or energy_j <= 0:  # NaN or nothing
        return None
    home_days = energy_j / J_PER_KWH / HOME_KWH_PER_DAY
    if home_days >= 0.5:
        return Equivalent(
            f"{home_days:,.1f} days of an average US home's electricity"
            if home_days < 100
            else f"{home_days:,.0f} days of an average US home's electricity",
            HOME_SOURCE,
        )
    charges = energy_j / J_PER_KWH / SMARTPHONE_CHARGE_KWH
    if charges >= 1:
        return Equivalent(
            f"{charges:,.0f} smartphone charges"
            if charges >= 10
            else f"{charges:.1f} smartphone charges",
            SMARTPHONE_SOURCE,
        )
    if charges >= 0.1:
        return Equivalent(f"{_share(charges)} of a smartphone charge", SMARTPHONE_SOURCE)
    led_s = energy_j / LED_W
    if led_s >= 1:
        return Equivalent(f"a 10 W LED bulb lit for {format_duration(led_s)}", LED_SOURCE)
    return None


def compare_co2e(co2e_g: float) -> Equivalent | None:
    """Distance an average car drives emitting as much, from 1 m up; else None."""
    if not co2e_g == co2e_g or co2e_g <= 0:
        return None
    metres = co2e_g / CAR_G_CO2_PER_MILE * KM_PER_MILE * 1000
    if metres >= 1000:
        return Equivalent(
            f"a car driving {metres / 1000:.3g} km ({metres / 1000 / KM_PER_MILE:.3g} miles)",
            CAR_SOURCE,
        )
    if metres >= 1:
        return Equivalent(
            f"a car driving {metres:.2g} m" if metres < 10 else f"a car driving {metres:,.0f} m",
            CAR_SOURCE,
        )
    return None


def comparisons(energy_j: float, co2e_g: float) -> list[Equivalent]:
    """The comparisons worth showing for a measurement (possibly none)."""
    return [c for c in (compare_energy(energy_j), compare_co2e(co2e_g)) if c is not None]
