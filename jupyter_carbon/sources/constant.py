"""A fixed wattage per component, e.g. a laptop measured on a wall meter.

Energy is power × time, so it is reported as an estimate (``measured = False``) with no band:
the user vouches for the figure.
"""

from __future__ import annotations

from .base import IntegratingSource

__all__ = ["ConstantPowerSource"]


class ConstantPowerSource(IntegratingSource):
    method = "constant"
    measured = False

    def __init__(self, component: str, power_w: float, now_s: float) -> None:
        super().__init__(now_s)
        self.component = component
        self.device = f"{component} (user-set {power_w:g} W)"
        self.power_w = float(power_w)

    def _power_band_w(self, now_s: float) -> tuple[float, float, float]:
        return self.power_w, self.power_w, self.power_w
