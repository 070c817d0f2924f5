"""Pure CO2e arithmetic (no I/O, no state); the everyday comparisons are in
:mod:`..display.equivalents`."""

from __future__ import annotations

from ..units import J_PER_KWH, co2e_g_from_j, finite_number  # one definition of each

__all__ = [
    "J_PER_KWH",
    "MAX_G_PER_KWH",
    "MAX_PUE",
    "check_g_per_kwh",
    "check_pue",
    "co2e_g",
]

#: No data centre is worse than this (the industry average is ~1.5).
MAX_PUE = 5.0
#: No grid is dirtier than this (coal plants emit ~1,000 gCO2e/kWh): a larger intensity is an error.
MAX_G_PER_KWH = 5000.0


def check_pue(pue: object) -> float:
    """Return ``pue`` as a float, or raise ValueError unless it is finite and in 1.0–5.0."""
    return finite_number(
        pue,
        "pue",
        1.0,
        MAX_PUE,
        "PUE is facility energy / IT energy: use 1.0 for none, ~1.1-1.6 for a data centre",
    )


def check_g_per_kwh(g_per_kwh: float) -> float:
    """Return the intensity as a float, or raise ValueError unless it is finite and in 0–5000."""
    return finite_number(
        g_per_kwh,
        "carbon intensity (gCO2e/kWh)",
        0.0,
        MAX_G_PER_KWH,
        "e.g. intensity=56 for France",
    )


def co2e_g(energy_j: float, g_per_kwh: float, pue: float = 1.0) -> float:
    """Grams CO2e for ``energy_j`` joules at ``g_per_kwh``, scaled by the data-centre PUE."""
    return co2e_g_from_j(
        finite_number(energy_j, "energy_j", 0.0, hint="pass the measured energy in joules"),
        check_g_per_kwh(g_per_kwh),
        check_pue(pue),
    )
