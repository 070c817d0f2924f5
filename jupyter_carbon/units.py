"""Pure unit conversions and human formatting. Units are in the names."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

__all__ = [
    "J_PER_KWH",
    "J_PER_WH",
    "co2e_g_from_j",
    "finite_number",
    "utc_us",
    "from_utc_us",
    "ENERGY_UNITS",
    "CO2E_UNITS",
    "unit_for",
    "format_energy",
    "format_co2e",
    "format_power",
    "format_duration",
    "significant",
    "format_energy_range",
    "format_co2e_range",
    "format_energy_band",
    "ratio_phrase",
]

#: 1 kWh = 1000 W × 3600 s, exactly.
J_PER_KWH = 3_600_000.0
J_PER_WH = 3_600.0


def co2e_g_from_j(energy_j: float, g_per_kwh: float, pue: float = 1.0) -> float:
    """The one CO2e formula: grams = kWh × PUE × gCO2e/kWh (its inputs are checked where they are
    set: ``intensity.emissions.co2e_g`` checks them for callers that take them from users)."""
    return energy_j / J_PER_KWH * pue * g_per_kwh


def finite_number(
    value: object, name: str, low: float = -math.inf, high: float = math.inf, hint: str = ""
) -> float:
    """``value`` as a float, or ValueError naming ``name`` unless it is a finite number in
    [``low``, ``high``] (``True``/``False`` and numeric text such as ``"1.2"`` are not numbers
    here: settings parse their text before calling this). The one check of every such value."""
    if math.isfinite(low) and math.isfinite(high):
        expected = f"expected a finite number from {low:g} to {high:g}"
    elif math.isfinite(low):
        expected = f"expected a finite number >= {low:g}"
    else:
        expected = "expected a finite number" + (f" <= {high:g}" if math.isfinite(high) else "")
    tail = f"; {hint}" if hint else ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}={value!r} is not a number; {expected}{tail}")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError(f"{name}={value!r} is out of range; {expected}{tail}")
    return number


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)


def utc_us(when: datetime) -> int:
    """``when`` as whole microseconds since the Unix epoch (a naive datetime is taken as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (when - _EPOCH) // _US


def from_utc_us(us: int) -> datetime:
    """The UTC datetime of ``us`` microseconds since the Unix epoch."""
    return _EPOCH + _US * us


#: (factor, unit) from the smallest: energies in J, masses of CO2e in g.
ENERGY_UNITS = (
    (J_PER_WH * 1e-6, "µWh"),
    (J_PER_WH * 1e-3, "mWh"),
    (J_PER_WH, "Wh"),
    (J_PER_KWH, "kWh"),
    (J_PER_KWH * 1e3, "MWh"),
)
CO2E_UNITS = ((1e-6, "µg"), (1e-3, "mg"), (1.0, "g"), (1e3, "kg"), (1e6, "t"))


def unit_for(magnitude: float, units: tuple[tuple[float, str], ...]) -> tuple[float, str]:
    """The largest (factor, unit) of ``units`` whose factor is <= ``magnitude`` (else the
    smallest)."""
    factor, unit = units[0]
    for f, u in units:
        if magnitude >= f:
            factor, unit = f, u
    return factor, unit


def _scaled(value: float, steps: tuple[tuple[float, str], ...], digits: int = 3) -> str:
    """``value`` in its unit (:func:`unit_for`) with ``digits`` significant digits
    (:func:`significant`)."""
    if value != value:  # NaN
        return "n/a"
    factor, unit = unit_for(abs(value), steps)
    return f"{significant(value / factor, digits, max_decimals=12)} {unit}"


_POWER_STEPS = ((1e-3, "mW"), (1.0, "W"), (1e3, "kW"))


def format_energy(energy_j: float) -> str:
    """Energy auto-scaled to µWh/mWh/Wh/kWh/MWh, 3 significant digits: ``format_energy(7200) ==
    '2 Wh'``."""
    return _scaled(energy_j, ENERGY_UNITS)


def format_co2e(co2e_g: float) -> str:
    """Mass of CO2e auto-scaled to µg/mg/g/kg/t, e.g. ``'12.3 mg CO2e'``."""
    return _scaled(co2e_g, CO2E_UNITS) + " CO2e"


def significant(value: float, digits: int = 3, *, max_decimals: int = 6) -> str:
    """``value`` with ``digits`` significant digits, in fixed point with thousands separators and
    without trailing zeros (never an exponent): ``0.05921 -> '0.0592'``, ``1234.5 -> '1,230'``,
    ``2.0 -> '2'``. At most ``max_decimals`` decimals: a smaller non-zero value is
    ``'<0.000001'``. The one rule for a number shown in a unit chosen elsewhere (a column's, a
    range's)."""
    if value != value:
        return "n/a"
    if not math.isfinite(value):
        return "overflow"
    if value == 0:
        return "0"
    decimals = min(digits - 1 - math.floor(math.log10(abs(value))), max_decimals)
    if decimals < 0:  # 11,904.8 -> 12,000 with 2 digits
        value, decimals = round(value, decimals), 0
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("0", "-0"):
        return f"{'<' if value > 0 else '>-'}{10.0**-max_decimals:.{max_decimals}f}"
    return text


def _range(low: float, high: float, unit: tuple[float, str]) -> str:
    factor, name = unit
    return f"{significant(low / factor)}–{significant(high / factor)} {name}"


def format_energy_range(low_j: float, high_j: float) -> str:
    """A range in one unit, the larger end's: ``0.603–3.25 mWh`` (not ``603 µWh–3.25 mWh``)."""
    return _range(low_j, high_j, unit_for(max(abs(low_j), abs(high_j)), ENERGY_UNITS))


def format_co2e_range(low_g: float, high_g: float) -> str:
    """``0.196–3.34 mg CO2e``: a range of CO2e in one unit, the larger end's."""
    return _range(low_g, high_g, unit_for(max(abs(low_g), abs(high_g)), CO2E_UNITS)) + " CO2e"


def format_energy_band(energy_j: float, low_j: float, high_j: float) -> str:
    """A figure and its range in the figure's unit: ``1.57 mWh (0.603–3.25 mWh)``."""
    unit = unit_for(abs(energy_j) or max(abs(low_j), abs(high_j)), ENERGY_UNITS)
    return f"{significant(energy_j / unit[0])} {unit[1]} ({_range(low_j, high_j, unit)})"


def ratio_phrase(ratio: float, of: str) -> str | None:
    """How a figure compares with a reference ``of``: ``0.45× the mean``, ``2× the mean``,
    below a tenth ``about 1/12,000 of the mean`` (not ``0.000084×``); None when there is nothing
    to say (no energy, or not a number)."""
    if not math.isfinite(ratio) or ratio <= 0:
        return None
    if ratio >= 0.1:
        return f"{significant(ratio, 2)}× {of}"
    return f"about 1/{significant(1 / ratio, 2)} of {of}"


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
