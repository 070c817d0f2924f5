"""The session log: plain JSON lines, crash safety (a real kernel killed with SIGKILL), torn and
hostile lines, concurrent writers, full and read-only disks, unsafe folders, file modes, privacy."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from storage_helpers import PYTHON, ROOT, child_env, make_record, real_kernel

from jupyter_carbon.display.history_text import format_history, print_history
from jupyter_carbon.storage.history import list_sessions
from jupyter_carbon.storage.log import (
    LOG_SCHEMA,
    SessionLog,
    attach_log,
    detach_log,
    get_log,
    record_line,
)
from jupyter_carbon.storage.reader import log_files, read_log, read_logs


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
    session = FakeSession(tmp_path / "a" / "b" / "logs")
    log = attach_log(session)
    records = [make_record(i) for i in range(1, 5)]
    for r in records:
        session.close(r)
    assert log.path is not None and log.path.parent == tmp_path / "a" / "b" / "logs"
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    for folder in (tmp_path / "a", tmp_path / "a" / "b", log.path.parent):  # every level we created
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    contents = read_log(log.path)
    assert contents.records == records and contents.notes == []
    header = contents.header
    assert (
        header["type"] == "session"
        and header["pid"] == os.getpid()
        and header["log_schema"] == LOG_SCHEMA == 3
    )
    assert "electricitymaps_token" not in header["config"] and header["config"]["region"] == "FR"
    assert session.problems == []
    detach_log(session)
    assert get_log(session) is log and log.append not in session.on_record


def test_every_line_is_plain_json_with_the_figures_under_their_names(tmp_path: Path) -> None:
    log = SessionLog(tmp_path)
    records = [make_record(i) for i in range(1, 4)]
    for r in records:
        assert log.append(r)
    lines = [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]
    assert [line["type"] for line in lines] == ["session", "record", "record", "record"]
    for line, record in zip(lines[1:], records):
        assert (
            line["id"] == record.id
            and line["energy_j"] == record.energy_j
            and line["co2e_g"] == record.co2e_g
        )
        assert (
            line["duration_s"] == record.duration_s
            and line["devices"][0]["energy_j"] == record.devices[0].energy_j
        )
        assert line["status"] == record.status and line["start_utc"] == record.start_utc.isoformat()


def test_a_line_is_the_type_then_the_records_dict_form_with_keys_in_extra_as_text(
    tmp_path: Path,
) -> None:
    log = SessionLog(tmp_path)
    plain = make_record(1)
    keyed = dataclasses.replace(make_record(2), extra={1: "a", "b": {2: 3}})
    assert log.append(plain) and log.append(keyed)
    lines = [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()[1:]]
    for line, record in zip(lines, (plain, keyed), strict=True):
        form = json.loads(json.dumps(record.to_dict()))  # json writes number keys as text
        assert list(line) == ["type", *form] and line == {"type": "record", **form}
    assert lines[1]["extra"] == {"1": "a", "b": {"2": 3}}


def test_a_record_json_cannot_hold_is_refused_and_the_next_one_is_whole(tmp_path: Path) -> None:
    problems: list[str] = []
    log = SessionLog(tmp_path, on_problem=problems.append)
    assert not log.append(make_record(1, thing=object()))
    assert log.append(make_record(2))
    assert [r.id for r in read_log(log.path).records] == [2]
    assert len(problems) == 1 and "could not log record 1" in problems[0]


def test_torn_last_line_is_skipped_with_a_note(tmp_path: Path) -> None:
    log = SessionLog(tmp_path)
    log.append(make_record(1))
    log.close()
    with open(log.path, "ab") as handle:
        handle.write(b'{"type":"record","id":2,"lab')  # the kernel died mid-write
    contents = read_log(log.path)
    assert [r.id for r in contents.records] == [1]
    assert len(contents.notes) == 1 and "torn last line" in contents.notes[0]


def test_bad_lines_in_the_middle_are_skipped_and_summed_up_in_one_note(tmp_path: Path) -> None:
    log = SessionLog(tmp_path)
    log.append(make_record(1))
    good = make_record(2).to_dict()
    with open(log.path, "ab") as handle:
        for _ in range(1000):
            handle.write(b"{not json\n")
        handle.write(json.dumps({"type": "record", **good, "pue": "1.2"}).encode() + b"\n")
        handle.write(b"[1, 2]\n\xff\xfe\n")
    log.append(make_record(3))
    contents = read_log(log.path)
    assert [r.id for r in contents.records] == [1, 3]
    assert contents.notes == [
        f"{log.path.name}: skipped 1003 unreadable line(s) (1002 not JSON, 1 bad pue)"
    ] or (len(contents.notes) == 1 and "skipped 1003 unreadable line(s)" in contents.notes[0]), (
        contents.notes
    )


def test_a_log_from_a_newer_version_says_so(tmp_path: Path) -> None:
    path = tmp_path / "session-20990101T000000Z-1-abcdef.jsonl"
    future = make_record(1).to_dict() | {"schema": 9}
    path.write_text(
        json.dumps({"type": "session", "log_schema": 9})
        + "\n"
        + json.dumps({"type": "record", **future})
        + "\n"
    )
    contents = read_log(path)
    assert contents.records == []
    assert any("newer jupyter_carbon" in note and "upgrade" in note for note in contents.notes), (
        contents.notes
    )


def test_unwritable_folder_warns_once_and_the_session_continues(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")  # a folder below a regular file cannot be created, even as root
    session = FakeSession(blocker / "logs")
    log = attach_log(session)
    for i in range(1, 4):
        session.close(make_record(i))
    assert log.failed and log.written == 0 and log.pending == 3
    assert len(session.problems) == 1
    assert (
        "cannot write the session log" in session.problems[0]
        and "log_dir=PATH" in session.problems[0]
    )
    # a new log_dir is tried at once, and what waited is written there first
    session.config.log_dir = str(tmp_path / "ok")
    session.close(make_record(4))
    assert not log.failed and [r.id for r in read_log(log.path).records] == [1, 2, 3, 4]


@pytest.mark.parametrize("kind", ["symlink", "world-writable", "someone-else"])
def test_an_unsafe_folder_is_refused_with_one_line_and_records_stay_in_memory(
    tmp_path: Path, kind: str
) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    folder = tmp_path / ".jupyter_carbon"
    if kind == "symlink":
        folder.symlink_to(target)
    else:
        folder.mkdir(mode=0o700)
        if kind == "world-writable":
            folder.chmod(0o777)
        elif os.getuid() == 0:
            os.chown(folder, 65534, 65534)
        else:
            pytest.skip("changing a folder's owner needs root")
    problems: list[str] = []
    log = SessionLog(folder, on_problem=problems.append)
    assert not log.append(make_record(1)) and not log.append(make_record(2))
    assert (
        len(problems) == 1
        and "not writing the session log" in problems[0]
        and str(folder) in problems[0]
    )
    assert "log_dir=PATH" in problems[0] and "%carbon export" in problems[0]
    assert list(target.iterdir()) == [] and log.pending == 2


def test_a_log_file_swapped_for_a_symlink_is_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    log = SessionLog(tmp_path / "logs")
    log.append(make_record(1))
    log.close()  # %unload_ext
    first = log.path
    first.unlink()
    first.symlink_to(victim)  # someone swaps the file for a link to a file the user can write
    log.append(make_record(2))  # %load_ext again: the log is reopened
    assert victim.read_text() == "precious\n"
    assert log.path != first and [r.id for r in read_log(log.path).records] == [2]


def test_a_deleted_log_folder_is_recreated_with_the_whole_session_and_said_once(
    tmp_path: Path,
) -> None:
    session = FakeSession(tmp_path / "logs")
    session.records = []
    now = [0.0]
    log = attach_log(session, clock=lambda: now[0])
    for i in (1, 2):
        session.records.append(make_record(i))
        session.close(session.records[-1])
    shutil.rmtree(tmp_path / "logs")  # git clean -fdx while the kernel runs
    for i in (3, 4):  # within a second: not checked yet, the lines go to the deleted file …
        session.records.append(make_record(i))
        session.close(session.records[-1])
    assert not log.path.exists() and session.problems == []
    now[0] += (
        log.deleted_check_s
    )  # … noticed at the first record a second later: the whole session again
    session.records.append(make_record(5))
    session.close(session.records[-1])
    assert [r.id for r in read_log(log.path).records] == [1, 2, 3, 4, 5]
    assert len(session.problems) == 1 and "was deleted" in session.problems[0]
    now[0] += log.deleted_check_s
    second = log.path
    second.unlink()  # deleted again: noticed again (one line naming that file), written again whole
    session.records.append(make_record(6))
    session.close(session.records[-1])
    assert [r.id for r in read_log(log.path).records] == [1, 2, 3, 4, 5, 6]
    assert len(session.problems) == 2 and str(second) in session.problems[1]


def test_a_log_truncated_from_outside_keeps_taking_records(tmp_path: Path) -> None:
    log = SessionLog(tmp_path)
    log.append(make_record(1))
    with open(log.path, "r+b") as handle:  # logrotate's copytruncate, or ': > file'
        handle.truncate(0)
    assert log.append(make_record(2)) and log.append(make_record(3))
    assert [r.id for r in read_log(log.path).records] == [2, 3]


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")


@pytest.mark.slow
def test_a_full_disk_keeps_records_waiting_and_writes_them_when_there_is_room(
    tmp_path: Path,
) -> None:
    disk = tmp_path / "small"
    _mount_tmpfs(disk, "64k")
    try:
        problems: list[str] = []
        log = SessionLog(disk / "logs", on_problem=problems.append)
        log.retry_s = 0.0
        assert log.append(make_record(1))
        filler = disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 512):
                pass
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        for i in range(2, 6):
            assert not log.append(make_record(i, points=400))  # ~10 kB: new pages, none free
        assert log.pending == 4 and len(problems) == 1 and "wait in memory" in problems[0]
        filler.unlink()
        assert log.append(make_record(6))
        assert [r.id for r in read_log(log.path).records] == [1, 2, 3, 4, 5, 6] and log.pending == 0
        assert "written again" in problems[-1] and len(problems) == 2
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.slow
def test_a_read_only_filesystem_warns_once(tmp_path: Path) -> None:
    disk = tmp_path / "ro"
    _mount_tmpfs(disk, "1m")
    try:
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        problems: list[str] = []
        log = SessionLog(disk / "logs", on_problem=problems.append)
        assert not log.append(make_record(1)) and not log.append(make_record(2))
        assert len(problems) == 1 and "Read-only file system" in problems[0]
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_fifo_among_the_logs_does_not_block_readers(tmp_path: Path) -> None:
    log = SessionLog(tmp_path)
    log.append(make_record(1))
    os.mkfifo(tmp_path / "session-20000101T000000Z-1-000000.jsonl")
    contents = read_logs(
        log_files(tmp_path) + [tmp_path / "session-20000101T000000Z-1-000000.jsonl"]
    )
    assert sum(len(c.records) for c in contents) == 1
    assert any("not a regular file" in note for c in contents for note in c.notes)


_WRITER = textwrap.dedent(
    """
    import os, sys
    from jupyter_carbon.storage.log import SessionLog, record_line, _write_line, _APPEND
    from storage_helpers import make_record
    folder, shared, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    log = SessionLog(folder)
    fd = os.open(shared, _APPEND | os.O_CREAT, 0o600)
    for i in range(1, n + 1):
        record = make_record(i, points=400, writer=os.getpid())  # ~10 kB per line
        log.append(record)  # its own file
        _write_line(fd, record_line(record))  # the same write, on one file shared by both
    """
)


@pytest.mark.slow
def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    n = 300
    shared = tmp_path / "logs" / "shared.jsonl"
    shared.parent.mkdir(mode=0o700)
    env = child_env(tests=True)
    procs = [
        subprocess.Popen(
            [PYTHON, "-c", _WRITER, str(tmp_path / "logs"), str(shared), str(n)], env=env
        )
        for _ in range(2)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    lines = shared.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 2 * n + 1
    writers = [json.loads(line)["extra"]["writer"] for line in lines[:-1]]  # every line parses
    assert sorted(set(writers)) == sorted(p.pid for p in procs)
    files = log_files(tmp_path / "logs")
    assert len(files) == 2  # one file per session, side by side in one folder
    for f in files:
        contents = read_log(f)
        assert len(contents.records) == n and contents.notes == []


def test_a_forked_child_writes_its_own_file_and_leaves_the_parents_alone(tmp_path: Path) -> None:
    log = SessionLog(tmp_path)
    log.append(make_record(1))
    parent_file = log.path
    pid = os.fork()
    if pid == 0:  # the child: a record of its own, then exit without cleanup
        try:
            log.append(make_record(2))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    log.append(make_record(3))
    assert [r.id for r in read_log(parent_file).records] == [1, 3]
    others = [p for p in log_files(tmp_path) if p != parent_file]
    assert len(others) == 1 and [r.id for r in read_log(others[0]).records] == [2]


def test_history_lists_sessions_with_totals(tmp_path: Path, capsys) -> None:
    a = SessionLog(tmp_path)
    a.append(make_record(1))
    a.append(make_record(2, status="error"))
    b = SessionLog(tmp_path)
    b.append(make_record(3))
    summaries = list_sessions(tmp_path)
    assert sorted(s.totals.outer_windows for s in summaries) == [1, 2]
    first = next(s for s in summaries if s.path == a.path)
    assert first.errors == 1
    assert first.totals.energy_j == pytest.approx(make_record(1).energy_j + make_record(2).energy_j)
    session = FakeSession(tmp_path)
    print_history(session)
    out = capsys.readouterr().out
    assert "2 sessions" in out and out.count("\n") >= 4
    assert "no earlier sessions" in format_history([], folder=tmp_path)


# --- a real kernel --------------------------------------------------------------------------------


def _run(kc, code: str, outputs: list[str]) -> dict:
    def hook(msg: dict) -> None:
        content = msg["content"]
        if msg["msg_type"] == "stream":
            outputs.append(content["text"])
        elif msg["msg_type"] == "error":
            outputs.append(content["ename"] + ": " + content["evalue"])

    return kc.execute_interactive(code, timeout=60, output_hook=hook)["content"]


@pytest.mark.slow
def test_kernel_killed_with_sigkill_loses_no_closed_record(tmp_path: Path) -> None:
    pytest.importorskip("jupyter_client")
    logs = tmp_path / "logs"
    with real_kernel(logs, tmp_path, load=False) as (km, kc):
        out: list[str] = []
        _run(
            kc, "import os, jupyter_carbon; print(jupyter_carbon.__file__); print(os.getpid())", out
        )
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
        assert ": 1 session\n" in "".join(out) and "this session" in "".join(out), out
        _run(kc, "%carbon config store_source=true", out)
        _run(kc, 'opted_in = "visible source"', out)
        kc.execute("import time; time.sleep(60)")  # measured, still open when the kernel dies
        time.sleep(1.0)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while km.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
    files = log_files(logs)
    assert len(files) == 1
    contents = read_log(files[0])
    assert contents.notes == []
    # the three cells after %carbon on and the opted-in one, all closed before the kill (cells that
    # are only a %carbon line — export, history, config — are not measured)
    statuses = [r.status for r in contents.records]
    assert len(contents.records) == 4 and statuses[:3] == ["ok", "ok", "error"]
    assert (
        contents.records[-1].extra["source"] == 'opted_in = "visible source"'
    )  # the explicit opt-in
    assert all("source" not in r.extra for r in contents.records[:-1])
    assert contents.header["pid"] == pid
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert b"sk-SECRET" not in files[0].read_bytes()  # no cell source by default
    assert files[0].read_bytes().endswith(b"\n")  # every closed record's line whole, never closed


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 11, 30, 15, 0, 0, 0, tzinfo=timezone.utc),  # no microseconds: none written
        datetime(2024, 5, 1, 12, 0, 0, 123457, tzinfo=timezone.utc),
        datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=timezone.utc),
        datetime(2026, 3, 1, 9, 30, 0, 7, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    ],
)
def test_a_log_line_is_the_records_dict_with_the_same_time_text(when: datetime) -> None:
    """The log lets orjson write the datetimes (record_line): the text must be isoformat()'s."""
    record = dataclasses.replace(
        make_record(1, loop={"predicted_j": 5.0}),
        start_utc=when,
        end_utc=when + timedelta(seconds=2),
        intensity_utc=when,
    )
    line = record_line(record)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {"type": "record", **json.loads(json.dumps(record.to_dict()))}
    assert json.loads(line)["start_utc"] == when.isoformat()


