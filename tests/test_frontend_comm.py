"""The comm to the JupyterLab / Notebook 7 extension, in a real kernel over ZMQ.

This test's client acts as the extension would (or as a frontend without it): it sees the comm
the kernel opens at ``%load_ext``, answers it (or not), and reads what each cell sends. Without an
answer every cell's output stays as it was and nothing is sent per cell; after one, auto mode's
cells send one message each and no output, ``%%carbon`` keeps its report, and a closed comm
brings the outputs back.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")
from storage_helpers import cell_messages, real_kernel  # noqa: E402

from jupyter_carbon.display.frontend import PROTOCOL, TARGET  # noqa: E402

run = cell_messages


def of(messages: list[dict], kind: str) -> list[dict]:
    return [m for m in messages if m["msg_type"] == kind]


def outputs(messages: list[dict]) -> list[dict]:
    return of(messages, "display_data") + of(messages, "update_display_data")


def comm_data(messages: list[dict]) -> list[dict]:
    return [m["content"]["data"] for m in of(messages, "comm_msg")]


def send(kc, kind: str, comm_id: str, data: dict) -> None:
    """A shell message from the 'frontend' (the kernel handles it before the next cell)."""
    kc.shell_channel.send(kc.session.msg(kind, {"comm_id": comm_id, "data": data}))


def answer(kc, comm_id: str, **settings: object) -> dict:
    """Ack the comm as the extension does; the kernel's hello."""
    send(kc, "comm_msg", comm_id, {"type": "ack", "footer": True, "metadata": True, **settings})
    while True:
        msg = kc.get_iopub_msg(timeout=30)
        if msg["msg_type"] == "comm_msg" and msg["content"]["comm_id"] == comm_id:
            return msg["content"]["data"]


def test_the_extension_answers_and_footers_replace_auto_outputs(tmp_path) -> None:
    with real_kernel(tmp_path, tmp_path, load=False) as (_, kc):
        opened = of(run(kc, "%load_ext jupyter_carbon"), "comm_open")
        assert [m["content"]["target_name"] for m in opened] == [TARGET]
        assert opened[0]["content"]["data"]["protocol"] == PROTOCOL
        comm_id = opened[0]["content"]["comm_id"]
        run(kc, "%carbon on")

        # no answer yet (nbclient, papermill, a JupyterLab without the extension): as today
        before = run(kc, "x = 1")
        assert len(outputs(before)) == 1 and "carbon:" in json.dumps(outputs(before)[0]["content"])
        assert comm_data(before) == []

        hello = answer(kc, comm_id)
        assert hello["type"] == "hello"
        assert hello["session"]["cells"] == 1  # the cell above
        assert [r["type"] for r in hello["records"]] == ["record"]

        cell = run(kc, "y = 2")
        assert outputs(cell) == []  # the footer shows it
        (record,) = comm_data(cell)
        assert record["type"] == "record" and record["kind"] == "auto"
        assert record["session"]["cells"] == 2
        assert record["energy_j"] == pytest.approx(sum(c["energy_j"] for c in record["components"]))
        # the message carries the cell's execute request: the extension finds the cell by it
        (msg,) = of(cell, "comm_msg")
        assert msg["parent_header"]["msg_id"] == cell[0]["parent_header"]["msg_id"]

        # %%carbon keeps its report (the user asked for it), and its footer
        full = run(kc, "%%carbon --label asked\nz = 3")
        assert len(outputs(full)) == 1 and "asked" in json.dumps(outputs(full)[0]["content"])
        assert [d["name"] for d in comm_data(full)] == ["asked"]

        # a cell over a second: running figures at most once a second, then the record
        long = comm_data(run(kc, "import time\ntime.sleep(2.6)"))
        progress = [d for d in long if d["type"] == "progress"]
        assert 1 <= len(progress) <= 3, long
        assert [p["elapsed_s"] for p in progress] == sorted(p["elapsed_s"] for p in progress)
        assert long[-1]["type"] == "record"
        assert outputs(run(kc, "%carbon summary")) != []

        # a page reload answers the open comm again: it gets the session so far
        again = answer(kc, comm_id)
        assert again["type"] == "hello" and again["session"]["cells"] == 4
        assert [r["name"] for r in again["records"]][-1] == "cell [6]"

        # the footer turned off in the settings: the output line comes back, the record still
        # goes to the status bar
        send(kc, "comm_msg", comm_id, {"type": "settings", "footer": False, "metadata": True})
        off = run(kc, "w = 4")
        assert len(outputs(off)) == 1 and [d["type"] for d in comm_data(off)] == ["record"]

        # the frontend closes the comm (its page went away for good): outputs, nothing sent
        send(kc, "comm_close", comm_id, {})
        closed = run(kc, "v = 5")
        assert len(outputs(closed)) == 1 and comm_data(closed) == []

        # a reload of the extension opens a new comm
        run(kc, "%unload_ext jupyter_carbon")
        again = of(run(kc, "%load_ext jupyter_carbon"), "comm_open")
        assert len(again) == 1 and again[0]["content"]["comm_id"] != comm_id


