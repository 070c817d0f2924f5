"""Totals over records read back (jupyter_carbon.totals): overlapping windows counted once, by the
report (text, HTML), the history and the CLI, with windows made by a real InteractiveShell."""

from __future__ import annotations

import dataclasses
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from fakes import constant_session
from storage_helpers import make_record

from jupyter_carbon.cli import main
from jupyter_carbon.cluster_part import ClusterPart
from jupyter_carbon.digest import Digest
from jupyter_carbon.display.history_text import format_history
from jupyter_carbon.display.report_html import html_report
from jupyter_carbon.display.report_text import summary_text
from jupyter_carbon.energy import Co2e, Energy
from jupyter_carbon.storage.history import list_sessions, overall_totals
from jupyter_carbon.storage.reader import log_files, merged, read_logs
from jupyter_carbon.totals import Span, counted_fractions, span_of, totals_of, totals_of_spans


def span(start: float, end: float, energy_j: float = 10.0) -> Span:
    return Span(
        start,
        end,
        end - start,
        Energy(energy_j, energy_j * 0.5, energy_j * 2),
        Co2e(energy_j / 100, energy_j / 200, energy_j / 50),
    )


# --- the rule -------------------------------------------------------------------------------------


def test_nested_windows_add_nothing_and_disjoint_ones_add_in_full() -> None:
    spans = [span(0, 10, 100.0), span(2, 3, 7.0), span(20, 21, 5.0), span(4, 9, 50.0)]
    assert counted_fractions(spans) == [1.0, 0.0, 1.0, 0.0]
    t = totals_of_spans(spans)
    assert (t.outer_windows, t.windows, t.nested) == (2, 4, 2)
    assert t.energy_j == pytest.approx(105.0) and t.duration_s == pytest.approx(11.0)
    assert (t.low_j, t.high_j) == pytest.approx((52.5, 210.0))
    assert (t.co2e_g, t.co2e_low_g, t.co2e_high_g) == pytest.approx((1.05, 0.525, 2.1))


def test_a_follow_up_adds_its_energy_but_no_cell(clock) -> None:
    # a Dask share measured after its cell (kind "cluster-share", late_for the cell): one cell
    session = constant_session(clock, cpu=10.0)
    cell = session.open("train")
    clock.advance(2.0)
    cell_record = session.stop(cell, cluster=ClusterPart(follows=True))
    clock.advance(0.5)
    share = session.open("train: cluster share", kind="cluster-share")
    clock.advance(0.01)
    share_record = session.stop(share, cluster=ClusterPart(late_for=cell_record.id))
    assert share_record.is_follow_up and not cell_record.is_follow_up
    assert session.totals().windows == 1  # the kernel's count: "(1 cell)"
    assert session.ledger.made == 2 and session.ledger.dropped == 0
    t = totals_of(session.records)
    assert (t.outer_windows, t.windows, t.follow_ups, t.nested) == (1, 2, 1, 0)
    assert t.energy_j == pytest.approx(10.0 * 2.01)  # both records' energy counts
    text = summary_text(Digest(session.records))
    assert "1 cell " in text and "inside others" not in text
    session.shutdown()


def test_a_partial_overlap_adds_its_uncovered_part_pro_rata() -> None:
    spans = [span(1, 5, 40.0), span(0, 2, 20.0)]  # given out of order: sorted by start
    assert counted_fractions(spans) == pytest.approx([0.75, 1.0])
    t = totals_of_spans(spans)
    assert (
        t.energy_j == pytest.approx(20.0 + 30.0)
        and t.duration_s == pytest.approx(5.0)
        and t.outer_windows == 2
    )


