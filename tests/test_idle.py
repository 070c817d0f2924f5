"""Issue 24: the kernel's whole lifetime — idle stretches between windows, GPUs held while idle.

Fake hardware only (a powercap tree, the stub pynvml); the session, ledger, log, digest and
renderers are real, and the slow tests run a real kernel.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from fakes import FakePowercap, stub_pynvml
from storage_helpers import child_env, real_kernel

from jupyter_carbon.carbon_session import CarbonSession
from jupyter_carbon.config import Config
from jupyter_carbon.digest import Digest
from jupyter_carbon.display.report_html import summary_html
from jupyter_carbon.display.report_text import summary_text
from jupyter_carbon.ledger import IDLE_MIN_S
from jupyter_carbon.record import IDLE, WindowRecord

PACKAGE_W, DRAM_W = 40.0, 6.0  # while a cell runs
IDLE_PACKAGE_W, IDLE_DRAM_W = 12.0, 3.0  # between cells


def _cell(session, cap, clock, seconds: float, label: str) -> WindowRecord:
    m = session.open(label)
    for _ in range(int(seconds)):
        cap.advance(1.0, {"package-0": PACKAGE_W, "dram-0": DRAM_W})
        clock.advance(1.0)
        session.sampler.tick()
    return session.stop(m)


def _idle(cap, clock, seconds: float) -> None:
    cap.advance(seconds, {"package-0": IDLE_PACKAGE_W, "dram-0": IDLE_DRAM_W})
    clock.advance(seconds)


def test_idle_energy_on_rapl_counters_is_the_exact_gap_and_cells_stay_as_they_are(
    tmp_path, clock, no_pynvml
):
    # a counter that wraps every ~1.7 min at the cells' power: the gaps cross wraps too
    cap = FakePowercap(tmp_path, sockets=1, dram=True, max_range_uj=4_000_000_000)
    session = CarbonSession(
        Config(powercap_root=str(tmp_path)), clock=clock, threaded=False, track_idle=True
    )
    assert session.scope == "machine"
    _idle(cap, clock, 7.0)  # %load_ext, then reading before the first cell
    first = _cell(session, cap, clock, 5, "first")
    _idle(cap, clock, 30.0)
    second = _cell(session, cap, clock, 4, "second")
    _idle(cap, clock, 0.25)  # back to back: under a second, carried into the next stretch
    third = _cell(session, cap, clock, 3, "third")
    _idle(cap, clock, 12.0)
    last = session.write_idle()  # the kernel exits: the last stretch is written

    idle = session.idle_records
    assert [r.kind for r in idle] == [IDLE] * 3 and idle[-1] is last
    assert all(r.label is None and r.cell is None and r.scope == "machine" for r in idle)
    # each stretch is its gap, exactly (counter differences at the boundaries, wraps included)
    for record, gap_s in zip(idle, (7.0, 30.0)):
        assert record.duration_s == pytest.approx(gap_s)
        assert record.components["cpu"].energy_j == pytest.approx(IDLE_PACKAGE_W * gap_s)
        assert record.components["ram"].energy_j == pytest.approx(IDLE_DRAM_W * gap_s)
        assert record.measured
    # the short gap is in the last record, said so: (0.25 + 12) s of idle draw
    assert last.extra["short_gaps"] == {"count": 1, "duration_s": pytest.approx(0.25)}
    assert last.energy_j == pytest.approx((IDLE_PACKAGE_W + IDLE_DRAM_W) * 12.25)
    # the cells are what they were; the session's cell totals hold no idle time or energy
    cells = (first, second, third)
    totals = session.totals()
    assert totals.windows == 3 and session.records == list(cells)
    assert totals.duration_s == pytest.approx(12.0)
    assert totals.energy_j == pytest.approx((PACKAGE_W + DRAM_W) * 12.0)
    idle_totals = session.idle_totals()
    assert idle_totals.windows == 3
    assert idle_totals.duration_s == pytest.approx(7.0 + 30.0 + 12.25)
    assert idle_totals.energy_j == pytest.approx((IDLE_PACKAGE_W + IDLE_DRAM_W) * 49.25)
    # the digest keeps them apart: cell totals from the cells only, idle beside them
    digest = Digest([*session.records, *idle])
    assert digest.count == 3 and list(digest.rows) == list(cells)
    assert digest.totals.energy_j == pytest.approx(totals.energy_j)
    assert digest.idle_totals.energy_j == pytest.approx(idle_totals.energy_j)
    assert digest.idle_totals.duration_s == pytest.approx(49.25)
    text = summary_text(digest)
    assert "idle between cells: 49.2 s" in text and "(machine's idle draw)" in text
    assert sum(line.endswith(" ok") for line in text.splitlines()) == 3  # no idle row
    html = summary_html(digest)
    assert "idle between cells: 49.2 s" in html and html.count("jc-idle") == 1
    session.shutdown()
    assert len(session.idle_records) == 3  # nothing left to write at shutdown


def test_idle_runs_on_in_the_summary_until_now(tmp_path, clock, no_pynvml):
    cap = FakePowercap(tmp_path, sockets=1, dram=True)
    session = CarbonSession(
        Config(powercap_root=str(tmp_path)), clock=clock, threaded=False, track_idle=True
    )
    _cell(session, cap, clock, 2, "a")
    _idle(cap, clock, 100.0)
    now = session.idle_totals()  # the stretch running now, read once, not yet a record
    assert [r.kind for r in session.idle_records] == []  # load → "a" took no time here
    assert now.duration_s == pytest.approx(100.0) and now.energy_j == pytest.approx(1500.0)
    session.shutdown()
    assert session.idle_records[-1].energy_j == pytest.approx(1500.0)


def test_short_gaps_carried_count_in_the_idle_totals_at_every_moment(tmp_path, clock, no_pynvml):
    # many cells back to back: each gap under a second is only counted when it ends; its energy
    # is worked out when asked (idle totals) or written (the next idle record), exactly
    cap = FakePowercap(tmp_path, sockets=1, dram=True, max_range_uj=4_000_000_000)
    session = CarbonSession(
        Config(powercap_root=str(tmp_path)), clock=clock, threaded=False, track_idle=True
    )
    idle_w = IDLE_PACKAGE_W + IDLE_DRAM_W
    _idle(cap, clock, 5.0)
    _cell(session, cap, clock, 2, "first")  # the 5 s stretch is a record
    gaps = [0.5, 0.25, 0.75, 0.125]
    for i, gap_s in enumerate(gaps):
        _idle(cap, clock, gap_s)
        _cell(session, cap, clock, 1, f"cell {i}")
    carried_s = sum(gaps)
    now = session.idle_totals()  # idle now (no time since the last cell)
    assert now.duration_s == pytest.approx(5.0 + carried_s)
    assert now.energy_j == pytest.approx(idle_w * (5.0 + carried_s))
    _idle(cap, clock, 0.5)  # one more short gap, ended by a window still open
    m = session.open("open")
    cap.advance(1.0, {"package-0": PACKAGE_W, "dram-0": DRAM_W})
    clock.advance(1.0)
    during = session.idle_totals()
    assert during.duration_s == pytest.approx(5.0 + carried_s + 0.5)
    assert during.energy_j == pytest.approx(idle_w * (5.0 + carried_s + 0.5))
    session.stop(m)
    _idle(cap, clock, 3.0)
    _cell(session, cap, clock, 1, "after")  # the 3 s stretch, with the five gaps carried into it
    record = session.idle_records[-1]
    assert record.extra["short_gaps"] == {"count": 5, "duration_s": pytest.approx(carried_s + 0.5)}
    assert record.duration_s == pytest.approx(3.0)
    assert record.components["cpu"].energy_j == pytest.approx(
        IDLE_PACKAGE_W * (3.0 + carried_s + 0.5)
    )
    assert record.components["ram"].energy_j == pytest.approx(IDLE_DRAM_W * (3.0 + carried_s + 0.5))
    total = session.idle_totals()
    assert total.duration_s == pytest.approx(5.0 + carried_s + 0.5 + 3.0)
    assert total.energy_j == pytest.approx(idle_w * (5.0 + carried_s + 0.5 + 3.0))
    assert session.totals().energy_j == pytest.approx((PACKAGE_W + DRAM_W) * 8.0)  # cells only
    session.shutdown()


def _gpu_session(monkeypatch, clock, processes):
    stub = stub_pynvml(
        [{"name": "NVIDIA H200", "power_w": lambda t: 120.0, "processes": processes}], clock
    )
    monkeypatch.setitem(sys.modules, "pynvml", stub)
    return CarbonSession(
        Config(power={"cpu": 50.0}), clock=clock, threaded=False, track_idle=True
    ), stub


def test_a_gpu_held_by_the_kernel_while_idle_is_on_the_idle_record(monkeypatch, clock):
    session, stub = _gpu_session(monkeypatch, clock, {os.getpid(): 2048.0, 1: 100.0})
    session.stop(session.open("train"))
    queries = stub.state.get("process_queries", 0)
    clock.advance(700.0)
    session.stop(session.open("next"))
    (idle,) = session.idle_records
    assert stub.state["process_queries"] == queries + 1  # asked once, when the stretch ended
    assert idle.extra["gpu_held"] == [
        {
            "gpu": "GPU 0 (NVIDIA H200)",
            "energy_j": pytest.approx(120.0 * 700.0),
            "power_w": pytest.approx(120.0),
            "duration_s": pytest.approx(700.0),
            "memory_mib": pytest.approx(2048.0),
        }
    ]
    assert idle.components["gpu"].energy_j == pytest.approx(120.0 * 700.0)
    assert idle.components["cpu"].energy_j == pytest.approx(50.0 * 700.0)
    json.dumps(idle.to_dict())  # the log can hold it
    session.shutdown()


def test_a_gpu_only_other_processes_hold_is_not_said(monkeypatch, clock):
    session, _ = _gpu_session(monkeypatch, clock, {os.getpid() + 1: 512.0})
    session.stop(session.open("train"))
    clock.advance(700.0)
    session.stop(session.open("next"))
    (idle,) = session.idle_records
    assert "gpu_held" not in idle.extra and idle.components["gpu"].energy_j > 0
    session.shutdown()


def test_the_next_cell_after_a_long_gap_says_the_gpu_is_held_once(_shell, monkeypatch, capsys):
    import jupyter_carbon.carbon_session as session_module
    import jupyter_carbon.extension as extension

    stub = stub_pynvml(
        [{"name": "NVIDIA H200", "power_w": lambda t: 120.0, "processes": {os.getpid(): 900.0}}],
        time.monotonic,
    )
    monkeypatch.setitem(sys.modules, "pynvml", stub)
    monkeypatch.setattr(extension, "GPU_HELD_NOTICE_S", IDLE_MIN_S)  # not ten minutes in a test
    session_module.reset_session()
    _shell.run_line_magic("load_ext", "jupyter_carbon")
    try:
        _shell.run_cell("%%carbon\nx = 1")
        time.sleep(IDLE_MIN_S + 0.2)
        capsys.readouterr()
        _shell.run_cell("%%carbon\ny = 2")
        after_gap = capsys.readouterr().out
        _shell.run_cell("%%carbon\nz = 3")  # no gap: nothing said again
        next_cell = capsys.readouterr().out
    finally:
        _shell.run_line_magic("unload_ext", "jupyter_carbon")
        session_module.reset_session()
    assert after_gap.count("GPU 0 (NVIDIA H200) 900 MiB held by this kernel, idle") == 1
    assert re.search(r"~1(19|20) W", after_gap) and "torch.cuda.empty_cache()" in after_gap
    assert "held by this kernel" not in next_cell


def test_export_in_a_shell_writes_the_idle_stretch_with_its_kind(shell, tmp_path):
    shell.run_cell("%carbon on")
    shell.run_cell("a = 1")
    time.sleep(IDLE_MIN_S + 0.1)
    shell.run_cell("b = 2")
    shell.run_cell(f"%carbon export {tmp_path / 'out.csv'}")
    import csv

    with open(tmp_path / "out.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    kinds = [row["kind"] for row in rows]
    assert kinds[-3:] == ["auto", "idle", "auto"]
    (gap,) = [row for row in rows if row["kind"] == "idle" and float(row["duration"]) >= 1.0]
    assert float(gap["energy_j"]) > 0 and gap["label"] == ""


# --- real kernels -------------------------------------------------------------------------------


def _records(log_dir):
    (log,) = log_dir.glob("session-*.jsonl")
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [line for line in lines if line.get("type") == "record"]


def _run(kc, code: str) -> str:
    out: list[str] = []

    def keep(msg):
        content = msg["content"]
        if msg["msg_type"] == "stream":
            out.append(content["text"])
        elif msg["msg_type"] in ("display_data", "execute_result"):
            out.append(content["data"].get("text/plain", ""))

    reply = kc.execute_interactive(code, timeout=60, output_hook=keep)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(out)


@pytest.mark.slow
def test_a_real_kernel_shows_the_gap_between_two_cells_in_summary_and_report(tmp_path):
    log_dir = tmp_path / "logs"
    with real_kernel(log_dir, tmp_path) as (_, kc):
        _run(kc, "%carbon on")
        _run(kc, "x = sum(range(10_000))")
        time.sleep(4.0)  # reading the output: the kernel idles
        _run(kc, "y = sum(range(10_000))")
        summary = _run(kc, "%carbon summary")
    idle = [r for r in _records(log_dir) if r["kind"] == "idle"]
    gap = [r for r in idle if r["duration_s"] >= 3.5]
    assert gap and gap[0]["energy_j"] > 0 and gap[0]["label"] is None
    report = subprocess.run(
        [sys.executable, "-m", "jupyter_carbon", "report", str(log_dir)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    (line,) = [x for x in report.stdout.splitlines() if x.startswith("idle between cells: ")]
    seconds = sum(r["duration_s"] for r in idle)
    assert seconds >= 4.0 and "(machine's idle draw)" in line
    (line_in_kernel,) = [x for x in summary.splitlines() if x.startswith("idle between cells: ")]
    assert line_in_kernel.split(" · ")[0] != "idle between cells: 0 s"


@pytest.mark.slow
def test_sigkill_keeps_every_idle_stretch_up_to_the_last_record_and_shutdown_writes_the_last(
    tmp_path,
):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    with real_kernel(killed, tmp_path) as (km, kc):
        _run(kc, "%carbon on")
        time.sleep(1.5)
        _run(kc, "a = 1")
        time.sleep(1.5)
        _run(kc, "b = 2")
        time.sleep(1.5)
        os.kill(km.provisioner.process.pid, signal.SIGKILL)
        km.provisioner.process.wait()
    kinds = [r["kind"] for r in _records(killed)]
    # load → a, a → b: both stretches before the last record survive; the one running at the
    # kill is lost (no reading was taken at its end)
    assert kinds == ["idle", "auto", "idle", "auto"]
    with real_kernel(clean, tmp_path) as (km, kc):
        _run(kc, "%carbon on")
        _run(kc, "a = 1")
        time.sleep(1.5)
        km.shutdown_kernel(now=False)  # a shutdown request: the kernel exits by itself
    records = _records(clean)
    assert records[-1]["kind"] == "idle" and records[-1]["duration_s"] >= 1.5
