"""What a tracker logs of a record: names with units, and whether the energy was measured."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..record import WindowRecord

__all__ = ["window_metrics", "session_metrics", "energy_how", "metric_label"]


def metric_label(label: str) -> str:
    """``label`` as a metric-name part (letters, digits, ``_-. `` kept; others become ``_``)."""
    return re.sub(r"[^A-Za-z0-9_\-. ]", "_", label)[:200] or "_"


def energy_how(record: WindowRecord) -> str:
    """'measured' or 'estimated (cpu-model, ram-model)': the models among the record's methods."""
    if record.measured:
        return "measured"
    models = ", ".join(dict.fromkeys(d.method for d in record.devices if not d.measured))
    return f"estimated ({models})"


def window_metrics(record: WindowRecord) -> dict[str, float]:
    """The metrics of one labelled window; empty for a window without a label."""
    if not record.label:
        return {}
    low_g, high_g = record.co2e_band_g
    prefix = f"carbon/{metric_label(record.label)}"
    return {
        f"{prefix}/co2e_g": record.co2e_g,
        f"{prefix}/co2e_low_g": low_g,
        f"{prefix}/co2e_high_g": high_g,
        f"{prefix}/energy_j": record.energy_j,
        f"{prefix}/duration_s": record.duration_s,
    }


def session_metrics(record: WindowRecord) -> dict[str, float]:
    """The session's totals when ``record`` closed (the last value logged is the session total)."""
    t = record.totals
    return {
        "carbon/session/co2e_g": t.co2e_g,
        "carbon/session/energy_j": t.energy_j,
        "carbon/session/duration_s": t.duration_s,
    }
