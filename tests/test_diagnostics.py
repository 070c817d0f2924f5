"""The one diagnostics channel, the window's one owner, and registries that hold no ids."""

from __future__ import annotations

import sys

import pytest
from fakes import constant_session

from jupyter_carbon.diagnostics import Diagnostics, show
from jupyter_carbon.ipython_compat import (
    cell_runner,
    frames_on_stack,
    hooks_will_run,
    queue_display,
)
from jupyter_carbon.storage.log import attach_log, get_log


def test_a_problem_is_kept_once_per_key_and_shown_at_the_flush(capsys):
    channel = Diagnostics()
    assert channel.say("disk full (3 waiting)", key="disk") and not channel.say(
        "disk full (4 waiting)", key="disk"
    )
    assert channel.say("no RAPL") and not channel.say("no RAPL")
    assert capsys.readouterr().err == ""  # waits for the owner's quiet moment
    channel.flush()
    channel.flush()
    assert (
        capsys.readouterr().err
        == "jupyter_carbon: disk full (3 waiting)\njupyter_carbon: no RAPL\n"
    )
    assert channel.lines == ["disk full (3 waiting)", "no RAPL"] and "no RAPL" in channel
    channel.flush(again=True)  # a front end that starts afresh (a reload) shows them again
    assert capsys.readouterr().err.count("jupyter_carbon: ") == 2


def test_a_line_said_now_is_shown_at_once_and_not_again(capsys):
    channel = Diagnostics()
    channel.say("a hook failed", now=True)
    channel.say("a hook failed", now=True)
    assert capsys.readouterr().err == "jupyter_carbon: a hook failed\n"
    channel.flush(again=True)
    assert capsys.readouterr().err == ""


def test_a_channel_with_its_own_show_hands_each_new_line_on_and_never_raises():
    seen: list[str] = []
    Diagnostics(show=seen.append).say("x")

    def broken(text: str) -> None:
        raise RuntimeError(text)

    assert Diagnostics(show=broken).say("y")  # never into the caller
    assert seen == ["x"]
    show("nowhere", stream=None)  # stderr; a stream that fails is ignored
    show("nowhere", stream=sys.stdin)


def test_the_session_keeps_problems_once_and_the_sampler_its_errors(clock):
    session = constant_session(clock, cpu=1.0)
    session.problem("p")
    session.problem("p")
    assert session.problems == ["p"] and session.diagnostics.lines == ["p"]
    session.sampler.diagnostics.say("e")
    assert session.sampler.errors == ["e"]


def test_a_window_holds_its_state_and_the_sampler_and_ledger_ask_it(clock):
    session = constant_session(clock, cpu=10.0)
    m = session.open("w", kind="script", answer=42)
    assert m.start is m.window.start and m.indices == m.window.indices
    assert (
        m.meta["scope"] == session.scope and m.stack is session.stack() and session.current() is m
    )
    clock.advance(1)
    record = session.stop(m)
    assert m.stack is None and session.current() is None
    assert record.label == "w" and record.kind == "script" and record.extra == {"answer": 42}
    assert record.energy_j == pytest.approx(10.0)
    with pytest.raises(ValueError, match="has not started"):
        _ = type(m)(session, "never").start


def test_shutdown_closes_the_samplers_windows_and_reopen_carries_the_ledger_over(clock):
    session = constant_session(clock, cpu=10.0)
    first = session.stop(session.open())
    session.open(current=False)
    clock.advance(1)
    session.sampler.open()  # a window the session does not know: closed too
    session.shutdown()
    assert session.sampler.open_windows == 0
    totals = session.totals()
    session.reopen()
    second = session.stop(session.open())
    assert second.id > first.id + 1  # ids go on (the cut-short window had one)
    assert session.totals().energy_j == pytest.approx(totals.energy_j)


def test_logs_are_found_by_their_session_object(tmp_path):
    class Session:
        def __init__(self) -> None:
            self.config = type("C", (), {"log_dir": str(tmp_path), "as_dict": lambda self: {}})()
            self.on_record: list = []
            self.records: list = []

        def problem(self, text: str) -> None:
            pass

    a, b = Session(), Session()
    assert attach_log(a) is get_log(a) and get_log(b) is None
    assert attach_log(b) is not get_log(a)


def test_the_probes_fall_back_outside_ipython():
    assert hooks_will_run() is False  # not called by a transform_cell
    assert cell_runner() == (None, False)  # no run_cell_async on the stack
    assert id(sys._getframe()) in frames_on_stack()


def test_queue_display_declines_without_an_ipykernel_shell():
    pytest.importorskip("IPython")
    assert queue_display({"text/plain": "x"}, {"display_id": "d"}, False) is False
