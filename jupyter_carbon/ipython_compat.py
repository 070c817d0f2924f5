"""Every probe of IPython's and ipykernel's private workings, in one place.

The extension uses public API wherever IPython offers one: the ``pre_run_cell`` /
``post_run_cell`` events, the ``last_execution_result`` trait, the cleanup input transformers,
``publish_display_data``. Where none says what the extension must know, it asks here. Each probe
says what it reads, and what happens when that is not there: never an error, always the behaviour
of an IPython without the probe.

Checked against IPython 9.19.1 and ipykernel 7.4.0 (the test environment: this package's tests
and IPython's own suite run there with the extension); the IPython probes also against IPython
8.12.3's source (the same frame names, ``silent`` argument and event order). The package asks
for IPython ≥ 8 and ipykernel ≥ 6.25.

* :func:`counts_before_hook` (``IPython.version_info``): IPython 9 counts a cell
  (``execution_count``) before ``pre_run_cell``, IPython 8 after the cell. Unknown version: the
  IPython 8 rule, which only changes the number a running display shows (records take theirs
  from the result).
* :func:`hooks_will_run` (frames): the caller of ``InteractiveShell.transform_cell`` has a local
  ``silent`` — IPython's ``run_cell``/``run_cell_async`` and ipykernel's ``do_execute`` do.
  Fallback: False, so a ``%%carbon`` line is left in and IPython's cell magic measures the cell
  (measured as before, its last value not ``Out[n]``).
* :func:`cell_runner` (frames): IPython's ``run_cell_async`` frame that fired ``pre_run_cell``,
  and whether ``_pseudo_sync_runner`` (``IPython.core.async_helpers``, used by ``run_cell``)
  drives it. Fallback: (None, False): the cell is closed when IPython stores its result
  (``last_execution_result``) instead of at ``post_run_cell``, and is never closed as stale.
* :func:`frames_on_stack`: the ids of the frames of this thread's call stack (``sys._getframe``,
  CPython and PyPy), to see whether a cell's ``run_cell_async`` is still running.
* :func:`last_shown_error` and :func:`display_error`: an error raised while the cell's result
  was displayed (a ``_repr_html_`` that raises, a graphviz ``Source`` without ``dot``): IPython's
  formatters catch it and print its traceback (``showtraceback``, which sets
  ``sys.last_value``), and the cell's ``ExecutionResult`` says success. ipykernel ≥ 7 replies
  "error" for it (``ZMQInteractiveShell._last_traceback_during_displayhook``, reset per
  ``run_cell``): that flag is read where it exists. An older ipykernel replies "ok": so does the
  probe. A plain IPython shell (no kernel): a traceback shown during the cell that its result
  does not carry (``sys.last_value`` changed) — what the user saw.
* :func:`queue_display` (ipykernel's display publisher: ``session``, ``pub_socket.io_thread``,
  ``IOPubThread.schedule``, ``_hooks``, ``store_display_history``, ``parent_header``,
  ``topic``; the streams' ``pub_thread``). Fallback: False, and the caller uses IPython's
  ``publish_display_data`` (two more round trips to the IO thread per message).
* :func:`messages_made` (the display publisher's ``session.message_count``, jupyter_client's
  count of the messages that session has built, streams and displays included): two equal
  readings mean nothing was sent in between. Fallback: None, and the caller assumes something
  was.

* :func:`answers_where_sent` (ipykernel's comm, ``BaseComm._reply_subshell_id``): ipykernel
  7.4 routes a frontend's ``comm_msg`` to the subshell the kernel last sent on that comm from,
  and the comm's open (from the main shell) sets that to the main shell, so an answer the
  frontend sends on a kernel subshell (JupyterLab ≥ 4.6 does, for comms) waits behind every cell
  queued on the main shell. Forgetting the attribute lets the answer go to the subshell it was
  sent to, which reads it at once. Fallback: no such attribute, nothing to forget; the answer
  comes after the queued cells (``display/frontend.py`` says what that means).

Importable without IPython: it imports IPython only when a probe that needs it is called.
"""

from __future__ import annotations

import sys
from functools import cache
from types import FrameType
from typing import Any

from .diagnostics import Diagnostics, show

__all__ = [
    "counts_before_hook",
    "hooks_will_run",
    "cell_runner",
    "frames_on_stack",
    "last_shown_error",
    "display_error",
    "queue_display",
    "messages_made",
    "answers_where_sent",
]


@cache
def counts_before_hook() -> bool:
    """Whether IPython counts a cell before ``pre_run_cell`` (9 and later), not after it (8)."""
    try:
        import IPython

        return int(IPython.version_info[0]) >= 9
    except Exception:
        return False


def hooks_will_run() -> bool:
    """Whether the cell being transformed now will run with ``pre_run_cell``/``post_run_cell``.

    Call it directly from the input transformer. True when ``InteractiveShell.transform_cell``
    was called by a cell runner about to run the cell not silently: IPython's ``run_cell`` (and
    ``run_cell_async``) and ipykernel's ``do_execute`` all have a ``silent`` argument. Any other
    caller (``%%time``, ``%%timeit``, user code) runs no hooks.
    """
    frame: FrameType | None = sys._getframe(2)  # above this function and the transformer
    for _ in range(8):
        if frame is None:
            return False
        if frame.f_code.co_name == "transform_cell":  # TransformerManager's, then the shell's
            caller = frame.f_back
            if caller is not None and caller.f_code.co_name != "transform_cell":
                names = caller.f_locals
                return "silent" in names and not names["silent"]
        frame = frame.f_back
    return False


