"""The session log: crash safety (a real kernel killed with SIGKILL), torn lines, concurrent
writers, write failures, file modes, privacy, history."""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from jupyter_carbon.storage.history import format_history, list_sessions, print_history
from jupyter_carbon.storage.log import LOG_SCHEMA, SessionLog, attach_log, detach_log, get_log, log_files, read_log
from storage_helpers import PYTHON, ROOT, child_env, make_record


class Config:
    def __init__(self, log_dir: str) -> None:
        self.log_dir = log_dir
        self.store_source = False

    def as_dict(self) -> dict:
        return {"log_dir": self.log_dir, "electricitymaps_token": "sk-never-logged", "region": "FR"}


class FakeSession:
    def __init__(self, log_dir: Path) -> None:
        self.config = Config(str(log_dir))
        self.on_record: list = []
        self.problems: list[str] = []

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def close(self, record) -> None:
        for callback in self.on_record:
            callback(record)


def test_records_round_trip_through_the_log_with_header_and_modes(tmp_path: Path) -> None:
    session = FakeSession(tmp_path / "logs")
    log = attach_log(session)
    records = [make_record(i) for i in range(1, 5)]
    for r in records:
        session.close(r)
    assert log.path is not None and log.path.parent == tmp_path / "logs"
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.path.parent.stat().st_mode) == 0o700
    contents = read_log(log.path)
    assert contents.records == records and contents.notes == []
    header = contents.header
    assert header["type"] == "session" and header["pid"] == os.getpid() and header["log_schema"] == LOG_SCHEMA == 2
    assert "electricitymaps_token" not in header["config"] and header["config"]["region"] == "FR"
    assert b"sk-never-logged" not in log.path.read_bytes()
    assert log.path.name.startswith("session-") and str(os.getpid()) in log.path.name
    # detach closes; re-attaching appends to the same file
    detach_log(session)
    assert session.on_record == []
    attach_log(session)
    session.close(make_record(5))
    assert get_log(session) is log and len(read_log(log.path).records) == 5
    assert session.problems == []


