"""The messages a real kernel sends for measured cells, in their order (jupyter_client over ZMQ).

Reports are queued on ipykernel's IO thread behind the cell's printed text instead of waiting for
the streams to be flushed (ipython_compat.queue_display): a report must still come after
everything the cell printed, to stdout and stderr, and before the kernel says it is idle.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")
from storage_helpers import real_kernel  # noqa: E402


@pytest.fixture(scope="module")
def kc(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("kernel-messages")
    with real_kernel(tmp_path, tmp_path) as (_, client):
        yield client


def run(kc, code: str) -> list[dict]:
    """The cell's iopub messages from execute_input to idle, and its reply's status."""
    msg_id = kc.execute(code, store_history=True)
    messages = []
    while True:
        msg = kc.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    reply = kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    return messages


def kinds(messages: list[dict]) -> list[str]:
    out = []
    for m in messages:
        kind = m["msg_type"]
        if kind == "stream":
            kind = f"stream:{m['content']['name']}"
        if not out or out[-1] != kind:  # a stream may arrive in several messages
            out.append(kind)
    return out


def printed(messages: list[dict], name: str) -> str:
    return "".join(
        m["content"]["text"]
        for m in messages
        if m["msg_type"] == "stream" and m["content"]["name"] == name
    )


PRINTS = (
    "import sys\nprint('out ' * 5000)\nprint('err', file=sys.stderr, end='')\n"
    "print('last', end='')\nx = 1"
)


def test_an_auto_mode_report_comes_after_what_the_cell_printed_and_before_idle(kc) -> None:
    run(kc, "%carbon on")
    try:
        for _ in range(5):
            messages = run(kc, PRINTS)
            order = kinds(messages)
            assert order[-2:] == ["display_data", "status"], order
            assert order.count("display_data") == 1 and set(order[:-2]) >= {
                "stream:stdout",
                "stream:stderr",
            }, order
            assert (
                printed(messages, "stdout") == "out " * 5000 + "\nlast"
                and printed(messages, "stderr") == "err"
            )
            report = next(m for m in messages if m["msg_type"] == "display_data")
            assert (
                "jc-compact" in report["content"]["data"]["text/html"]
                and report["content"]["transient"]["display_id"]
            )
            # a trivial cell: exactly one message besides busy, execute_input and idle
            assert kinds(run(kc, "x = 2")) == ["status", "execute_input", "display_data", "status"]
    finally:
        run(kc, "%carbon off")


def test_a_carbon_cell_with_live_figures_keeps_the_order_of_its_prints(kc) -> None:
    code = (
        "%%carbon --label ordered\nimport time, sys\nfor i in range(6):\n    print('step', i)\n"
        "    time.sleep(0.2)\nprint('done', file=sys.stderr)"
    )
    messages = run(kc, code)
    order = kinds(messages)
    assert order[-2:] == ["update_display_data", "status"], order
    assert (
        printed(messages, "stdout") == "".join(f"step {i}\n" for i in range(6))
        and printed(messages, "stderr") == "done\n"
    )
    last_stream = max(i for i, m in enumerate(messages) if m["msg_type"] == "stream")
    final = messages[-2]
    assert last_stream < len(messages) - 2 and "ordered" in final["content"]["data"]["text/html"]
    shown = {
        m["content"]["transient"]["display_id"]
        for m in messages
        if m["msg_type"] in ("display_data", "update_display_data")
    }
    assert len(shown) == 1  # the running figures and the report are one output


def test_a_capture_still_takes_what_is_published_inside_it(kc) -> None:
    """Under ``capture_output`` (a capturing publisher, streams swapped) it is IPython's publish."""
    code = (
        "from IPython.utils.capture import capture_output\n"
        "from jupyter_carbon.display.publish import publish\n"
        "with capture_output() as c:\n"
        "    print('a')\n"
        "    publish({'text/plain': 'report'}, 'jc-test', False)\n"
        "print(len(c.outputs), c.outputs[0].data, repr(c.stdout))"
    )
    messages = run(kc, code)
    assert kinds(messages) == ["status", "execute_input", "stream:stdout", "status"]
    assert printed(messages, "stdout") == "1 {'text/plain': 'report'} 'a\\n'\n"


def test_capture_over_carbon_captures_the_cell_and_shows_its_report_after_it(kc) -> None:
    messages = run(kc, "%%capture captured\n%%carbon --label inside\nprint('hidden')")
    assert kinds(messages) == ["status", "execute_input", "display_data", "status"]
    assert "inside" in messages[2]["content"]["data"]["text/html"]
    assert printed(run(kc, "print(repr(captured.stdout))"), "stdout") == "'hidden\\n'\n"
