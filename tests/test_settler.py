"""The settler of Dask shares that follow their cells (``jupyter_carbon.cluster.settler``), on its
own: no cluster, its measure and callbacks are plain functions."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from jupyter_carbon.cluster.settler import Settler


def test_settle_returns_only_once_the_share_is_recorded() -> None:
    # the share is measured at once, but recording it takes a while: settle() called meanwhile
    # must wait for the record, not return when the share left the queue
    recorded: list[str] = []
    measured = threading.Event()

    def measure(batch):
        measured.set()
        return [(None, ())] * len(batch)

    recording = threading.Event()

    def on_settled(window, part, flags):
        recording.set()
        time.sleep(0.3)
        recorded.append(window.window_id)

    settler = Settler(measure, problems=[])
    settler.add(SimpleNamespace(window_id="w1", ended_s=None), (), on_settled)
    assert measured.wait(5) and recording.wait(5)  # the callback is running now
    assert settler.settle(5.0)
    assert recorded == ["w1"] and settler.following == 0
    settler.stop()


def test_a_share_is_handed_on_once_when_settle_abandons_it_during_its_round() -> None:
    started, release = threading.Event(), threading.Event()
    calls: list[tuple] = []

    def measure(batch):
        started.set()
        release.wait(5)  # a round that answers after settle gave up on it
        return [(None, ("measured",))] * len(batch)

    settler = Settler(measure, problems=[])
    settler.add(SimpleNamespace(window_id="w1", ended_s=None), (), lambda w, p, f: calls.append(f))
    assert started.wait(5)  # its round is under way
    assert settler.settle(0.1, abandon="not measured") is False  # it had to give up
    assert settler.following == 0
    release.set()
    settler.stop()
    settler._thread.join(5)  # the round has answered and been dropped
    assert calls == [("cluster: not measured",)]