def test_a_partial_overlap_scales_the_band_and_co2e_by_the_counted_fraction() -> None:
    """Every sum pinned: a fraction of 0.75 (not 1, not its own inverse), windows far from zero."""
    first = Span(1000.0, 1004.0, 4.0, Energy(40.0, 30.0, 60.0), Co2e(4.0, 3.0, 6.0))
    second = Span(1002.0, 1010.0, 8.0, Energy(80.0, 48.0, 120.0), Co2e(8.0, 5.0, 12.0))
    assert counted_fractions([first, second]) == [1.0, 0.75]
    t = totals_of_spans([first, second])
    assert (t.outer_windows, t.windows, t.nested) == (2, 2, 0)
    assert t.energy == Energy(40.0 + 60.0, 30.0 + 36.0, 60.0 + 90.0)
    assert (t.energy_j, t.low_j, t.high_j) == (100.0, 66.0, 150.0)
    assert t.co2e == Co2e(4.0 + 6.0, 3.0 + 3.75, 6.0 + 9.0)
    assert (t.co2e_g, t.co2e_low_g, t.co2e_high_g) == (10.0, 6.75, 15.0)
    assert t.duration_s == 4.0 + 6.0
    t = totals_of_spans([first, second], [0.5, 0.25])  # fractions given: used as they are
    assert (t.energy, t.co2e, t.duration_s) == (Energy(40.0, 27.0, 60.0), Co2e(4.0, 2.75, 6.0), 4.0)
    t = totals_of_spans([first, second], [0.0, 0.25])  # a window counted 0: not an outer window
    assert (t.outer_windows, t.energy, t.co2e, t.duration_s) == (
        1,
        Energy(20.0, 12.0, 30.0),
        Co2e(2.0, 1.25, 3.0),
        2.0,
    )


def test_span_of_a_record_sums_its_devices_with_their_band_and_co2e() -> None:
    record = make_record(
        2
    )  # cpu 72 J (measured), gpu 720 J in 700–740, ram 3.6 J in 1.8–7.2; 56 g/kWh, PUE 1.2
    s = span_of(record)
    assert (s.start, s.end, s.duration_s) == (
        record.start_utc.timestamp(),
        record.end_utc.timestamp(),
        2.0,
    )
    assert s.energy == Energy(72.0 + 720.0 + 3.6, 72.0 + 700.0 + 1.8, 72.0 + 740.0 + 7.2)
    k = 56.0 * 1.2 / 3.6e6
    assert (s.co2e.co2e_g, s.co2e.low_g, s.co2e.high_g) == pytest.approx(
        (795.6 * k, 773.8 * k, 819.2 * k), rel=1e-12
    )
    assert (s.co2e.co2e_g, s.co2e.low_g, s.co2e.high_g) == (record.co2e_g, *record.co2e_band_g)


def test_ties_count_the_longer_window_and_instants_count_outside_windows_only() -> None:
    assert counted_fractions([span(0, 1), span(0, 3)]) == [0.0, 1.0]
    assert counted_fractions([span(0, 3), span(1, 1), span(3, 3), span(5, 5)]) == [
        1.0,
        0.0,
        1.0,
        1.0,
    ]
    assert counted_fractions([span(2, 1)]) == [1.0]  # a wall clock stepped back: an instant
    assert totals_of([]).outer_windows == 0 and totals_of([]).energy_j == 0.0


# --- real windows from a real shell ---------------------------------------------------------------


@pytest.fixture
def log_dir(tmp_path, monkeypatch):
    folder = tmp_path / "logs"
    monkeypatch.setenv("JUPYTER_CARBON_LOG_DIR", str(folder))
    return folder


def _records(folder: Path):
    records, notes = merged(read_logs(log_files(folder)))
    assert notes == []
    return records


