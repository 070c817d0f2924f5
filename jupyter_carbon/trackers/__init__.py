"""Experiment trackers: each closed window with a label, and the session total, logged to the
active MLflow or Weights & Biases run (settings ``mlflow`` and ``wandb``: ``auto`` or ``off``).

Nothing is imported here: a tracker looks for its library in ``sys.modules`` at each record, so a
process that never imported ``mlflow`` or ``wandb`` (and so cannot have a run) pays one dict
lookup. Metric names say what they are, with units: ``carbon/<label>/co2e_g``,
``carbon/<label>/energy_j``, ``carbon/session/co2e_g`` …; a tag (MLflow) or summary key (W&B)
``carbon/<label>/energy_how`` says whether the energy was measured or estimated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .metrics import energy_how, metric_label, session_metrics, window_metrics
from .mlflow import MlflowTracker
from .wandb import WandbTracker

if TYPE_CHECKING:
    from ..carbon_session import CarbonSession

__all__ = [
    "attach_trackers",
    "detach_trackers",
    "window_metrics",
    "session_metrics",
    "energy_how",
    "metric_label",
]


def attach_trackers(session: CarbonSession) -> None:
    """Add the trackers to ``session.on_record`` (once)."""
    for kind in (MlflowTracker, WandbTracker):
        if not any(isinstance(cb, kind) for cb in session.on_record):
            session.on_record.append(kind(session))


def detach_trackers(session: CarbonSession) -> None:
    session.on_record[:] = [
        cb for cb in session.on_record if not isinstance(cb, (MlflowTracker, WandbTracker))
    ]
