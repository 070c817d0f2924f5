"""The session log's mapped path: records copied into a shared mapping of the file, which grows in
chunks reserved with posix_fallocate; NUL padding after a crash; the os.write fallback."""

from __future__ import annotations

import errno
import mmap
import os
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

from jupyter_carbon.storage import log as log_module
from jupyter_carbon.storage.compact import Shapes
from jupyter_carbon.storage.log import SessionLog, read_log
from storage_helpers import PYTHON, child_env, make_record

pytestmark = pytest.mark.skipif(not hasattr(os, "posix_fallocate"), reason="the mapped path needs posix_fallocate")

CHUNK_BYTES = 4096  # one page: a few records per chunk, a large record spans several


def small_chunks(tmp_path: Path, **options) -> SessionLog:
    log = SessionLog(tmp_path, **options)
    log.chunk_bytes = CHUNK_BYTES
    return log


def varied_records(n: int) -> list:
    """~1 kB records with a ~5.5 kB one (wider than a chunk) every seventh."""
    return [make_record(i, points=400 if i % 7 == 0 else 3 + i % 5) for i in range(1, n + 1)]


def line_spans(data: bytes) -> list[tuple[int, int]]:
    spans, start = [], 0
    for line in data.split(b"\n")[:-1]:
        spans.append((start, start + len(line) + 1))
        start += len(line) + 1
    return spans


def fail_with(code: int):
    def fallocate(fd: int, offset: int, length: int) -> None:
        raise OSError(code, os.strerror(code))

    return fallocate