def test_track_inside_a_carbon_cell_counts_once_everywhere(
    log_dir, shell, tmp_path, capsys
) -> None:
    shell.run_cell(
        "%%carbon --label outer\nimport time, jupyter_carbon\nwith jupyter_carbon.track('inner'):\n"
        "    time.sleep(0.3)\ntime.sleep(0.1)"
    )
    shell.run_cell("%%carbon --label after\nimport time\ntime.sleep(0.05)")
    capsys.readouterr()
    import jupyter_carbon

    session = jupyter_carbon.session()
    records = _records(log_dir)
    assert [r.label for r in records] == ["inner", "outer", "after"]
    inner, outer, after = records
    assert outer.start_utc <= inner.start_utc and inner.end_utc <= outer.end_utc  # really nested
    t = totals_of(records)
    assert (t.outer_windows, t.windows) == (2, 3)
    assert t.duration_s == pytest.approx(outer.duration_s + after.duration_s)
    assert t.energy_j == pytest.approx(outer.energy_j + after.energy_j)
    assert t.energy_j < sum(
        r.energy_j for r in records
    )  # the naive sum counts the inner block twice
    # the kernel's own union totals (written in the last record) agree: nested windows are exact
    assert t.energy_j == pytest.approx(after.totals.energy_j, rel=1e-9)
    assert t.duration_s == pytest.approx(session.totals().duration_s, rel=1e-6)

    text = summary_text(records)
    assert "2 cells" in text and "1 window inside others, counted once" in text
    assert "2 cells" in html_report(records)
    assert main(["report", str(log_dir)]) == 0
    out = capsys.readouterr().out
    assert "jupyter_carbon session: 2 cells" in out
    summaries = list_sessions(log_dir)
    assert [s.totals.outer_windows for s in summaries] == [2] and overall_totals(
        summaries
    ).energy_j == pytest.approx(t.energy_j)
    history = format_history(summaries, folder=log_dir)
    first = next(line for line in history.splitlines() if re.match(r"\d{4}-", line))
    assert re.split(r"\s{2,}", first.strip())[1] == "2"


def test_baseline_in_auto_mode_is_nested_in_its_cell(log_dir, shell, capsys) -> None:
    shell.run_cell("%carbon on")
    shell.run_cell(
        "x = 1\n%carbon baseline 1"
    )  # a cell with code around it is measured in auto mode
    shell.run_cell("%carbon off")
    capsys.readouterr()
    records = _records(log_dir)
    kinds = [r.kind for r in records]
    assert "baseline" in kinds and "auto" in kinds
    baseline = next(r for r in records if r.kind == "baseline")
    cell = next(
        r
        for r in records
        if r.kind == "auto" and r.start_utc <= baseline.start_utc and baseline.end_utc <= r.end_utc
    )
    t = Digest(records).totals
    assert t.nested >= 1 and t.duration_s < sum(r.duration_s for r in records)
    assert t.duration_s == pytest.approx(sum(r.duration_s for r in records) - baseline.duration_s)
    assert cell.duration_s >= baseline.duration_s >= 1.0
    assert main(["report", str(log_dir)]) == 0
    out = capsys.readouterr().out
    assert (
        f"jupyter_carbon session: {t.outer_windows} cell" in out
        and "inside others, counted once" in out
    )


