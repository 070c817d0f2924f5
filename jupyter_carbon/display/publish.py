"""How a report reaches the frontend: one display message, sent without waiting on stdout/stderr.

Inside ipykernel the message is queued on the kernel's IO thread after the text the cell printed
(:func:`jupyter_carbon.ipython_compat.queue_display`, which says how and where it applies); anywhere
else (a terminal, ``%%capture``, another kernel) it is IPython's ``publish_display_data``.
"""

from __future__ import annotations

from ..ipython_compat import queue_display

__all__ = ["publish"]


def publish(data: dict[str, str], display_id: str, update: bool) -> None:
    """Send ``data`` as the display ``display_id`` (``update``: replace what it shows)."""
    transient = {"display_id": display_id}
    if not queue_display(data, transient, update):
        from IPython.display import publish_display_data

        publish_display_data(data, transient=transient, update=update)
