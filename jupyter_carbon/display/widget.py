"""The Jupyter widget view of one measured window.

Threads: the widget is built and displayed (with a display handle) from the main thread in the
constructor; ``on_live`` and ``note`` may run on any thread and only set traits, batched with
``hold_sync`` and throttled to ``MIN_UPDATE_S``; ``finish`` runs on the main thread and replaces
the output through the handle with a mimebundle holding the widget view *and* static
``text/plain`` and ``text/html`` (plot embedded as a PNG), so saved notebooks and frontends
without widgets still show the result. Nothing here may break the user's cell: on_live swallows
its errors, and a widget that cannot be built degrades to the text view.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Callable

import ipywidgets as w  # here, not in the constructor: a missing ipywidgets makes make_view fall back to text

from ..record import CellRecord
from ..sampler import LiveStatus
from . import html as H
from .plots import LAST_CELLS, cells_bar_png, png_width_px
from .text import TextView, format_record, format_record_line, record_name

__all__ = ["WidgetView", "MIN_UPDATE_S", "COMPACT_LIVE_AFTER_S"]

#: Live updates are at least this far apart (at most ~4 per second), whatever the interval.
MIN_UPDATE_S = 0.24
#: The compact (auto mode) line starts showing live figures once a cell has run this long.
COMPACT_LIVE_AFTER_S = 1.0


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def widget_bundle(widget: Any, plain: str, html: str | None = None) -> dict[str, Any]:
    """``widget``'s view with static fallbacks: what its ``_repr_mimebundle_`` holds, without the
    repr of the whole widget tree that it also builds (and that ``plain`` replaces)."""
    bundle = {WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": widget.model_id}, "text/plain": plain}
    if html is not None:
        bundle["text/html"] = html
    return bundle


def _close(*widgets: Any) -> None:
    """Close widgets and the layout and style models each owns (``close()`` leaves those open)."""
    for widget in widgets:
        for model in (widget, getattr(widget, "layout", None), getattr(widget, "style", None)):
            if model is not None:
                model.close()


def _hold(*widgets: Any) -> contextlib.ExitStack:
    """One batched state message per widget for all trait changes inside the block."""
    stack = contextlib.ExitStack()
    for widget in widgets:
        stack.enter_context(widget.hold_sync())
    return stack


class WidgetView:
    """Live figures while the window is open, then the report (full) or one line (compact)."""

    def __init__(
        self,
        session: Any,
        *,
        compact: bool,
        label: str | None = None,
        cell: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        display: Callable[..., Any] | None = None,
        **_meta: Any,  # the window's other metadata (kind, items, …): the record carries it
    ) -> None:
        self.session = session
        self.compact = compact
        self.label, self.cell = label, cell
        self.errors: list[str] = []  # display problems, kept for tests and debugging
        self.live_updates = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._last_update_s = float("-inf")
        self._done = False
        self._notes: dict[Any, str] = {}  # key → line; a note with the same key replaces the previous one
        self._fallback: TextView | None = None
        try:
            intensity = session.intensity()  # read now: on_live must not touch the session from the thread
            self._g_per_kwh, self._pue = intensity.g_per_kwh, session.config.pue
            self._build()
            self.handle = self._display(display)
        except Exception as exc:  # no widget: the text view still reports the cell
            self.errors.append(f"widget: {type(exc).__name__}: {exc}")
            self._fallback = TextView(session, compact=compact)

    # --- construction (main thread) ------------------------------------------------------------

    def _build(self) -> None:
        # classes given at construction: one comm_open per widget, no extra state messages
        self.live = w.HTML(value="" if self.compact else self._waiting_html(), _dom_classes=("jc-live",))
        self.notes_widget = w.HTML(value="", layout=w.Layout(display="none"), _dom_classes=("jc-notes",))
        self.result = self.plot = None  # the full report's parts; a compact line ends as static HTML
        children = [self.live, self.notes_widget]
        if not self.compact:
            self.result = w.HTML(value="", _dom_classes=("jc-result",))
            self.plot = w.Image(format="png", layout=w.Layout(display="none"), _dom_classes=("jc-plot",))
            children = [self.live, self.result, self.plot, self.notes_widget]
        self.box = w.VBox(children, _dom_classes=("jupyter-carbon", "jc-compact" if self.compact else "jc-full"))

    def _name(self) -> str:
        return record_name(self.label, self.cell)

    def _waiting_html(self) -> str:
        return f'<div class="jc-live-text" style="color: {H.FG2}">carbon · {H.esc(self._name())}: measuring…</div>'

    def _display(self, display: Callable[..., Any] | None) -> Any:
        if display is None:
            from IPython.display import display
        return display(widget_bundle(self.box, f"carbon: measuring {self._name()}…"), raw=True, display_id=True)

    # --- from any thread: traits only ----------------------------------------------------------

    def on_live(self, status: LiveStatus) -> None:
        """Called by the sampler thread at every tick: set the live figures, throttled."""
        if self._fallback is not None:
            return
        try:
            if self.compact and status.elapsed_s < COMPACT_LIVE_AFTER_S:
                return
            with self._lock:
                now = self._clock()
                if self._done or now - self._last_update_s < MIN_UPDATE_S:
                    return
                self._last_update_s = now
                value = H.live_html(status, self._g_per_kwh, self._pue, compact=self.compact)
                with _hold(self.live):
                    self.live.value = value
                self.live_updates += 1
        except Exception as exc:  # the user's cell goes on; the report at the end is unaffected
            if len(self.errors) < 10:
                self.errors.append(f"live: {type(exc).__name__}: {exc}")

    def note(self, text: str, key: Any = None) -> None:
        """A line of extra information (e.g. a loop prediction); callable from any thread.
        A later note with the same ``key`` replaces the earlier one (a prediction being refined)."""
        if self._fallback is not None:
            self._fallback.note(text, key)
            return
        try:
            with self._lock:
                self._notes[text if key is None else key] = str(text)
                value = "".join(f'<div class="jc-note" style="color: {H.FG2}">{H.esc(n)}</div>' for n in self._notes.values())
                with _hold(self.notes_widget):
                    self.notes_widget.value = value
                    self.notes_widget.layout.display = ""
        except Exception as exc:
            self.errors.append(f"note: {type(exc).__name__}: {exc}")

    # --- the end (main thread) -----------------------------------------------------------------

    def finish(self, record: CellRecord) -> None:
        if self._fallback is not None:
            self._fallback.finish(record)
            return
        with self._lock:
            self._done = True
            notes = list(self._notes.values())
        if self.compact:
            # An auto-mode line needs nothing live once the cell is over: show it as static HTML and
            # close the widgets, so that 10,000 measured cells do not keep 10,000 widget models alive.
            line = format_record_line(record)
            static_html = f'<div class="jupyter-carbon jc-compact" style="{H.FONT}; color: {H.FG}">{H.record_line_html(record, line)}</div>'
            self.handle.update({"text/plain": line, "text/html": static_html}, raw=True)
            _close(self.live, self.notes_widget, self.box)
            return
        body = H.record_html(record, notes=notes)
        result_html = f'<div style="{H.box_style(record.status)}">{body}</div>'
        png = self._plot_png(record)
        image = H.img_html(png, f"CO2e per cell, last {LAST_CELLS} cells, this cell outlined") if png else ""
        static_html = f'<div class="jupyter-carbon" style="{H.box_style(record.status)}">{body}{image}</div>'
        plain = format_record(record)
        with _hold(self.live, self.result, self.notes_widget, self.box, self.plot):
            self.live.value = ""
            self.live.layout.display = "none"
            self.notes_widget.layout.display = "none"  # the notes are part of the result now
            self.result.value = result_html
            if png:
                self.plot.value = png
                self.plot.width = str(png_width_px(png))
                self.plot.layout.display = ""
            if record.status != "ok":
                self.box.add_class(f"jc-{record.status}")
        self.handle.update(widget_bundle(self.box, plain, static_html), raw=True)

    def _plot_png(self, record: CellRecord) -> bytes | None:
        try:
            recent = list(self.session.records[-LAST_CELLS:])  # a slice: constant cost per cell
            if not any(r.id == record.id for r in recent):
                recent = (recent + [record])[-LAST_CELLS:]
            return cells_bar_png(recent, highlight_id=record.id)
        except Exception as exc:  # a report without a plot is still a report
            self.errors.append(f"plot: {type(exc).__name__}: {exc}")
            return None