@pytest.mark.slow
def test_run_counts_a_track_block_inside_a_cell_once(tmp_path) -> None:
    import subprocess

    import nbformat
    from storage_helpers import PYTHON, child_env

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import time, jupyter_carbon\nwith jupyter_carbon.track('inner'):\n"
            "    time.sleep(0.3)\ntime.sleep(0.1)"
        ),
        nbformat.v4.new_code_cell("time.sleep(0.05)"),
    ]
    nbformat.write(nb, tmp_path / "nested.ipynb")
    done = subprocess.run(
        [
            PYTHON,
            "-m",
            "jupyter_carbon",
            "run",
            str(tmp_path / "nested.ipynb"),
            "--json",
            str(tmp_path / "r.json"),
        ],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    from jupyter_carbon.storage.export import load_records

    records = load_records(tmp_path / "r.json")
    assert sorted(r.label or r.kind for r in records) == ["auto", "auto", "inner"]
    t = totals_of(records)
    assert (t.outer_windows, t.nested) == (2, 1)
    assert t.duration_s == pytest.approx(sum(r.duration_s for r in records if r.label != "inner"))
    assert (
        "jupyter_carbon session: 2 cells" in done.stdout
        and "1 window inside others, counted once" in done.stdout
    )


def test_a_forked_workers_window_counts_once_across_sessions(log_dir, shell, capsys) -> None:
    code = (
        "%%carbon --label parent\n"
        "import os, time, jupyter_carbon\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    try:\n"
        "        with jupyter_carbon.track('worker'):\n"
        "            time.sleep(0.3)\n"
        "    finally:\n"
        "        os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
        "time.sleep(0.1)\n"
    )
    assert shell.run_cell(code).success
    capsys.readouterr()
    files = log_files(log_dir)
    assert len(files) == 2  # the worker wrote its own log
    records = _records(log_dir)
    assert sorted(r.label for r in records) == ["parent", "worker"]
    parent = next(r for r in records if r.label == "parent")
    summaries = list_sessions(log_dir)
    assert (
        sum(s.totals.outer_windows for s in summaries) == 2
    )  # each session alone: one window each
    both = overall_totals(summaries)
    assert (both.outer_windows, both.nested) == (1, 1)
    assert both.energy_j == pytest.approx(parent.energy_j) and both.duration_s == pytest.approx(
        parent.duration_s
    )
    assert main(["report", str(log_dir)]) == 0
    assert "jupyter_carbon session: 1 cell ·" in capsys.readouterr().out
    history = format_history(summaries, folder=log_dir)
    all_line = next(line for line in history.splitlines() if line.startswith("all"))
    assert all_line.split()[1] == "1"


def test_partly_overlapping_windows_from_two_threads(log_dir, shell, capsys) -> None:
    """As concurrent subshell cells would: the union's time is exact, its energy between the
    larger window's and the naive sum."""
    code = (
        "import threading, time, jupyter_carbon\n"
        "def work(label, delay, length):\n"
        "    time.sleep(delay)\n"
        "    with jupyter_carbon.track(label):\n"
        "        end = time.perf_counter() + length\n"
        "        while time.perf_counter() < end:\n"
        "            pass\n"
        "threads = [threading.Thread(target=work, args=('a', 0.0, 0.4)), "
        "threading.Thread(target=work, args=('b', 0.2, 0.4))]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
    )
    assert shell.run_cell(code).success
    import jupyter_carbon

    kernel = jupyter_carbon.session().totals()
    capsys.readouterr()
    records = _records(log_dir)
    a, b = sorted(records, key=lambda r: r.start_utc)
    assert a.start_utc < b.start_utc < a.end_utc < b.end_utc  # a partial overlap
    t = totals_of(records)
    assert (t.outer_windows, t.nested) == (2, 0)
    assert t.duration_s == pytest.approx(
        kernel.duration_s, abs=0.02
    )  # wall vs monotonic readings: ms apart
    assert t.duration_s < a.duration_s + b.duration_s - 0.1
    assert max(a.energy_j, b.energy_j) <= t.energy_j < a.energy_j + b.energy_j


def test_the_kernels_cumulative_plot_counts_a_nested_window_once(log_dir, shell, capsys) -> None:
    from jupyter_carbon.display.plots import cumulative_co2e_g

    shell.run_cell(
        "%%carbon --label outer\nimport time, jupyter_carbon\nwith jupyter_carbon.track('inner'):\n"
        "    time.sleep(0.2)"
    )
    capsys.readouterr()
    import jupyter_carbon

    records = jupyter_carbon.session().records
    assert [r.label for r in records] == ["inner", "outer"]
    curve = cumulative_co2e_g(records)
    assert curve[-1] == pytest.approx(records[-1].totals.co2e_g) and curve[-1] < sum(
        r.co2e_g for r in records
    )


# --- which windows overlap, and on which clock (issue 26 items 3 and 4) ---------------------


def _record(session: str, meter: str, start_s: float, end_s: float, wall_start: float, energy_j):
    """A record as a session writes it: monotonic ``start_s``/``end_s``, wall-clock times that
    may have stepped, one constant-power device."""
    from datetime import datetime, timezone

    from jupyter_carbon.record import DeviceEnergy, SessionTotals, WindowRecord

    def utc(t):
        return datetime.fromtimestamp(t, timezone.utc)

    return WindowRecord(
        id=1, label=None, cell=None, kind="auto",
        start_utc=utc(wall_start), end_utc=utc(wall_start + (end_s - start_s)),
        start_s=start_s, end_s=end_s,
        devices=(DeviceEnergy("cpu", "package-0", "rapl", True, Energy.exact(energy_j)),),
        status="ok", flags=(), intensity_g_per_kwh=100.0, intensity_source="test",
        intensity_utc=None, pue=1.0, scope="machine",
        totals=SessionTotals(1, Energy.exact(energy_j), 0.0, end_s - start_s),
        session=session, meter=meter,
    )  # fmt: skip


def test_a_wall_clock_step_during_a_session_empties_nothing() -> None:
    """The clock jumps a day forward during cell 1 and back after it: cell 1's wall-clock span
    was a day long and the 9 cells after it were "inside" it (1 cell / 10.5 J for 10 / ~104 J)."""
    day = 86_400.0
    t0 = 1_700_000_000.0
    records = []
    for k in range(10):  # cells of 1 s, 0.5 s apart on the monotonic clock
        start_s = 100.0 + 1.5 * k
        record = _record("S", "host", start_s, start_s + 1.0, t0 + 1.5 * k, 10.0 + k * 0.1)
        records.append(record)
    first = records[0]
    records[0] = dataclasses.replace(first, end_utc=first.end_utc + timedelta(seconds=day))
    totals = totals_of(records)
    assert (totals.outer_windows, totals.nested) == (10, 0)
    assert totals.energy_j == pytest.approx(sum(r.energy_j for r in records))
    assert totals.duration_s == pytest.approx(10.0)
    # without a session (an old log) the span is never longer than the duration: the same answer
    old = [dataclasses.replace(r, session=None, meter=None) for r in records]
    assert totals_of(old).outer_windows == 10


def test_windows_of_one_session_overlap_on_its_monotonic_clock() -> None:
    """A track() block inside a cell whose wall clock stepped back between the two starts: it
    is still nested (on the monotonic clock), the cell counted once."""
    t0 = 1_700_000_000.0
    cell = _record("S", "host", 100.0, 110.0, t0, 100.0)
    inner = _record("S", "host", 102.0, 104.0, t0 - 3_600.0, 20.0)  # stepped back an hour
    totals = totals_of([cell, inner])
    assert (totals.outer_windows, totals.nested) == (1, 1)
    assert totals.energy_j == pytest.approx(100.0)


def test_process_scope_windows_of_two_kernels_add_machine_ones_overlap() -> None:
    """Two kernels in one folder, both in process scope: 21.2 J + 23.4 J was reported as 24.0 J."""
    t0 = 1_700_000_000.0
    a = _record("A", "host/pid:1", 10.0, 20.0, t0, 21.2)
    b = _record("B", "host/pid:2", 50.0, 58.0, t0 + 2.0, 23.4)
    assert totals_of([a, b]).energy_j == pytest.approx(21.2 + 23.4)
    assert totals_of([a, b]).outer_windows == 2
    # two containers likewise; but machine-scope windows of two processes measure the same energy
    c1 = dataclasses.replace(a, meter="host/cgroup:/docker/one")
    c2 = dataclasses.replace(b, meter="host/cgroup:/docker/two")
    assert totals_of([c1, c2]).energy_j == pytest.approx(21.2 + 23.4)
    m1, m2 = (dataclasses.replace(r, meter="host") for r in (a, b))
    assert totals_of([m1, m2]).outer_windows == 1  # b (t0+2 … t0+10) is inside a (t0 … t0+10)
    # a process window inside a machine window of the same host adds nothing: the machine's
    # figure already holds the process's energy
    both = totals_of([m1, b])
    assert (both.outer_windows, both.energy_j) == (1, pytest.approx(21.2))


def test_a_real_session_writes_its_session_and_meter(tmp_path, clock) -> None:
    session = constant_session(clock, cpu=10.0, scope="process")
    try:
        machine = session.stop(session.open("m", scope="machine"))
        process = session.stop(session.open("p"))
    finally:
        session.shutdown()
    assert machine.session == process.session == session.session_id
    assert machine.meter == session.meters["machine"]
    assert process.meter == f"{machine.meter}/pid:{os.getpid()}"
