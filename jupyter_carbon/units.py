"""Pure unit conversions and human formatting. Units are in the names."""

from __future__ import annotations

__all__ = [
    "J_PER_KWH",
    "J_PER_WH",
    "format_energy",
    "format_co2e",
    "format_power",
    "format_duration",
]

#: 1 kWh = 1000 W × 3600 s, exactly.
J_PER_KWH = 3_600_000.0
J_PER_WH = 3_600.0


def _scaled(value: float, steps: tuple[tuple[float, str], ...], digits: int = 3) -> str:
    """Pick the largest unit whose factor is <= |value| and format with `digits` significant digits."""
    if value != value:  # NaN
        return "n/a"
    magnitude = abs(value)
    factor, unit = steps[0]
    for f, u in steps:
        if magnitude >= f:
            factor, unit = f, u
    return f"{value / factor:.{digits}g} {unit}"


_ENERGY_STEPS = ((J_PER_WH * 1e-6, "µWh"), (J_PER_WH * 1e-3, "mWh"), (J_PER_WH, "Wh"), (J_PER_KWH, "kWh"), (J_PER_KWH * 1e3, "MWh"))
_CO2E_STEPS = ((1e-6, "µg"), (1e-3, "mg"), (1.0, "g"), (1e3, "kg"), (1e6, "t"))
_POWER_STEPS = ((1e-3, "mW"), (1.0, "W"), (1e3, "kW"))


def format_energy(energy_j: float) -> str:
    """Energy auto-scaled to µWh/mWh/Wh/kWh/MWh, 3 significant digits: ``format_energy(7200) == '2 Wh'``."""
    return _scaled(energy_j, _ENERGY_STEPS)


def format_co2e(co2e_g: float) -> str:
    """Mass of CO2e auto-scaled to µg/mg/g/kg/t, e.g. ``'12.3 mg CO2e'``."""
    return _scaled(co2e_g, _CO2E_STEPS) + " CO2e"


def format_power(power_w: float) -> str:
    return _scaled(power_w, _POWER_STEPS)


def format_duration(duration_s: float) -> str:
    """``0.0123 -> '12.3 ms'``, ``75 -> '1 min 15 s'``, ``3725 -> '1 h 2 min'``."""
    if duration_s < 1e-3:
        return f"{duration_s * 1e6:.0f} µs"
    if duration_s < 1:
        return f"{duration_s * 1e3:.3g} ms"
    if duration_s < 60:
        return f"{duration_s:.3g} s"
    minutes, seconds = divmod(int(round(duration_s)), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
