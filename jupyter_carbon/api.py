"""The Python API for scripts and notebooks: ``track()`` and ``session()``."""

from __future__ import annotations

from typing import Any

from . import carbon_session
from .carbon_session import CarbonSession, Measurement
from .display import show_summary
from .trackers import attach_trackers

__all__ = ["track", "session", "summary"]


def session() -> CarbonSession:
    """The process-wide session (``jupyter_carbon.session()``), with its records logged to the
    user's MLflow or W&B run when there is one (nothing of either is imported here)."""
    return _shared_session()


def _shared_session() -> CarbonSession:
    shared = carbon_session.session()
    attach_trackers(shared)
    return shared


def track(
    label: str | None = None,
    *,
    items: int | None = None,
    task: str | None = None,
    session: CarbonSession | None = None,
    **meta: Any,
) -> Measurement:
    """Measure a block of code; the record is on ``.record`` after the block::

        with jupyter_carbon.track("training") as m:
            train()
        print(m.record.energy_j, m.record.co2e_g)

    Works outside notebooks. An exception in the block marks the record ``error`` (a
    KeyboardInterrupt ``interrupted``) and still propagates.
    """
    if items is not None and (not isinstance(items, int) or isinstance(items, bool) or items <= 0):
        raise ValueError(f"items={items!r}: expected a positive whole number of work items")
    target = session or _shared_session()
    return Measurement(target, label, kind="script", items=items, task=task, **meta)


def summary() -> None:
    """Show the session summary (HTML with plots in Jupyter, text elsewhere); same as ``%carbon
    summary``."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    show_summary(shell, _shared_session())