def test_records_across_chunks_read_back_and_close_cuts_the_padding(tmp_path: Path) -> None:
    log = small_chunks(tmp_path)
    records = varied_records(30)
    for r in records:
        assert log.append(r)
    assert log._mapped and log._map is not None  # the records went through the mapping
    logical = log._end
    open_size = log.path.stat().st_size
    assert open_size > logical and open_size % CHUNK_BYTES == 0  # reserved room while open
    data = log.path.read_bytes()
    assert data[logical:] == b"\0" * (open_size - logical)
    spans = line_spans(data[:logical])[1:]  # after the header
    assert any(start // CHUNK_BYTES != (end - 1) // CHUNK_BYTES for start, end in spans)  # straddles
    assert any(end - start > CHUNK_BYTES for start, end in spans)  # wider than a chunk
    assert read_log(log.path).records == records and read_log(log.path).notes == []
    log.close()
    data = log.path.read_bytes()
    assert len(data) == logical and b"\0" not in data and data.endswith(b"\n")
    assert read_log(log.path).records == records


_KILLED = textwrap.dedent(
    """
    import sys, time
    from jupyter_carbon.storage.log import SessionLog
    from test_storage_mmap import small_chunks, varied_records
    log = small_chunks(sys.argv[1])
    for record in varied_records(int(sys.argv[2])):
        assert log.append(record)
    assert log._mapped
    print(log.path, flush=True)
    time.sleep(60)
    """
)


def test_sigkill_loses_no_record_written_through_the_mapping(tmp_path: Path) -> None:
    n = 40
    env = child_env(tests=True)
    proc = subprocess.Popen([PYTHON, "-c", _KILLED, str(tmp_path), str(n)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        path = Path(proc.stdout.readline().strip())
    finally:
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        proc.stdout.close()
    data = path.read_bytes()
    assert data.endswith(b"\0") and data.rstrip(b"\0").endswith(b"\n")  # NUL padding after the last line
    contents = read_log(path)
    assert contents.records == varied_records(n) and contents.notes == []
    assert contents.header["pid"] == proc.pid


def test_reopen_appends_after_the_last_line(tmp_path: Path) -> None:
    log = small_chunks(tmp_path)
    for i in (1, 2):
        log.append(make_record(i))
    log.close()
    log.append(make_record(3))  # re-attached after a clean close
    log.close()
    assert [r.id for r in read_log(log.path).records] == [1, 2, 3]
    with open(log.path, "ab") as handle:  # as after a crash: NUL padding, more than a chunk
        handle.write(b"\0" * (3 * CHUNK_BYTES + 100))
    log.append(make_record(4))
    log.close()
    data = log.path.read_bytes()
    assert b"\0" not in data
    contents = read_log(log.path)
    assert [r.id for r in contents.records] == [1, 2, 3, 4] and contents.notes == []


def test_reopen_after_a_torn_line_keeps_the_fragment_on_its_own_line(tmp_path: Path) -> None:
    log = small_chunks(tmp_path)
    log.append(make_record(1))
    log.close()
    line = Shapes().lines(make_record(2))  # its shape line and its cell line
    fragment = log.path.read_bytes().count(b"\n") + 1
    with open(log.path, "ab") as handle:  # the kernel died in the middle of copying them
        handle.write(line[:60] + b"\0" * 2000)
    torn = read_log(log.path)
    assert [r.id for r in torn.records] == [1] and len(torn.notes) == 1 and "torn last line" in torn.notes[0]
    log.append(make_record(3))
    log.close()
    contents = read_log(log.path)
    assert [r.id for r in contents.records] == [1, 3]
    assert contents.notes == [f"{log.path.name}: skipped unreadable line {fragment} (JSONDecodeError)"]


def test_a_forked_child_writes_its_own_file_and_leaves_the_parents_alone(tmp_path: Path) -> None:
    log = small_chunks(tmp_path)
    for i in (1, 2):
        log.append(make_record(i))
    parent_path, before = log.path, log.path.read_bytes()
    assert before.endswith(b"\0")  # mapped, with reserved room that a child must not cut
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            log.close()  # drops the inherited mapping and descriptor only
            ok = log.append(make_record(10)) and log.append(make_record(11))
            log.close()
            os.write(write_end, str(log.path).encode())
            code = 0 if ok else 2
        finally:
            os._exit(code)
    os.close(write_end)
    child_path = Path(os.read(read_end, 4096).decode())
    os.close(read_end)
    assert os.waitpid(pid, 0)[1] == 0
    assert parent_path.read_bytes() == before  # not cut, not written
    child = read_log(child_path)
    assert child_path != parent_path and child.header["pid"] == pid and [r.id for r in child.records] == [10, 11]
    assert log.append(make_record(3))
    log.close()
    assert [r.id for r in read_log(parent_path).records] == [1, 2, 3]


_EXITS = textwrap.dedent(
    """
    import os, sys
    from jupyter_carbon.storage.log import SessionLog
    from storage_helpers import make_record
    log = SessionLog(sys.argv[1])
    for i in (1, 2, 3):
        log.append(make_record(i))
    size = log.path.stat().st_size
    pid = os.fork()
    if pid == 0:
        sys.exit(0)  # the child's interpreter exits: its atexit handlers run
    os.waitpid(pid, 0)
    print(log.path, size, log.path.stat().st_size, flush=True)
    # the parent exits without close(): the atexit handler cuts the padding
    """
)


def test_interpreter_exit_closes_cleanly_and_a_childs_exit_does_not(tmp_path: Path) -> None:
    env = child_env(tests=True)
    out = subprocess.run([PYTHON, "-c", _EXITS, str(tmp_path)], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    path, size_before_child_exit, size_after_child_exit = out.stdout.split()
    assert int(size_before_child_exit) == int(size_after_child_exit) > 0
    data = Path(path).read_bytes()
    assert len(data) < int(size_before_child_exit) and b"\0" not in data
    assert [r.id for r in read_log(path).records] == [1, 2, 3]


def test_full_disk_at_growth_gives_one_problem_and_keeps_earlier_records(tmp_path: Path, monkeypatch) -> None:
    problems: list[str] = []
    log = small_chunks(tmp_path, on_problem=problems.append)
    assert log.append(make_record(1))
    monkeypatch.setattr(os, "posix_fallocate", fail_with(errno.ENOSPC))
    assert not log.append(make_record(2, points=400))  # wider than the room left: must grow
    assert not log.append(make_record(3)) and not log.append(make_record(4))
    assert log.failed and log.written == 1
    assert len(problems) == 1 and "No space left on device" in problems[0]
    data = log.path.read_bytes()
    assert b"\0" not in data  # closed cleanly: cut back to the last line
    contents = read_log(log.path)
    assert contents.records == [make_record(1)] and contents.notes == []


@pytest.mark.parametrize("code", [errno.EOPNOTSUPP, errno.EINVAL])
def test_unsupported_fallocate_falls_back_to_os_write(tmp_path: Path, monkeypatch, code: int) -> None:
    writes: list[bytes] = []
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: writes.append(data) or real_write(fd, data))
    problems: list[str] = []
    records = varied_records(12)
    log = small_chunks(tmp_path, on_problem=problems.append)
    assert log.append(records[0]) and log._mapped and len(writes) == 1  # the header only
    monkeypatch.setattr(os, "posix_fallocate", fail_with(code))
    for r in records[1:]:  # the mapping runs out of room, then os.write from where it stopped
        assert log.append(r)
    assert not log._mapped and len(writes) > 1
    assert b"\0" not in log.path.read_bytes()
    fresh = small_chunks(tmp_path / "fresh", on_problem=problems.append)  # unsupported from the start
    for r in records:
        assert fresh.append(r)
    assert not fresh._mapped and b"\0" not in fresh.path.read_bytes()
    for path in (log.path, fresh.path):
        assert read_log(path).records == records and read_log(path).notes == []
    assert problems == []


def test_mapping_failures_fall_back_to_os_write(tmp_path: Path, monkeypatch) -> None:
    class NoFaultIn(mmap.mmap):
        def madvise(self, *args) -> None:
            raise OSError(errno.EFAULT, "Bad address")  # touching these pages would raise SIGBUS

    def no_mmap(*args, **kwargs):
        raise OSError(errno.ENODEV, "No such device")  # a file system that cannot map files

    problems: list[str] = []
    for name, fake in (("no-mmap", no_mmap), ("no-fault-in", NoFaultIn)):
        monkeypatch.setattr(log_module.mmap, "mmap", fake)
        log = small_chunks(tmp_path / name, on_problem=problems.append)
        records = varied_records(9)
        for r in records:
            assert log.append(r)
        assert not log._mapped and log._map is None
        assert b"\0" not in log.path.read_bytes()  # the reserved room was cut off
        assert read_log(log.path).records == records
    assert problems == []


def test_without_posix_fallocate_the_log_uses_os_write(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delattr(os, "posix_fallocate")  # macOS, Windows
    log = small_chunks(tmp_path)
    records = varied_records(5)
    for r in records:
        assert log.append(r)
    assert not log._mapped and b"\0" not in log.path.read_bytes()
    log.close()
    log.append(make_record(6))  # re-attached
    assert read_log(log.path).records == records + [make_record(6)]


def test_fsync_records_syncs_each_record_through_the_mapping(tmp_path: Path, monkeypatch) -> None:
    flushed: list[tuple[int, int]] = []
    real_flush = mmap.mmap.flush

    class Recording(mmap.mmap):
        def flush(self, offset: int = 0, size: int = 0) -> None:
            flushed.append((offset, size))
            real_flush(self, offset, size)  # the kernel refuses an offset that is not page-aligned

    monkeypatch.setattr(log_module.mmap, "mmap", Recording)
    problems: list[str] = []
    log = small_chunks(tmp_path, fsync_records=True, on_problem=problems.append)
    records = varied_records(15)
    for r in records:
        assert log.append(r)
    assert log._mapped and len(flushed) == len(records) and problems == []
    assert read_log(log.path).records == records
