"""Log windows to the active MLflow run (``mlflow=auto``, the default; ``mlflow=off``)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .metrics import energy_how, metric_label, session_metrics, window_metrics

if TYPE_CHECKING:
    from ..carbon_session import CarbonSession
    from ..record import WindowRecord

__all__ = ["MlflowTracker"]


class MlflowTracker:
    """An ``on_record`` callback: metrics of labelled windows and the session total, at step
    ``record.id``, to ``mlflow.active_run()``; a tag per label says measured or estimated."""

    def __init__(self, session: CarbonSession) -> None:
        self.session = session

    def __call__(self, record: WindowRecord) -> None:
        mlflow = sys.modules.get("mlflow")  # never imported here: no mlflow, no run
        if mlflow is None or self.session.config.mlflow == "off" or mlflow.active_run() is None:
            return
        metrics = {**window_metrics(record), **session_metrics(record)}
        mlflow.log_metrics(metrics, step=record.id)
        if record.label:
            mlflow.set_tag(f"carbon/{metric_label(record.label)}/energy_how", energy_how(record))
