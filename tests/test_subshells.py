"""Cells running at the same time in kernel subshells (ipykernel >= 7) each get their own record.

A real kernel over ZMQ (jupyter_client); the subshell is created through the control channel
(``create_subshell_request``) and addressed by ``subshell_id`` in the execute request's header,
as the Jupyter messaging protocol defines.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

jupyter_client = pytest.importorskip("jupyter_client")
from storage_helpers import real_kernel  # noqa: E402

ipykernel = pytest.importorskip("ipykernel")

if int(ipykernel.__version__.split(".")[0]) < 7:
    pytest.skip("kernel subshells need ipykernel >= 7", allow_module_level=True)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("subshells")
    with real_kernel(tmp_path, tmp_path) as (_, kc):
        request = kc.session.msg("create_subshell_request", {})
        kc.control_channel.send(request)
        reply = kc.get_control_msg(timeout=30)
        while reply["parent_header"].get("msg_id") != request["header"]["msg_id"]:
            reply = kc.get_control_msg(timeout=30)
        yield kc, reply["content"]["subshell_id"]


def execute(kc, code, subshell_id=None):
    msg = kc.session.msg(
        "execute_request",
        {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": False,
        },
    )
    if subshell_id is not None:
        msg["header"]["subshell_id"] = subshell_id
    kc.shell_channel.send(msg)
    return msg["header"]["msg_id"]


def wait_for_stream(kc, msg_id, text):
    while True:
        msg = kc.get_iopub_msg(timeout=60)
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "stream"
            and text in msg["content"]["text"]
        ):
            return


def replies(kc, msg_ids):
    statuses = {}
    while len(statuses) < len(msg_ids):
        reply = kc.get_shell_msg(timeout=60)
        parent = reply["parent_header"].get("msg_id")
        if parent in msg_ids:
            statuses[parent] = reply["content"]["status"]
    return [statuses[m] for m in msg_ids]


def records_since(kc, count):
    expression = (
        "__import__('json').dumps([(r.label, r.kind, r.status, r.duration_s) for r in "
        f"__import__('jupyter_carbon').session().records[{count}:]])"
    )
    reply = kc.execute_interactive("", timeout=30, user_expressions={"r": expression})
    return json.loads(eval(reply["content"]["user_expressions"]["r"]["data"]["text/plain"]))


def record_count(kc):
    reply = kc.execute_interactive(
        "",
        timeout=30,
        user_expressions={"n": "len(__import__('jupyter_carbon').session().records)"},
    )
    return int(reply["content"]["user_expressions"]["n"]["data"]["text/plain"])


def run_concurrently(kc, subshell_id, main_code, sub_code):
    """The subshell's cell starts and ends while the main shell's cell runs."""
    main = execute(kc, main_code)
    wait_for_stream(kc, main, "main started")
    sub = execute(kc, sub_code, subshell_id)
    return replies(kc, [main, sub])


def test_concurrent_carbon_cells_each_get_their_own_record(kernel):
    kc, subshell_id = kernel
    before = record_count(kc)
    statuses = run_concurrently(
        kc,
        subshell_id,
        "%%carbon --label main --quiet\nimport time\nprint('main started', flush=True)\n"
        "time.sleep(1.5)",
        "%%carbon --label sub --quiet\nimport time\ntime.sleep(0.3)\n1 / 0",
    )
    assert statuses == ["ok", "error"]
    got = {
        label: (kind, status, duration_s)
        for label, kind, status, duration_s in records_since(kc, before)
    }
    assert set(got) == {"main", "sub"}
    assert got["main"][:2] == ("cell", "ok") and got["main"][2] >= 1.5
    assert got["sub"][:2] == ("cell", "error") and 0.3 <= got["sub"][2] < got["main"][2]


def test_concurrent_plain_cells_in_auto_mode_each_get_their_own_record(kernel):
    kc, subshell_id = kernel
    assert kc.execute_interactive("%carbon on --quiet", timeout=30)["content"]["status"] == "ok"
    try:
        before = record_count(kc)
        statuses = run_concurrently(
            kc,
            subshell_id,
            "import time\nprint('main started', flush=True)\ntime.sleep(1.5)\nmain_done = True",
            "import time\ntime.sleep(0.3)\nsub_done = True",
        )
        assert statuses == ["ok", "ok"]
        got = sorted(records_since(kc, before), key=lambda r: r[3])  # by duration
        # the two cells, plus the "" cells the checks above ran (silent=False): not measured,
        # being empty; and the record_count cell is empty too
        assert [(kind, status) for _, kind, status, _ in got] == [("auto", "ok"), ("auto", "ok")]
        assert 0.3 <= got[0][3] < 1.0 and got[1][3] >= 1.5
    finally:
        kc.execute_interactive("%carbon off", timeout=30)


def test_top_level_await_carbon_cell_in_the_kernel(kernel):
    """ipykernel runs such a cell as an asyncio task and sends post_run_cell itself."""
    kc, _ = kernel
    before = record_count(kc)
    reply = kc.execute_interactive(
        "%%carbon --label awaited --quiet\nimport asyncio\nawait asyncio.sleep(0.3)\n'done'",
        timeout=60,
    )
    assert reply["content"]["status"] == "ok"
    [(label, kind, status, duration_s)] = records_since(kc, before)
    assert (label, kind, status) == ("awaited", "cell", "ok") and duration_s >= 0.3
