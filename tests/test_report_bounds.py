"""`jupyter-carbon report` on hostile files: bounded memory, no hang, one clear line (issue 26)."""

from __future__ import annotations

import dataclasses
import os
import random
import subprocess
import tracemalloc
from pathlib import Path

import pytest
from storage_helpers import PYTHON, child_env, make_record

from jupyter_carbon.cli import main
from jupyter_carbon.record import MAX_TIMELINE_POINTS, Timeline
from jupyter_carbon.storage import reader
from jupyter_carbon.storage.log import SessionLog


def _one_line(capsys, argv: list[str], code: int, expected: str) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err, err
    return err


def test_random_bytes_named_jsonl_are_refused_like_any_other_name(tmp_path: Path, capsys) -> None:
    junk = random.Random(26).randbytes(4096)
    if junk.lstrip(b" \t\r\n").startswith(b"{"):
        junk = b"\x00" + junk
    (tmp_path / "x.jsonl").write_bytes(junk)
    (tmp_path / "x.bin").write_bytes(junk)
    err = _one_line(capsys, ["report", str(tmp_path / "x.jsonl")], 2, "not a session log")
    assert "torn" not in err
    _one_line(capsys, ["report", str(tmp_path / "x.bin")], 2, "not a session log")


def test_random_bytes_in_a_folder_are_not_called_a_torn_line(tmp_path: Path, capsys) -> None:
    log = SessionLog(tmp_path)
    log.append(make_record(1))
    # a file that has JSON's look nowhere: one note, but not "the kernel stopped while writing"
    (tmp_path / "session-20240101T000000Z-1-abcdef.jsonl").write_bytes(b"\x01\x02 junk, no newline")
    assert main(["report", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "1 cell ·" in captured.out
    assert "torn" not in captured.err and "skipped 1 unreadable line" in captured.err


def test_a_nul_filled_log_without_newline_is_read_in_bounded_memory(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """100 MiB of NUL bytes and no newline (a sparse file, as a crash on some file systems leaves):
    the reader holds at most one MAX_LINE_BYTES line, skips it with one note, and goes on."""
    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 1 << 20, raising=False)
    log = SessionLog(tmp_path)
    log.append(make_record(1))
    log.close()
    nul = tmp_path / "session-20240101T000000Z-1-abcdef.jsonl"
    with open(nul, "wb") as handle:
        handle.truncate(100 << 20)
    tracemalloc.start()
    try:
        assert main(["report", str(tmp_path)]) == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    captured = capsys.readouterr()
    assert "1 cell ·" in captured.out and "longer than 1 MiB" in captured.err
    assert peak < 16 << 20, f"peak {peak / 2**20:.0f} MiB for a 100 MiB file"


def _report_in_a_child(path: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """`jupyter-carbon report PATH` in a child limited to 1 GiB of address space beyond its start
    and 30 s: a reader that slurps /dev/zero fails, one that blocks on a FIFO times out."""
    script = (
        "import resource, sys\n"
        "from jupyter_carbon.cli import main\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    return subprocess.run(
        [PYTHON, "-c", script, "report", str(path)],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=tmp_path,
        timeout=30,
    )


@pytest.mark.slow
@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom", "fifo"])
@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_report_refuses_devices_and_fifos_at_once(tmp_path: Path, target: str, suffix: str) -> None:
    path = tmp_path / f"x{suffix}"
    if target == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(target)
    done = _report_in_a_child(path, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "not a regular file" in done.stderr, done.stderr


def _report_peak_bytes(folder: Path, records: int, timeline: Timeline) -> tuple[int, int]:
    """(the log's size, the peak memory of `jupyter-carbon report` on it), both in bytes."""
    log = SessionLog(folder)
    for i in range(1, records + 1):
        log.append(dataclasses.replace(make_record(i), timeline=timeline))
    log.close()
    size = sum(p.stat().st_size for p in folder.glob("*.jsonl"))
    tracemalloc.start()
    try:
        assert main(["report", str(folder)]) == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return size, peak


def test_reports_of_long_timelines_hold_a_bounded_share_of_the_file(tmp_path: Path, capsys) -> None:
    """Records whose timelines hold 100,000 points (a hostile or foreign log: the sampler writes
    at most 2,000): a timeline read keeps MAX_TIMELINE_POINTS, so each further record adds a small
    share of its bytes to the report's memory (it was 7.7 times the file), however many there
    are; what one line needs while it is parsed does not grow with the file."""
    n = 100_000
    timeline = Timeline(
        tuple(float(i) for i in range(n)), {"cpu": tuple(10.0 + i % 7 for i in range(n))}
    )
    small_size, small_peak = _report_peak_bytes(tmp_path / "5", 5, timeline)
    size, peak = _report_peak_bytes(tmp_path / "20", 20, timeline)
    assert "20 cells ·" in capsys.readouterr().out
    growth = (peak - small_peak) / (size - small_size)
    assert growth < 0.2, f"{growth:.2f} of each further record's bytes kept"
    assert peak < 1.5 * size, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.1f} MiB log"
    kept = Timeline.from_dict(timeline.to_dict())
    assert len(kept) == MAX_TIMELINE_POINTS and kept.t_s[0] == 0.0 and kept.t_s[-1] == n - 1
