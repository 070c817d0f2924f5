"""One channel for the problems jupyter_carbon meets: each said once, shown in one way.

A problem is one line of text, said to a :class:`Diagnostics` channel. A channel keeps each
problem once, per key (the line itself unless a key is given: the session log says "cannot write
in X" once, however the count of waiting records in its text changes), in the order said.

Where a line goes is decided by how the channel was made and how the line was said:

* a channel with a ``show`` function hands each new line to it at once (the session log's
  channel, whose ``show`` is the session's ``problem``; the report sender's, on the kernel's IO
  thread, which writes to the process's own stderr);
* a channel without one keeps lines waiting until its owner calls :meth:`Diagnostics.flush` at a
  quiet moment (the session's: the extension flushes at load and after each cell's report);
  ``say(..., now=True)`` shows a line at once instead (a hook that failed inside the user's cell);
* lines nobody flushes are only listed (the sampler's source errors, in ``%carbon status``).

Every line shown is ``jupyter_carbon: <text>`` on stderr (:func:`show`), and showing never raises.
Detection's ``skipped`` backends are data, not problems: they are not said here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Hashable
from typing import TextIO

__all__ = ["Diagnostics", "show", "PREFIX"]

PREFIX = "jupyter_carbon: "


def show(text: str, stream: TextIO | None = None) -> None:
    """``jupyter_carbon: text`` on ``stream`` (default: ``sys.stderr`` now); never raises."""
    try:
        out = sys.stderr if stream is None else stream
        if out is not None:
            print(PREFIX + text, file=out)
    except Exception:
        pass


class Diagnostics:
    """Problems, each kept once per key in the order said; shown by ``show`` or at :meth:`flush`."""

    __slots__ = ("lines", "_keys", "_show", "_deferred", "_shown")

    def __init__(self, show: Callable[[str], object] | None = None) -> None:
        #: every problem said, once each, in order
        self.lines: list[str] = []
        self._keys: set[Hashable] = set()
        self._show = show
        self._deferred: list[str] = []  # the lines that wait for flush(), in order
        self._shown = 0  # how many of them were flushed

    def say(self, text: str, key: Hashable = None, *, now: bool = False) -> bool:
        """Keep ``text`` unless a line with the same ``key`` (default: the text) was said; True
        when it is new. A new line is shown at once when the channel has a ``show`` or ``now``
        is true, else at the next :meth:`flush`."""
        key = text if key is None else key
        if key in self._keys:
            return False
        self._keys.add(key)
        self.lines.append(text)
        if self._show is not None:
            try:
                self._show(text)
            except Exception:
                pass
        elif now:
            show(text)
        else:
            self._deferred.append(text)
        return True

    def flush(self, *, again: bool = False) -> None:
        """Show the lines waiting; ``again``: every line said for flushing, also those shown
        before (a front end that starts afresh: after ``%load_ext`` its warnings come again)."""
        lines = self._deferred if again else self._deferred[self._shown :]
        self._shown = len(self._deferred)
        for text in lines:
            show(text)

    def __contains__(self, text: object) -> bool:
        return text in self.lines
