"""Log windows to the active Weights & Biases run (``wandb=auto``, the default; ``wandb=off``)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .metrics import energy_how, metric_label, session_metrics, window_metrics

if TYPE_CHECKING:
    from ..carbon_session import CarbonSession
    from ..record import WindowRecord

__all__ = ["WandbTracker"]


class WandbTracker:
    """An ``on_record`` callback: ``run.log`` of labelled windows' metrics, and the session total
    and each label's measured/estimated in ``run.summary``."""

    def __init__(self, session: CarbonSession) -> None:
        self.session = session

    def __call__(self, record: WindowRecord) -> None:
        wandb = sys.modules.get("wandb")  # never imported here: no wandb, no run
        run = None if wandb is None else getattr(wandb, "run", None)
        if run is None or self.session.config.wandb == "off":
            return
        metrics = window_metrics(record)
        if metrics:
            run.log(metrics)
        summary = session_metrics(record)
        if record.label:
            key = f"carbon/{metric_label(record.label)}/energy_how"
            summary[key] = energy_how(record)  # type: ignore[assignment]
        run.summary.update(summary)