def test_the_footers_running_messages_leave_a_quiet_cells_report_in_place(tmp_path) -> None:
    # a long %%carbon cell that prints nothing, with the extension listening: the footer's
    # running messages are the kernel's own, so the report still replaces the running figures
    # where they are (one output), as without the extension
    with real_kernel(tmp_path, tmp_path, load=False) as (_, kc):
        opened = of(run(kc, "%load_ext jupyter_carbon"), "comm_open")
        answer(kc, opened[0]["content"]["comm_id"])
        messages = run(kc, "%%carbon --label quiet\nimport time\ntime.sleep(2.6)")
        assert [d["type"] for d in comm_data(messages)][-1] == "record"
        assert any(d["type"] == "progress" for d in comm_data(messages))
        shown = of(messages, "display_data")
        assert len(shown) == 1, [json.dumps(m["content"])[:80] for m in shown]
        final = of(messages, "update_display_data")[-1]["content"]["data"]["text/html"]
        assert "jc-report" in final and "jc-moved" not in final


def test_a_frontend_that_closes_the_unknown_comm_keeps_todays_outputs(tmp_path) -> None:
    """JupyterLab without the extension closes a comm it has no target for."""
    with real_kernel(tmp_path, tmp_path, load=False) as (km, kc):
        (opened,) = of(run(kc, "%load_ext jupyter_carbon"), "comm_open")
        send(kc, "comm_close", opened["content"]["comm_id"], {})
        run(kc, "%carbon on")
        cell = run(kc, "x = 1")
        assert len(outputs(cell)) == 1 and of(cell, "comm_msg") == []

        # after a restart, %load_ext opens the comm again
        km.restart_kernel(now=True)
        kc.wait_for_ready(timeout=60)
        assert len(of(run(kc, "%load_ext jupyter_carbon"), "comm_open")) == 1


def test_an_answer_on_a_subshell_is_read_while_queued_cells_wait(tmp_path) -> None:
    """JupyterLab ≥ 4.6 sends comm messages on a kernel subshell: the ack must not wait behind
    the cells a "Run All" queued after %load_ext (ipython_compat.answers_where_sent)."""
    with real_kernel(tmp_path, tmp_path, load=False) as (_, kc):
        (opened,) = of(run(kc, "%load_ext jupyter_carbon\n%carbon on"), "comm_open")
        comm_id = opened["content"]["comm_id"]
        kc.control_channel.send(kc.session.msg("create_subshell_request", {}))
        subshell_id = kc.control_channel.get_msg(timeout=30)["content"]["subshell_id"]
        busy = kc.execute("import time\ntime.sleep(2)")  # a queued cell, running
        queued = kc.execute("y = 2")  # and one waiting behind it
        ack = kc.session.msg(
            "comm_msg", {"comm_id": comm_id, "data": {"type": "ack", "footer": True}}
        )
        ack["header"]["subshell_id"] = subshell_id
        kc.shell_channel.send(ack)
        seen = []
        while True:
            msg = kc.get_iopub_msg(timeout=30)
            parent = msg["parent_header"].get("msg_id")
            if msg["msg_type"] == "comm_msg":
                seen.append((msg["content"]["data"]["type"], parent))
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                seen.append(("idle", parent))
                if parent == queued:
                    break
        # the hello comes before the sleeping cell ends; the queued cell then sends its record
        assert seen.index(("hello", ack["header"]["msg_id"])) < seen.index(("idle", busy))
        assert ("record", queued) in seen
