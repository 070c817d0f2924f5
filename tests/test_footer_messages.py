"""What the kernel sends the JupyterLab extension (display/footer.py, display/frontend.py), in
process: the messages are plain JSON built from the record, running figures are throttled, and
nothing is opened or sent where no frontend answered."""

from __future__ import annotations

import json
import math

import pytest
from storage_helpers import make_record

from jupyter_carbon.display.footer import (
    LIVE_AFTER_S,
    LIVE_EVERY_S,
    FooterView,
    progress_message,
    record_message,
)
from jupyter_carbon.display.frontend import Frontend
from jupyter_carbon.extension import get_extension
from jupyter_carbon.sampler import Progress


class RecordingComm:
    """A ``comm`` package comm that keeps what is sent (and the callbacks it was given)."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.on_message = self.on_closed = None
        self.closed = False

    def send(self, data: dict) -> None:
        json.dumps(data, allow_nan=False)  # what ipykernel's session must be able to send
        self.sent.append(data)

    def on_msg(self, callback) -> None:
        self.on_message = callback

    def on_close(self, callback) -> None:
        self.on_closed = callback

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def session(shell):
    """The real session of a shell with one measured cell."""
    shell.run_line_magic("carbon", "on --quiet")
    shell.run_cell("x = 1")
    ext = get_extension(shell)
    assert ext is not None and len(ext.session.records) == 1
    return ext.session


def ack(frontend: Frontend, kind: str = "ack", **settings: object) -> None:
    frontend.comm.on_message({"content": {"data": {"type": kind, **settings}}})


def test_a_record_message_is_plain_json_of_the_record() -> None:
    record = make_record(3)  # CPU and GPU measured, RAM estimated; a flag
    message = record_message(record, ["a budget note"])
    assert json.loads(json.dumps(message, allow_nan=False)) == message
    assert message["energy_j"] == pytest.approx(record.energy_j)
    assert (message["low_j"], message["high_j"]) == pytest.approx(record.energy_band_j)
    assert message["co2e_g"] == pytest.approx(record.co2e_g)
    assert (message["co2e_low_g"], message["co2e_high_g"]) == pytest.approx(record.co2e_band_g)
    assert [(c["component"], c["measured"]) for c in message["components"]] == list(
        record.measured_by_component
    )
    assert math.fsum(c["energy_j"] for c in message["components"]) == pytest.approx(record.energy_j)
    assert message["notes"] == ["a note, with a comma", "a budget note"]
    assert message["session"]["cells"] == record.totals.windows
    assert message["session"]["estimated"] is True  # RAM is a model
    assert message["name"] == "cell 3"


def test_running_figures_say_how_each_component_is_known() -> None:
    status = Progress(2.0, {"cpu": 36.0, "ram": 3.6}, {"cpu": 18.0, "ram": 1.8})
    message = progress_message(status, 500.0, 1.0, {"cpu": True, "ram": False})
    assert message["energy_j"] == pytest.approx(39.6)
    assert message["co2e_g"] == pytest.approx(39.6 / 3.6e6 * 500)
    assert message["power_w"] == pytest.approx(19.8)
    assert [(c["component"], c["measured"]) for c in message["components"]] == [
        ("cpu", True),
        ("ram", False),
    ]


def test_nothing_is_sent_before_the_extension_answers(session) -> None:
    comm = RecordingComm()
    frontend = Frontend(session, comm)
    frontend.record_done(make_record(2))
    assert comm.sent == [] and not frontend.replaces_outputs
    ack(frontend, footer=True)
    assert [m["type"] for m in comm.sent] == ["hello"] and frontend.replaces_outputs
    assert comm.sent[0]["session"]["cells"] == 1 and len(comm.sent[0]["records"]) == 1
    frontend.record_done(make_record(2))
    assert [m["type"] for m in comm.sent] == ["hello", "record"]
    ack(frontend, "settings", footer=False)  # outputs again; records still for the status bar
    assert not frontend.replaces_outputs and frontend.listening
    assert [m["type"] for m in comm.sent] == ["hello", "record"]
    comm.on_closed({})
    frontend.record_done(make_record(3))
    assert len(comm.sent) == 2 and not frontend.listening


def test_running_figures_after_a_second_then_at_most_once_a_second(session) -> None:
    comm = RecordingComm()
    frontend = Frontend(session, comm)
    ack(frontend, footer=True)
    view = FooterView(frontend, None, g_per_kwh=500.0, pue=1.0, measured={"cpu": False})
    for elapsed_s in (0.25, 0.5, LIVE_AFTER_S - 0.01, LIVE_AFTER_S, 1.25, 1.5, 1.75, 2.0, 2.25):
        view.on_progress(Progress(elapsed_s, {"cpu": elapsed_s}, {"cpu": 1.0}))
    sent = [m["elapsed_s"] for m in comm.sent if m["type"] == "progress"]
    assert sent == [LIVE_AFTER_S, LIVE_AFTER_S + LIVE_EVERY_S]
    view.note("over budget", key="budget")
    view.finish(make_record(2))
    view.on_progress(Progress(9.0, {"cpu": 9.0}, {"cpu": 1.0}))  # late tick: nothing
    assert [m["type"] for m in comm.sent][-1] == "record"
    assert comm.sent[-1]["notes"][-1] == "over budget"  # shown in the footer's details


def test_no_comm_in_a_terminal_or_a_plain_shell(shell) -> None:
    ext = get_extension(shell)
    assert ext is not None and ext.frontend is None
    shell.run_line_magic("carbon", "on")
    shell.run_cell("x = 1")  # measured and printed as always
    assert len(ext.session.records) >= 1


def test_a_cell_whose_page_went_away_while_it_ran_shows_its_output(session) -> None:
    comm = RecordingComm()
    frontend = Frontend(session, comm)
    ack(frontend, footer=True)
    shown: list[str] = []

    class Output:  # the notebook view's part that matters here: what it finishes with
        def note(self, text, key=None):
            shown.append(text)

        def finish(self, record):
            shown.append(record.label)

    view = FooterView(frontend, None, g_per_kwh=500.0, pue=1.0, measured={}, fallback=Output)
    view.note("over budget")
    comm.on_closed({})
    view.finish(make_record(1))
    assert shown == ["over budget", "cell 1"]


def test_what_the_kernel_cannot_read_from_the_frontend_is_ignored(session) -> None:
    comm = RecordingComm()
    frontend = Frontend(session, comm)
    for msg in ({}, {"content": None}, {"content": {"data": None}}, {"content": {"data": [1]}}):
        comm.on_message(msg)
    comm.on_message({"content": {"data": {"type": "unknown"}}})
    assert comm.sent == [] and not frontend.listening