def test_twenty_thousand_records_json_cannot_hold_say_so_once(tmp_path: Path) -> None:
    """An object in ``extra`` of 20,000 records: ONE line (not 20,000), appends as fast as for
    records that are logged, and the export that line recommends writes them all."""
    from jupyter_carbon.storage.export import export_records, load_records

    problems: list[str] = []
    log = SessionLog(tmp_path / "logs", on_problem=problems.append)
    bad = [make_record(i, thing=object()) for i in range(1, 20_001)]
    good = [make_record(i) for i in range(1, 20_001)]
    started = time.perf_counter()
    assert not any(log.append(r) for r in bad)
    bad_s = time.perf_counter() - started
    started = time.perf_counter()
    assert all(log.append(r) for r in good)
    good_s = time.perf_counter() - started
    assert len(problems) == 1 and "%carbon export PATH.json" in problems[0], problems[:3]
    assert bad_s < 2 * good_s + 0.5, (bad_s, good_s)
    export_records(bad, tmp_path / "kept.json")
    kept = load_records(tmp_path / "kept.json")
    assert [r.id for r in kept] == [r.id for r in bad]
    assert kept[0].extra["thing"].startswith("<object object at")


def test_the_log_records_the_settings_in_force(tmp_path: Path, clock) -> None:
    """%carbon config region=…/intensity=… after load replaces the session's Config: the log's
    header has the settings of its creation, a settings line each later change, and a reader the
    settings in force; lines of a type it does not know are not 'unreadable'."""
    from fakes import constant_session

    from jupyter_carbon.storage.log import attach_log

    session = constant_session(clock, cpu=10.0, log_dir=str(tmp_path), region="FR")
    log = attach_log(session)
    try:
        session.stop(session.open("a"))
        session.configure(region="DE")
        session.stop(session.open("b"))
        session.stop(session.open("c"))  # nothing changed: no new settings line
        session.configure(intensity="100")
        session.stop(session.open("d"))
    finally:
        session.shutdown()
    lines = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert [line["type"] for line in lines] == [
        "session",
        "record",
        "settings",
        "record",
        "record",
        "settings",
        "record",
    ]
    assert lines[0]["config"]["region"] == "FR"
    assert lines[2]["config"]["region"] == "DE" and lines[5]["config"]["intensity"] == 100.0
    contents = read_log(log.path)
    assert contents.in_force["region"] == "DE" and contents.in_force["intensity"] == 100.0
    assert [r.label for r in contents.records] == ["a", "b", "c", "d"] and not contents.notes
    assert [r.region for r in contents.records] == ["FR", "DE", "DE", "DE"]


@pytest.mark.slow
def test_a_child_leaving_its_parents_track_logs_no_phantom(tmp_path: Path) -> None:
    """A child forked inside ``with track()`` that exits (sys.exit unwinds the with-block in the
    child too): the parent's window is logged once, by the parent."""
    script = textwrap.dedent(
        """
        import os, sys
        from fakes import constant_session
        import jupyter_carbon as jc
        from jupyter_carbon.storage.log import attach_log
        session = constant_session(cpu=10.0, log_dir=sys.argv[1])
        attach_log(session)
        with jc.track("parent", session=session):
            pid = os.fork()
            if pid == 0:
                sys.exit(0)
            os.waitpid(pid, 0)
        session.shutdown()
        """
    )
    done = subprocess.run(
        [PYTHON, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        env=child_env(tests=True),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    records = [r for c in read_logs(log_files(tmp_path)) for r in c.records]
    assert [(r.label, r.status) for r in records] == [("parent", "ok")]