def test_torn_last_line_is_skipped_with_a_note(tmp_path: Path) -> None:
    log = SessionLog(tmp_path)
    for i in (1, 2, 3):
        assert log.append(make_record(i))
    log.close()
    data = log.path.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    log.path.write_bytes(data[: last + (len(data) - last) // 2])  # the kernel died mid-write
    contents = read_log(log.path)
    assert [r.id for r in contents.records] == [1, 2]
    assert len(contents.notes) == 1 and "torn last line" in contents.notes[0]


def test_nul_padding_after_the_last_line_is_ignored(tmp_path: Path) -> None:
    log = SessionLog(tmp_path)
    for i in (1, 2):
        assert log.append(make_record(i))
    log.close()
    complete = log.path.read_bytes()
    log.path.write_bytes(complete + b"\0" * 5000)  # a session that did not close: reserved room
    contents = read_log(log.path)
    assert [r.id for r in contents.records] == [1, 2] and contents.notes == []
    log.append(make_record(3))
    log.close()
    line = log.path.read_bytes()[len(complete) :]
    log.path.write_bytes(complete + line[:100] + b"\0" * 5000)  # died while copying line 3
    contents = read_log(log.path)
    assert [r.id for r in contents.records] == [1, 2]
    assert len(contents.notes) == 1 and "torn last line" in contents.notes[0]


def test_a_bad_line_in_the_middle_is_skipped_with_its_number(tmp_path: Path) -> None:
    log = SessionLog(tmp_path)
    log.append(make_record(1))
    log.close()  # cut to its last line: an outside write lands right after it
    bad = log.path.read_bytes().count(b"\n") + 1  # header, shape, cell: line 4
    with open(log.path, "ab") as handle:
        handle.write(b"{not json\n")
    log.append(make_record(2))
    contents = read_log(log.path)
    assert [r.id for r in contents.records] == [1, 2]
    assert contents.notes == [f"{log.path.name}: skipped unreadable line {bad} (JSONDecodeError)"] and bad == 4


def test_unwritable_folder_warns_once_and_the_session_continues(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")  # a folder below a regular file cannot be created, even as root
    session = FakeSession(blocker / "logs")
    log = attach_log(session)
    for i in range(1, 4):
        session.close(make_record(i))
    assert log.failed and log.written == 0
    assert len(session.problems) == 1
    assert "cannot write the session log" in session.problems[0] and "log_dir=PATH" in session.problems[0]
    # a new log_dir is tried again
    session.config.log_dir = str(tmp_path / "ok")
    session.close(make_record(4))
    assert not log.failed and [r.id for r in read_log(log.path).records] == [4]


def test_a_write_that_fails_midway_stops_the_log_with_one_warning(tmp_path: Path, monkeypatch) -> None:
    def unsupported(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(os, "posix_fallocate", unsupported)  # the os.write path (no mapping)
    problems: list[str] = []
    log = SessionLog(tmp_path, on_problem=problems.append)
    assert log.append(make_record(1))
    calls = []

    def full_disk(fd: int, data: bytes) -> int:
        calls.append(data)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    assert not log.append(make_record(2)) and not log.append(make_record(3))
    assert len(calls) == 1 and len(problems) == 1 and "No space left on device" in problems[0]


_WRITER = textwrap.dedent(
    """
    import os, sys
    from jupyter_carbon.storage.log import SessionLog, _FLAGS, _dumps, _write_line
    from storage_helpers import make_record
    folder, shared, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    log = SessionLog(folder)
    fd = os.open(shared, _FLAGS | os.O_CREAT, 0o600)
    for i in range(1, n + 1):
        record = make_record(i, points=400)  # ~5.6 kB per line
        log.append(record)  # its own file (mapped)
        # the os.write fallback's guarantee, on one shared file: one O_APPEND write per line
        _write_line(fd, _dumps({"type": "record", "writer": os.getpid(), **record.to_dict()}))
    """
)


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    n = 300
    shared = tmp_path / "logs" / "shared.jsonl"
    shared.parent.mkdir()
    env = child_env(tests=True)
    procs = [subprocess.Popen([PYTHON, "-c", _WRITER, str(tmp_path / "logs"), str(shared), str(n)], env=env) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    lines = shared.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 2 * n + 1
    writers = [json.loads(line)["writer"] for line in lines[:-1]]  # every line parses
    assert sorted(set(writers)) == sorted(p.pid for p in procs)
    files = log_files(tmp_path / "logs")
    assert len(files) == 2  # one file per session, side by side in one folder
    for f in files:
        contents = read_log(f)
        assert len(contents.records) == n and contents.notes == []
        assert b"\0" not in f.read_bytes()  # closed at interpreter exit: no reserved room left


def test_history_lists_sessions_with_totals(tmp_path: Path, capsys) -> None:
    a = SessionLog(tmp_path)
    a.append(make_record(1))
    a.append(make_record(2, status="error"))
    b = SessionLog(tmp_path)
    b.append(make_record(3))
    summaries = list_sessions(tmp_path)
    assert sorted(s.totals.cells for s in summaries) == [1, 2]
    first = next(s for s in summaries if s.path == a.path)
    assert first.errors == 1
    assert first.totals.energy_j == pytest.approx(make_record(1).energy_j + make_record(2).energy_j)
    session = FakeSession(tmp_path)
    print_history(session)
    out = capsys.readouterr().out
    assert "2 sessions" in out and out.count("\n") >= 4
    assert "no earlier sessions" in format_history([], folder=tmp_path)


# --- a real kernel ----------------------------------------------------------------------------------


def _run(kc, code: str, outputs: list[str]) -> dict:
    def hook(msg: dict) -> None:
        content = msg["content"]
        if msg["msg_type"] == "stream":
            outputs.append(content["text"])
        elif msg["msg_type"] == "error":
            outputs.append(content["ename"] + ": " + content["evalue"])

    return kc.execute_interactive(code, timeout=60, output_hook=hook)["content"]


def test_kernel_killed_with_sigkill_loses_no_closed_record(tmp_path: Path) -> None:
    jupyter_client = pytest.importorskip("jupyter_client")
    logs = tmp_path / "logs"
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(env=child_env(JUPYTER_CARBON_LOG_DIR=str(logs)), cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        out: list[str] = []
        _run(kc, "import os, jupyter_carbon; print(jupyter_carbon.__file__); print(os.getpid())", out)
        assert str(ROOT) in "".join(out), "the kernel must import this worktree's jupyter_carbon"
        pid = int("".join(out).split()[-1])
        _run(kc, "%load_ext jupyter_carbon", out)
        _run(kc, "%carbon on", out)
        _run(kc, 'token = "sk-SECRET-in-a-cell"', out)
        _run(kc, "total = sum(range(100_000))", out)
        assert _run(kc, "1/0", out)["status"] == "error"
        out.clear()
        _run(kc, f"%carbon export {tmp_path / 'k.json'}", out)
        assert any("wrote 3 records" in o for o in out), out
        out.clear()
        _run(kc, "%carbon export nowhere/k.csv", out)
        assert any(o.startswith("UsageError: folder nowhere does not exist") for o in out), out
        out.clear()
        _run(kc, "%carbon history", out)
        assert "1 sessions" in "".join(out) and "this session" in "".join(out), out
        _run(kc, "%carbon config store_source=true", out)
        _run(kc, 'opted_in = "visible source"', out)
        kc.execute("import time; time.sleep(60)")  # measured, still open when the kernel dies
        time.sleep(1.0)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while km.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    files = log_files(logs)
    assert len(files) == 1
    contents = read_log(files[0])
    assert contents.notes == []
    # the three cells after %carbon on and the opted-in one, all closed before the kill (cells that
    # are only a %carbon line — export, history, config — are not measured)
    statuses = [r.status for r in contents.records]
    assert len(contents.records) == 4 and statuses[:3] == ["ok", "ok", "error"]
    assert contents.records[-1].extra["source"] == 'opted_in = "visible source"'  # the explicit opt-in
    assert all("source" not in r.extra for r in contents.records[:-1])
    assert contents.header["pid"] == pid
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert b"sk-SECRET" not in files[0].read_bytes()  # no cell source by default
    assert files[0].read_bytes().endswith(b"\0")  # written through the mapping, never closed
