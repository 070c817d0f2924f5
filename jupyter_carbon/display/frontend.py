"""The channel to jupyter_carbon's JupyterLab / Notebook 7 extension: one comm, opened at load.

The extension (``labextension/``) shows each measured cell's figures in a footer under the cell
and the session in the status bar, so auto mode need not add an output to every cell. The kernel
cannot tell which frontend runs it, so it asks:

* at ``%load_ext`` (in a kernel only) it opens one comm, target :data:`TARGET`;
* the extension answers with ``{"type": "ack", "footer": …}`` (its settings; later ones come as
  ``"settings"``). JupyterLab or Notebook 7 without the extension closes an unknown comm;
  nbclient, papermill, VS Code and Colab ignore it or close it. Until an ack, and after a close,
  :attr:`Frontend.listening` is False: views add their outputs as they always did and nothing is
  sent per cell;
* after the ack, each measured cell sends one message when it ends (:func:`.footer.record_message`)
  and, for cells running longer than a second, at most one running update a second.

The ack is a shell message. Sent on the main shell, the kernel reads it only once the cells
queued before it have run: cells already waiting when ``%load_ext`` ran (the rest of a "Run All"
that loads the extension) still add their output line. JupyterLab ≥ 4.6 sends comm messages on a
kernel subshell where the kernel has them (ipykernel ≥ 7), and the kernel reads the ack there at
once (:func:`~jupyter_carbon.ipython_compat.answers_where_sent`): only the cells that start in the
fraction of a second before it arrives keep their output line. A page reload finds the comm again
(the extension asks the kernel for its open comms) and acks it anew.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..ipython_compat import answers_where_sent
from ..record import IDLE, WindowRecord
from .footer import record_message, session_message

if TYPE_CHECKING:
    from ..carbon_session import CarbonSession

__all__ = ["TARGET", "PROTOCOL", "Frontend", "open_frontend"]

#: The comm target the extension registers.
TARGET = "jupyter_carbon"
#: The message format's version, sent with the comm's open (the extension checks it).
PROTOCOL = 1
#: How many recent records the answer to an ack carries (for the session panel after a reload).
RECENT_RECORDS = 30


class Frontend:
    """The kernel's end of the comm: whether the extension listens, and what it wants.

    ``comm``: a ``comm`` package comm (``send``, ``on_msg``, ``on_close``, ``close``), or None.
    Callbacks from the comm run on the kernel's shell thread between cells, or on a subshell's
    thread while a cell runs (the ack: see the module's docstring); :meth:`send` may be called
    from any thread. Nothing here raises into the kernel or the user's cell.
    """

    def __init__(self, session: CarbonSession, comm: Any) -> None:
        self.session = session
        self.comm: Any = comm
        #: the extension answered and the comm is open: per-cell messages are wanted
        self.listening = False
        #: the extension shows a footer: auto mode adds no output to ordinary cells
        self.footer = False
        #: any record sent so far was estimated, in part (the status bar's marker)
        self.estimated = False
        #: per component, whether all its sources measure (what running figures are)
        self.measured: dict[str, bool] = {}
        for source in session.detection.sources:
            self.measured[source.component] = self.measured.get(source.component, True) and bool(
                source.measured
            )
        self._lock = threading.Lock()
        comm.on_msg(self._on_msg)
        comm.on_close(self._on_close)

    @property
    def replaces_outputs(self) -> bool:
        """Whether the extension's footer shows what auto mode's output line would."""
        return self.listening and self.footer

    def _on_msg(self, msg: dict[str, Any]) -> None:
        data = (msg.get("content") or {}).get("data")
        if not isinstance(data, dict) or data.get("type") not in ("ack", "settings"):
            return
        kind = data["type"]
        self.footer = data.get("footer", True) is True
        self.listening = True
        if kind == "ack":  # a page (re)connected: it starts from the session so far
            try:
                hello = self._hello()
            except Exception:  # the status bar waits for the next cell's figures
                return
            self.send(hello)

    def _hello(self) -> dict[str, Any]:
        """The answer to an ack: the session so far, and its recent records."""
        records = [r for r in self.session.records[-RECENT_RECORDS:] if r.kind != IDLE]
        self.estimated = self.estimated or not all(r.measured for r in records)
        return {
            "type": "hello",
            "session": session_message(self.session.totals(), self.estimated),
            "records": [record_message(r) for r in records],
        }

    def _on_close(self, msg: dict[str, Any]) -> None:
        self.listening = False
        self.comm = None

    def send(self, data: dict[str, Any]) -> None:
        """Send ``data`` on the comm (a no-op once it is closed). Never raises: a frontend that
        went away must not break the user's cell."""
        comm = self.comm
        if comm is None:
            return
        try:
            with self._lock:
                comm.send(data)
        except Exception:
            self.listening = False

    def record_done(self, record: WindowRecord, notes: list[str] | None = None) -> None:
        """A measured cell ended: its figures and the session's, in one message."""
        if not self.listening:
            return
        self.estimated = self.estimated or not record.measured
        self.send(record_message(record, notes, session_estimated=self.estimated))

    def close(self) -> None:
        comm, self.comm, self.listening = self.comm, None, False
        if comm is not None:
            try:
                comm.close()
            except Exception:
                pass


def open_frontend(session: CarbonSession) -> Frontend | None:
    """Open the comm (call in a kernel only: ``display.in_kernel``); None where that fails."""
    try:
        from comm import create_comm  # ipykernel's dependency: only inside a kernel

        comm = create_comm(target_name=TARGET, data={"protocol": PROTOCOL, "version": __version__})
    except Exception:
        return None
    answers_where_sent(comm)
    return Frontend(session, comm)
