"""How a report reaches the frontend: one display message, sent without waiting on stdout/stderr.

IPython's ``publish_display_data`` in ipykernel first flushes ``sys.stdout`` and ``sys.stderr`` and
waits, for each, until the kernel's IO thread has sent what it holds: two round trips to that
thread per message, most of what one display adds to a trivial cell (docs/benchmarks.md). The
flushes are there so that text a cell printed comes before the display.

Here the same order is kept without waiting: one function is queued on the kernel's IO thread
(``IOPubThread.schedule``, which runs what it is given in order) that flushes the streams there,
which queues their messages, and then queues the display message after them. The message is
built on the calling thread, so it carries that thread's (that cell's) parent header.

Used only where the pieces are ipykernel's as expected: the shell's display publisher has a
session, a socket on an IO thread, no transform hooks in this thread (e.g. an output capture) and
no display history to store, and every ipykernel stream uses that same IO thread. Anywhere else
(a terminal, ``%%capture``, another kernel) it is IPython's ``publish_display_data``.
"""

from __future__ import annotations

import sys

__all__ = ["publish"]


def publish(data: dict[str, str], display_id: str, update: bool) -> None:
    """Send ``data`` as the display ``display_id`` (``update``: replace what it shows)."""
    transient = {"display_id": display_id}
    if not _queue(data, transient, update):
        from IPython.display import publish_display_data

        publish_display_data(data, transient=transient, update=update)


def _queue(data: dict[str, str], transient: dict[str, str], update: bool) -> bool:
    """Queue the message on ipykernel's IO thread after the streams' pending text; False when this
    is not an ipykernel whose pieces look as expected (then nothing was sent)."""
    from IPython.core.interactiveshell import InteractiveShell

    if not InteractiveShell.initialized():
        return False
    pub = InteractiveShell.instance().display_pub
    session = getattr(pub, "session", None)
    socket = getattr(pub, "pub_socket", None)
    io_thread = getattr(socket, "io_thread", None)
    if session is None or io_thread is None or not hasattr(io_thread, "schedule"):
        return False
    if getattr(pub, "_hooks", None) != [] or getattr(pub, "store_display_history", False):
        return False  # a capture in this thread, or a history to keep: IPython's way does both
    streams = [s for s in (sys.stdout, sys.stderr) if getattr(s, "pub_thread", None) is not None]  # ipykernel's streams
    if any(getattr(s, "pub_thread", None) is not io_thread for s in streams):
        return False
    msg_type = "update_display_data" if update else "display_data"
    msg = session.msg(msg_type, {"data": data, "metadata": {}, "transient": transient}, parent=pub.parent_header)
    topic = pub.topic

    def send_after_the_streams() -> None:  # on the IO thread
        try:
            for stream in streams:
                stream.flush()  # on the IO thread itself: queues the stream's message now …
            session.send(socket, msg, ident=topic)  # … and this one after it
        except Exception as exc:  # never into the IO thread's loop
            _say(f"jupyter_carbon: a report could not be sent ({type(exc).__name__}: {exc})")

    io_thread.schedule(send_after_the_streams)
    return True


def _say(text: str) -> None:
    try:
        print(text, file=sys.__stderr__)
    except Exception:
        pass