def cell_runner() -> tuple[FrameType | None, bool]:
    """The frame of IPython's ``run_cell_async`` that fired ``pre_run_cell`` (None if not found),
    and whether ``InteractiveShell.run_cell`` drives it (its ``_pseudo_sync_runner``: then
    ``post_run_cell`` follows). Call it directly from the ``pre_run_cell`` callback. While the
    cell runs that frame is on the thread's call stack, afterwards it is not."""
    frame: FrameType | None = sys._getframe(3)  # above this, the callback and EventManager.trigger
    for _ in range(4):
        if frame is None:
            return None, False
        if frame.f_code.co_name == "run_cell_async":
            caller = frame.f_back
            return frame, caller is not None and caller.f_code.co_name == "_pseudo_sync_runner"
        frame = frame.f_back
    return None, False


def frames_on_stack() -> set[int]:
    """The ids of the frames on this thread's call stack (the caller's and above)."""
    frames = set()
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        frames.add(id(frame))
        frame = frame.f_back
    return frames


def last_shown_error() -> BaseException | None:
    """The exception whose traceback IPython showed last (``sys.last_value``), if any."""
    return vars(sys).get("last_value")  # absent until a traceback is shown


def display_error(shell: Any, shown_before: BaseException | None) -> BaseException | None:
    """The error raised while the cell that began when ``last_shown_error()`` was
    ``shown_before`` displayed its result, if the cell's runner counts it as the cell's error
    (see the module's docstring); None otherwise. Call it when the cell has ended."""
    flag = getattr(shell, "_last_traceback_during_displayhook", None)
    shown = last_shown_error()
    if flag is not None:  # ipykernel: the status of its execute reply
        return (shown or RuntimeError("error while displaying the result")) if flag else None
    if getattr(shell, "kernel", None) is not None:
        return None  # an ipykernel without that flag replies "ok"
    return shown if shown is not None and shown is not shown_before else None


# --- sending a display without waiting on the streams ---------------------------------------------
#
# IPython's ``publish_display_data`` in ipykernel first flushes ``sys.stdout`` and ``sys.stderr``
# and waits, for each, until the kernel's IO thread has sent what it holds: two round trips to
# that thread per message (docs/benchmarks.md). The flushes are there so that text a cell printed
# comes before the display. Here the same order is kept without waiting: one function is queued
# on the IO thread (``IOPubThread.schedule`` runs what it is given in order) that flushes the
# streams there, which queues their messages, and then queues the display message after them.
# The message is built on the calling thread, so it carries that thread's (that cell's) parent
# header.

#: Reports the IO thread could not send: said once each on the process's own stderr (the
#: kernel's log), since the streams of the cell are what that thread serves.
_io_problems = Diagnostics(show=lambda text: show(text, sys.__stderr__))


def queue_display(data: dict[str, str], transient: dict[str, str], update: bool) -> bool:
    """Queue the display message on ipykernel's IO thread after the streams' pending text.

    Only where the pieces are ipykernel's as expected: the shell's display publisher has a
    session, a socket on an IO thread, no transform hooks in this thread (e.g. an output
    capture) and no display history to store, and every ipykernel stream uses that same IO
    thread. Anywhere else (a terminal, ``%%capture``, another kernel) False: nothing was sent.
    """
    from IPython.core.interactiveshell import InteractiveShell

    if not InteractiveShell.initialized():
        return False
    pub: Any = InteractiveShell.instance().display_pub
    session = getattr(pub, "session", None)
    socket = getattr(pub, "pub_socket", None)
    io_thread = getattr(socket, "io_thread", None)
    if session is None or io_thread is None or not hasattr(io_thread, "schedule"):
        return False
    if getattr(pub, "_hooks", None) != [] or getattr(pub, "store_display_history", False):
        return False  # a capture in this thread, or a history to keep: IPython's way does both
    streams = [
        s for s in (sys.stdout, sys.stderr) if getattr(s, "pub_thread", None) is not None
    ]  # ipykernel's streams
    if any(getattr(s, "pub_thread", None) is not io_thread for s in streams):
        return False
    msg_type = "update_display_data" if update else "display_data"
    msg = session.msg(
        msg_type, {"data": data, "metadata": {}, "transient": transient}, parent=pub.parent_header
    )
    topic = pub.topic

    def send_after_the_streams() -> None:  # on the IO thread
        try:
            for stream in streams:
                stream.flush()  # on the IO thread itself: queues the stream's message now …
            session.send(socket, msg, ident=topic)  # … and this one after it
        except Exception as exc:  # never into the IO thread's loop
            _io_problems.say(f"a report could not be sent ({type(exc).__name__}: {exc})")

    io_thread.schedule(send_after_the_streams)
    return True


def messages_made() -> int | None:
    """How many messages the kernel's session has built so far (every channel's: a stream, a
    display, a reply), or None outside ipykernel: equal readings, nothing was sent in between."""
    from IPython.core.interactiveshell import InteractiveShell

    if not InteractiveShell.initialized():
        return None
    session = getattr(InteractiveShell.instance().display_pub, "session", None)
    count = getattr(session, "message_count", None)
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def answers_where_sent(comm: Any) -> None:
    """Let the frontend's next message on ``comm`` (an ipykernel comm the kernel just opened) go
    to the subshell the frontend sends it on, not to the main shell (see the module's
    docstring)."""
    try:
        del comm._reply_subshell_id
    except AttributeError:
        pass
