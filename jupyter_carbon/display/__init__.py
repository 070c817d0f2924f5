"""Front ends for records: text (terminal, ``text/plain``) and notebook outputs (Jupyter).

A *view* follows one measured window: ``on_progress`` is called from the sampler thread with
running figures, ``finish`` from the main thread with the closed record. ``make_view`` picks the
notebook view (:mod:`.cell`: one ``text/plain`` + ``text/html`` output, running figures only for
long cells) inside a Jupyter kernel, the text view elsewhere.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Protocol

from ..record import WindowRecord
from ..sampler import Progress
from .cell import NotebookView
from .footer import FooterView
from .text import TextView

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from ..carbon_session import CarbonSession
    from .frontend import Frontend

__all__ = ["CellView", "make_view", "in_kernel", "show_summary"]


class CellView(Protocol):
    def on_progress(self, status: Progress) -> None: ...

    def note(self, text: str, key: Hashable = None) -> None: ...

    def finish(self, record: WindowRecord) -> None: ...


def in_kernel(shell: InteractiveShell | None) -> bool:
    """True inside a Jupyter kernel (ipykernel), where rich outputs render."""
    return "ipykernel" in sys.modules and getattr(shell, "kernel", None) is not None


def make_view(
    shell: InteractiveShell | None,
    session: CarbonSession,
    *,
    compact: bool,
    frontend: Frontend | None = None,
    **meta: Any,
) -> CellView:
    """The best view for ``shell``: the notebook view in a kernel, else text. Where jupyter_carbon's
    JupyterLab extension listens (``frontend``), the cell's footer too, and for auto mode's line
    the footer alone when the extension shows footers."""
    if not in_kernel(shell):
        return TextView(compact=compact)

    def notebook() -> NotebookView:
        return NotebookView(session, compact=compact, **meta)

    if frontend is None or not frontend.listening:
        return notebook()
    return FooterView(
        frontend,
        None if compact and frontend.replaces_outputs else notebook(),
        g_per_kwh=session.intensity().g_per_kwh,
        pue=session.config.pue,
        measured=frontend.measured,
        fallback=notebook,
    )


def show_summary(shell: InteractiveShell | None, session: CarbonSession) -> None:
    """Show the session summary: HTML with plots in a kernel (without matplotlib it says so in
    place of the plots), text elsewhere."""
    # The summary's digest and renderers load with the first summary, not at %load_ext (their
    # dozen modules of dataclasses would double its time).
    from .report_text import summary_text
    from .summary import EXPORT_HINT, session_digest, show_summary_html

    if in_kernel(shell):
        show_summary_html(session)
        return
    print(summary_text(session_digest(session), export_hint=EXPORT_HINT))
