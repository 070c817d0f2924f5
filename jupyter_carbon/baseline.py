"""Idle baseline: measure the machine's power while the kernel does nothing.

Afterwards every record also shows the energy above that baseline ("marginal"), which is what
the cell's own work added.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .carbon_session import CarbonSession

__all__ = ["measure_baseline"]


def measure_baseline(
    session: CarbonSession,
    seconds: float = 10.0,
    *,
    sleep: Callable[[float], object] | None = None,
    progress: Callable[[float, float], object] | None = None,
    step_s: float = 0.5,
) -> dict[str, float]:
    """Sleep ``seconds`` inside a window and return the mean power per component (W).

    The result is stored on the session (``session.baseline_w``) and used by later records.
    """
    sleep = sleep or time.sleep
    # Ctrl-C: recorded as interrupted, re-raised
    with session.open("idle baseline", kind="baseline") as measurement:
        waited = 0.0
        while waited < seconds:
            chunk = min(step_s, seconds - waited)
            sleep(chunk)
            waited += chunk
            if progress is not None:
                progress(waited, seconds)
    record = measurement.record
    assert record is not None  # the with block closed the window
    if record.duration_s <= 0:
        return {}
    baseline = {name: comp.energy_j / record.duration_s for name, comp in record.components.items()}
    session.baseline_w = baseline
    return baseline
