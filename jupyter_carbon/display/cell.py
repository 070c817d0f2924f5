"""The notebook view of one measured window: at most one output, and nothing until it is worth it.

Messages are what a cell pays for in a real kernel (each display is serialised, signed and sent
over ZMQ, then rendered), so this view sends as few as possible (and without waiting for the
kernel's IO thread: ``publish.py``):

* at the start: nothing;
* while the cell runs, only once it has run ``LIVE_AFTER_S`` (``COMPACT_LIVE_AFTER_S`` for the
  auto-mode line): one ``display_data`` with the running figures, then ``update_display_data``
  at most every ``MIN_UPDATE_S``;
* at the end: one message, the report as ``text/plain`` and ``text/html``: a new display, or an
  update of the running figures when nothing was sent after them (they are still the cell's last
  output). When the cell printed (or showed) something after them, two: the running output says
  where the report went, and the report is a new display, after everything the cell printed.

There are no widgets, so a saved or exported notebook shows the report whatever widget state was
saved, offline. Threads: ``on_progress`` and ``note`` run on the sampler thread (or any other). They
publish with the parent header of the cell that opened the window (the context captured in the
constructor, on the main thread), so the output lands under that cell; a lock orders them with
``finish``, which runs on the main thread. Nothing here may break the user's cell: a failing
display degrades to the text view.
"""

from __future__ import annotations

import contextvars
import itertools
import os
import sys
import threading
import time
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from ..ipython_compat import messages_made
from ..record import WindowRecord, record_name
from ..sampler import Progress
from . import html as H
from .publish import publish
from .text import TextView, format_record, format_record_line

if TYPE_CHECKING:
    from ..carbon_session import CarbonSession

__all__ = ["NotebookView", "MIN_UPDATE_S", "LIVE_AFTER_S", "COMPACT_LIVE_AFTER_S", "LAST_CELLS"]

#: Live updates are at least this far apart (at most ~4 per second), whatever the interval.
MIN_UPDATE_S = 0.24
#: A ``%%carbon`` cell shows running figures once it has run this long …
LIVE_AFTER_S = 0.2
#: … an auto-mode cell once it has run this long: most cells end before, with one message.
COMPACT_LIVE_AFTER_S = 1.0
#: The full report's bar chart shows this many recent cells.
LAST_CELLS = 30

_ids = itertools.count()
_PREFIX = f"jupyter-carbon-{os.getpid()}-{int(time.time())}"


