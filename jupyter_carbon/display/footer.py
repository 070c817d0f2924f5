"""What the JupyterLab / Notebook 7 extension is sent, and the view that sends it.

The messages are plain JSON built from the record (:func:`record_message`) or from the running
figures (:func:`progress_message`); the extension formats them with the same rules as
:mod:`jupyter_carbon.units` (``labextension/src/format.ts``, tested against
``tools/format_fixture.py``'s figures). :class:`FooterView` is the view of a measured cell while
the extension listens (:mod:`.frontend`): the final message when the cell ends, running updates
at most every ``LIVE_EVERY_S`` once it has run ``LIVE_AFTER_S``, and, for a ``%%carbon`` cell or
when the extension shows no footer, the notebook view's outputs as well.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from ..record import SessionTotals, WindowRecord, record_name
from ..sampler import Progress
from ..units import co2e_g_from_j
from .cell import NotebookView
from .text import record_notes

if TYPE_CHECKING:
    from .. import display
    from .frontend import Frontend

__all__ = [
    "record_message",
    "session_message",
    "progress_message",
    "FooterView",
    "LIVE_AFTER_S",
    "LIVE_EVERY_S",
]

#: A cell's footer shows running figures once it has run this long …
LIVE_AFTER_S = 1.0
#: … updated at most this often.
LIVE_EVERY_S = 1.0


def session_message(totals: SessionTotals, estimated: bool) -> dict[str, Any]:
    """The session so far (overlapping windows counted once), for the status bar."""
    return {
        "cells": totals.windows,
        "duration_s": totals.duration_s,
        "energy_j": totals.energy_j,
        "low_j": totals.low_j,
        "high_j": totals.high_j,
        "co2e_g": totals.co2e_g,
        "estimated": estimated,
    }


def record_message(
    record: WindowRecord, notes: list[str] | None = None, *, session_estimated: bool = False
) -> dict[str, Any]:
    """A closed window's figures for its footer, and the session's for the status bar; ``notes``:
    lines its view was given (a budget note, a loop's prediction), after the record's own."""
    energy, co2e = record.energy, record.co2e
    return {
        "type": "record",
        "id": record.id,
        "name": record_name(record.label, record.cell, record.id),
        "cell": record.cell,
        "kind": record.kind,
        "status": record.status,
        "end_utc": record.end_utc.isoformat(),
        "duration_s": record.duration_s,
        "energy_j": energy.energy_j,
        "low_j": energy.low_j,
        "high_j": energy.high_j,
        "co2e_g": co2e.co2e_g,
        "co2e_low_g": co2e.low_g,
        "co2e_high_g": co2e.high_g,
        "components": [
            {
                "component": c.component,
                "energy_j": c.energy_j,
                "low_j": c.low_j,
                "high_j": c.high_j,
                "measured": c.measured,
                "methods": list(c.methods),
            }
            for c in record.components.values()
        ],
        "intensity_g_per_kwh": record.intensity_g_per_kwh,
        "intensity_source": record.intensity_source,
        "pue": record.pue,
        "scope": record.scope,
        "notes": list(record_notes(record)) + (notes or []),
        "session": session_message(record.totals, session_estimated or not record.measured),
    }


def progress_message(
    status: Progress, g_per_kwh: float, pue: float, measured: dict[str, bool]
) -> dict[str, Any]:
    """A running cell's figures so far (``measured``: per component, by its sources)."""
    energy_j = sum(status.energy_j.values())
    return {
        "type": "progress",
        "elapsed_s": status.elapsed_s,
        "energy_j": energy_j,
        "co2e_g": co2e_g_from_j(energy_j, g_per_kwh, pue),
        "power_w": sum(status.power_w.values()),
        "components": [
            {"component": c, "energy_j": e, "measured": measured.get(c, False)}
            for c, e in status.energy_j.items()
        ],
    }


class FooterView:
    """A measured cell's footer: messages to the extension, and the outputs of ``inner`` (None:
    no output, the footer shows it all).

    ``on_progress`` runs on the sampler thread and sends with the cell's parent header (the context
    captured here, on the main thread), so the extension finds the cell the message is for.
    """

    def __init__(
        self,
        frontend: Frontend,
        inner: NotebookView | None,
        *,
        g_per_kwh: float,
        pue: float,
        measured: dict[str, bool],
        fallback: Callable[[], display.CellView] | None = None,
    ) -> None:
        self.frontend = frontend
        self.inner = inner
        #: the view that shows the record should the extension stop listening before it ends
        self._fallback = fallback
        self._g_per_kwh, self._pue, self._measured = g_per_kwh, pue, measured
        self._context = contextvars.copy_context()
        self._lock = threading.Lock()
        self._next_s = LIVE_AFTER_S  # the elapsed time of the next running update
        self._done = False
        self._notes: dict[Hashable, str] = {}  # shown in the footer's details
        self.progress_updates = 0

    def on_progress(self, status: Progress) -> None:
        if self.inner is not None:
            self.inner.on_progress(status)
        if status.elapsed_s < self._next_s:
            return
        try:
            with self._lock:
                if self._done or status.elapsed_s < self._next_s:
                    return
                self._next_s = status.elapsed_s + LIVE_EVERY_S
                message = progress_message(status, self._g_per_kwh, self._pue, self._measured)
                self._context.run(self.frontend.send, message)
                self.progress_updates += 1
            if self.inner is not None:  # our message: its report stays in place
                self.inner.sent_alongside()
        except Exception:  # the footer misses one update; the cell and its record go on
            pass

    def note(self, text: str, key: Hashable = None) -> None:
        if self.inner is not None:
            self.inner.note(text, key)
        else:
            with self._lock:
                self._notes[text if key is None else key] = str(text)

    def finish(self, record: WindowRecord) -> None:
        with self._lock:
            self._done = True
        notes = list(self._notes.values())
        inner: display.CellView | None = self.inner
        if inner is None and not self.frontend.listening and self._fallback is not None:
            inner = self._fallback()  # the page went away while the cell ran: its output
            for note in notes:
                inner.note(note)
        if inner is not None:
            inner.finish(record)
        self.frontend.record_done(record, notes)
