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
from storage_helpers import cell_messages, real_kernel  # noqa: E402


@pytest.fixture(scope="module")
def kc(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("kernel-messages")
    with real_kernel(tmp_path, tmp_path) as (_, client):
        yield client


run = cell_messages


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


def outputs(messages: list[dict]) -> list[tuple[str, str]]:
    """The cell's outputs as a frontend builds them from its messages (nbclient and JupyterLab
    alike): a display is appended, an update replaces every output of its display id where it
    is, a stream extends the stream output before it or starts one. (kind, text or HTML) each."""
    shown: list[tuple[str, str, str | None]] = []
    for m in messages:
        kind, content = m["msg_type"], m["content"]
        if kind == "stream":
            if shown and shown[-1][0] == f"stream:{content['name']}":
                shown[-1] = (shown[-1][0], shown[-1][1] + content["text"], None)
            else:
                shown.append((f"stream:{content['name']}", content["text"], None))
        elif kind in ("display_data", "update_display_data"):
            html = content["data"].get("text/html", content["data"].get("text/plain", ""))
            display_id = content.get("transient", {}).get("display_id")
            if kind == "display_data":
                shown.append(("display", html, display_id))
            else:
                shown = [
                    ("display", html, d) if d == display_id else (k, t, d) for k, t, d in shown
                ]
    return [(k, t) for k, t, _ in shown]


LOG = (
    "import time, sys\nfor i in range(8):\n    print('step', i, flush=True)\n"
    "    time.sleep(0.2)\nprint('done', file=sys.stderr)"
)


def test_a_long_carbon_cells_report_comes_after_everything_it_printed(kc) -> None:
    """A cell that prints a log for longer than the running figures' delay: the figures appear
    above the log while it runs; the report is the cell's last output, under the whole log."""
    messages = run(kc, "%%carbon --label ordered\n" + LOG)
    assert (
        printed(messages, "stdout") == "".join(f"step {i}\n" for i in range(8))
        and printed(messages, "stderr") == "done\n"
    )
    shown = outputs(messages)
    kinds_shown = [k for k, _ in shown]
    assert kinds_shown[-1] == "display" and "jc-report" in shown[-1][1], kinds_shown
    assert "ordered" in shown[-1][1] and "running" not in shown[-1][1]
    # the running figures stay where they appeared, in the log, and say where the report went
    (moved,) = [i for i, (_, text) in enumerate(shown) if "jc-moved" in text]
    assert "report at the end of the cell&#x27;s output" in shown[moved][1]
    assert kinds_shown[moved + 1 : -1] and set(kinds_shown[moved + 1 : -1]) <= {
        "stream:stdout",
        "stream:stderr",
    }, kinds_shown  # the log went on under them, then the report
    assert kinds(messages)[-3:] == ["update_display_data", "display_data", "status"]


def test_a_long_auto_mode_cells_line_comes_after_everything_it_printed(kc) -> None:
    run(kc, "%carbon on")
    try:
        shown = outputs(run(kc, LOG.replace("0.2", "0.25")))  # 2 s: past the line's 1 s delay
    finally:
        run(kc, "%carbon off")
    kinds_shown = [k for k, _ in shown]
    assert kinds_shown[-1] == "display" and "jc-compact" in shown[-1][1], kinds_shown
    (moved,) = [i for i, (_, text) in enumerate(shown) if "jc-moved" in text]
    assert "figures at the end of the cell&#x27;s output" in shown[moved][1]
    assert kinds_shown[moved + 1 : -1] and set(kinds_shown[moved + 1 : -1]) <= {
        "stream:stdout",
        "stream:stderr",
    }, kinds_shown


@pytest.mark.parametrize("printed_first", [False, True])
def test_a_long_cell_that_prints_nothing_after_its_figures_keeps_one_output(kc, printed_first):
    """Nothing came after the running figures (text printed before them stays above them): the
    report replaces them where they are, still the cell's last output."""
    code = ("print('before')\n" if printed_first else "") + "import time\ntime.sleep(1.5)"
    messages = run(kc, "%%carbon --label quiet\n" + code)
    shown = outputs(messages)
    assert [k for k, _ in shown] == ["stream:stdout"] * printed_first + ["display"], shown
    assert "jc-report" in shown[-1][1] and "jc-moved" not in shown[-1][1]
    assert kinds(messages)[-2:] == ["update_display_data", "status"]
    run(kc, "%carbon on")
    try:
        shown = outputs(run(kc, code))
    finally:
        run(kc, "%carbon off")
    assert [k for k, _ in shown] == ["stream:stdout"] * printed_first + ["display"], shown
    assert "jc-compact" in shown[-1][1]


def test_text_printed_between_running_updates_still_puts_the_report_at_the_end(kc) -> None:
    """The running figures appear, the cell prints, then more running updates follow: the text
    sits under the figures' output, so the report goes after it."""
    run(kc, "%carbon config interval=0.25")
    try:
        code = (
            "import time\ntime.sleep(0.7)\nfor i in range(3):\n    print('step', i, flush=True)\n"
            "    time.sleep(0.1)\ntime.sleep(1.0)"
        )
        shown = outputs(run(kc, "%%carbon --label late\n" + code))
    finally:
        run(kc, "%carbon config interval=1")
    kinds_shown = [k for k, _ in shown]
    assert kinds_shown == ["display", "stream:stdout", "display"], shown
    assert "jc-moved" in shown[0][1] and "jc-report" in shown[-1][1]


def test_a_short_carbon_cell_sends_one_message(kc) -> None:
    messages = run(kc, "%%carbon --label short\nprint('hi')")
    assert kinds(messages) == ["status", "execute_input", "stream:stdout", "display_data", "status"]
    assert [k for k, _ in outputs(messages)] == ["stream:stdout", "display"]


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