class NotebookView:
    """Running figures for long cells, then the report (full) or one line (compact), in one
    output."""

    def __init__(
        self,
        session: CarbonSession,
        *,
        compact: bool,
        label: str | None = None,
        cell: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        publish: Callable[[dict[str, str], str, bool], None] = publish,
        **_meta: Any,  # the window's other metadata (kind, items, …): the record carries it
    ) -> None:
        self.session = session
        self.compact = compact
        self.label, self.cell = label, cell
        self.errors: list[str] = []  # display problems, kept for tests and debugging
        self.progress_updates = 0
        self.progress_html = ""  # the last running figures sent
        self._clock = clock
        self._publish = publish
        # the cell's parent header, for the sampler thread
        self._context = contextvars.copy_context()
        self._lock = threading.Lock()
        self._last_update_s = float("-inf")
        self._shown = False  # a running-figures output exists
        # the kernel's message count once the running figures were sent, while no other message
        # has been made since they first appeared (None: one was, or unknown)
        self._made_if_last: int | None = None
        self._done = False
        # key → line; a note with the same key replaces the previous one
        self._notes: dict[Hashable, str] = {}
        self.display_id = f"{_PREFIX}-{next(_ids)}"
        self._after_s = COMPACT_LIVE_AFTER_S if compact else LIVE_AFTER_S
        # read now: on_progress must not touch the session from the thread
        intensity = session.intensity()
        self._g_per_kwh, self._pue = intensity.g_per_kwh, session.config.pue
        self._fallback: TextView | None = None

    def _name(self) -> str:
        return record_name(self.label, self.cell)

    def _send(self, data: dict[str, str], update: bool, *, from_thread: bool) -> None:
        if from_thread:
            self._context.run(self._publish, data, self.display_id, update)
        else:
            self._publish(data, self.display_id, update)

    # --- from any thread -----------------------------------------------------------------------

    def on_progress(self, status: Progress) -> None:
        """Called by the sampler at every tick: publish the running figures once they are due,
        throttled."""
        if self._fallback is not None:
            return
        try:
            if status.elapsed_s < self._after_s:
                return
            with self._lock:
                now = self._clock()
                if self._done or now - self._last_update_s < MIN_UPDATE_S:
                    return
                self._last_update_s = now
                value = H.progress_html(
                    status, self._g_per_kwh, self._pue, name=self._name(), compact=self.compact
                ) + H.notes_html(self._notes.values())
                plain = f"carbon: running {self._name()} {status.elapsed_s:.0f} s"
                made = messages_made()
                self._send({"text/plain": plain, "text/html": value}, self._shown, from_thread=True)
                # this message is the next one made: the count goes on from it while every message
                # since the first running figures is one of ours (a message another thread makes
                # meanwhile counts as another's: the report then goes to the end, the safe side)
                ours = made is not None and (not self._shown or made == self._made_if_last)
                self._made_if_last = made + 1 if ours and made is not None else None
                self._shown = True
                self.progress_html = value
                self.progress_updates += 1
        except Exception as exc:  # the user's cell goes on; the report at the end is unaffected
            if len(self.errors) < 10:
                self.errors.append(f"progress: {type(exc).__name__}: {exc}")

    def sent_alongside(self) -> None:
        """Another view of this cell (the extension's footer) just sent one message: if it is the
        only one since the running figures, they are still the cell's last output."""
        with self._lock:
            made = self._made_if_last
            if made is not None and messages_made() == made + 1:
                self._made_if_last = made + 1

    def note(self, text: str, key: Hashable = None) -> None:
        """A line of extra information (e.g. a loop prediction), shown with the next running figures
        and in the report. A later note with the same ``key`` replaces the earlier one."""
        if self._fallback is not None:
            self._fallback.note(text, key)
            return
        with self._lock:
            self._notes[text if key is None else key] = str(text)

    # --- the end (main thread) -----------------------------------------------------------------

    def finish(self, record: WindowRecord) -> None:
        if self._fallback is not None:
            self._fallback.finish(record)
            return
        with self._lock:
            self._done = True
            notes = list(self._notes.values())
            try:
                in_place = self._shown and self._still_last()
                if self._shown and not in_place:  # the report goes after what the cell printed
                    self._send(self._moved(record), True, from_thread=False)
                    self.display_id = f"{_PREFIX}-{next(_ids)}"
                self._send(self._bundle(record, notes), in_place, from_thread=False)
            except Exception as exc:  # no rich display: the text view still reports the cell
                self.errors.append(f"display: {type(exc).__name__}: {exc}")
                self._fallback = TextView(compact=self.compact)
        if self._fallback is not None:
            for note in notes:
                self._fallback.note(note)
            self._fallback.finish(record)

    def _still_last(self) -> bool:
        """Whether the running figures are still the cell's last output: once what the cell
        printed has been sent (a flush waits for the IO thread: only cells that ran long enough to
        show figures pay it), no message was made after them."""
        if self._made_if_last is None:
            return False
        try:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
        except Exception:  # a stream that cannot flush: the report goes to the end, as it can
            return False
        return messages_made() == self._made_if_last

    def _moved(self, record: WindowRecord) -> dict[str, str]:
        name, compact = self._name(), self.compact
        return {
            "text/plain": H.moved_text(record, name=name, compact=compact),
            "text/html": H.moved_html(record, name=name, compact=compact),
        }

    def _bundle(self, record: WindowRecord, notes: list[str]) -> dict[str, str]:
        if self.compact:
            line = format_record_line(record)
            return {
                "text/plain": line + "".join(f"\n{n}" for n in notes),
                "text/html": H.record_line_html(record, line) + H.notes_html(notes, small=True),
            }
        recent = list(self.session.records[-LAST_CELLS:])  # a slice: constant cost per cell
        if not any(r.id == record.id for r in recent):
            recent = (recent + [record])[-LAST_CELLS:]
        body = H.record_html(record, notes=notes, recent=recent)
        plain = format_record(record) + "".join(f"\n{n}" for n in notes)
        return {
            "text/plain": plain,
            "text/html": (
                f'<div class="jupyter-carbon jc-report jc-{H.esc(record.status)}" '
                f'style="{H.box_style(record.status)}">{body}</div>'
            ),
        }
