"""The crash-safe session log: one JSON-lines file per kernel session.

Format (``LOG_SCHEMA`` 2), one JSON object per line, UTF-8:

* first line ``{"type": "session", "log_schema": 2, "session_id", "start_utc", "pid",
  "hostname", "jupyter_carbon", "python", "config": {...}}`` — the configuration holds no
  secrets (tokens stay in the environment and are never read here);
* then per closed record one ``{"type": "cell", ...}`` line, after a ``{"type": "shape", ...}``
  line the first time its strings, devices, intensity and PUE occur (see ``compact``: the
  numbers are packed, lossless, for speed). A cell's source is in ``extra["source"]`` only when
  ``store_source`` was on (an explicit opt-in: cells often hold tokens). Schema 1 logs (one
  ``{"type": "record", **record_to_dict(record)}`` line per record) are still read.

File name: ``session-<UTC start YYYYmmddTHHMMSSZ>-<pid>-<6 hex>.jsonl`` in the folder of
``config.log_dir`` (default ``.jupyter_carbon/`` in the working directory). Folder mode 0700,
file mode 0600.

Crash safety: as soon as a record closes, its line is copied into a shared memory mapping of the
file (``MAP_SHARED``: the bytes are the kernel's page cache, no system call per record). The page
cache outlives the process, so a kernel killed with SIGKILL loses no closed record. The file grows
in chunks (``SessionLog.chunk_bytes``, 256 KiB) whose disk blocks are reserved with
``posix_fallocate`` before they are mapped, so a full disk or quota is an ``OSError`` at growth
time, never a SIGBUS while a record is copied. A clean close (``close()``, ``%unload_ext``, a
change of ``log_dir``, interpreter exit) cuts the file back to its last line; after a crash the
file ends with NUL padding (up to one chunk) after its last line, which ``read_log`` ignores. Log
files are never modified by readers: a crashed session's padding stays (a live writer cannot be
told from a dead one safely, and cutting a file under a live mapping kills its writer with SIGBUS).
Where mapping is not possible (no ``posix_fallocate``, as on macOS and Windows, or a file system
that cannot preallocate or map), each line is written instead by ONE ``os.write`` on an
``O_APPEND`` descriptor, with the same crash safety. A partly copied line (the kernel died in the
middle of it) is skipped as a torn last line. Each session has its own file, so two writers never
interleave; a forked child starts its own file and never writes to, cuts or syncs its parent's.
Cutting a running session's file from outside (``truncate``, ``: > file``) kills that kernel
with SIGBUS at its next record: leave a live session's file alone (copying or reading it is fine).

fsync policy: the file and its folder are fsynced when the file is created (the file's name
survives a power cut) and the file again on ``close()``; records are NOT synced one by one by
default — SIGKILL does not need it, and an fsync per cell would add milliseconds to every cell on
network home folders (common on JupyterHub). Pass ``fsync_records=True`` to trade that latency
for power-cut durability of every record (``msync`` of the record's pages, or ``fsync``).

Any ``OSError`` (read-only or full disk, a path through a regular file …) gives ONE problem line
and the log stops; the session keeps its records in memory. Changing ``log_dir`` starts a fresh
file there (and tries again).
"""

from __future__ import annotations

import atexit
import errno
import json
import mmap
import os
import socket
import sys
import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from ..record import CellRecord
from ..serialize import record_from_dict
from .compact import Shapes, read_cell, read_shape

__all__ = ["LOG_SCHEMA", "LOG_SUFFIX", "SessionLog", "LogContents", "attach_log", "detach_log", "get_log", "read_log", "read_logs", "log_files", "merged", "LogTail"]

LOG_SCHEMA = 2
LOG_SUFFIX = ".jsonl"
_SECRET_WORDS = ("token", "secret", "password", "api_key", "apikey", "auth")
_FLAGS = os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)  # the os.write fallback
_MAP_FLAGS = os.O_RDWR | getattr(os, "O_CLOEXEC", 0)  # a shared writable mapping needs read access
_PAGE_BYTES = mmap.ALLOCATIONGRANULARITY  # mapping offsets are multiples of this
# Prefault a new chunk writable so that copying a record takes no page fault (Linux >= 5.14; the
# constant is missing from Python < 3.13's mmap module).
_MADV_POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE", 23 if sys.platform.startswith("linux") else None)
# posix_fallocate errors that mean "not supported here" (fall back to os.write), not "no space".
_UNSUPPORTED = {errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENOSYS, errno.ENODEV}


def _stderr(text: str) -> None:
    print(f"jupyter_carbon: {text}", file=sys.stderr)


def public_config(config: Any) -> dict[str, Any]:
    """``config`` as a dict without anything that looks like a secret."""
    values = config.as_dict() if hasattr(config, "as_dict") else dict(config)
    return {k: v for k, v in values.items() if not any(word in k.lower() for word in _SECRET_WORDS)}


class SessionLog:
    """Appends records to this session's file; never raises into the caller.

    ``folder`` is a path or a callable returning one (read at each append, so a change of
    ``log_dir`` takes effect); ``on_problem`` receives the one-line warning (default: stderr).
    ``chunk_bytes`` is how much the file grows at a time (rounded up to whole pages).
    """

    chunk_bytes = 256 * 1024

    def __init__(self, folder: str | os.PathLike | Callable[[], Any], *, config: Any = None, on_problem: Callable[[str], Any] | None = None, fsync_records: bool = False, now: Callable[[], datetime] | None = None) -> None:
        self._folder_fn = folder if callable(folder) else (lambda: folder)
        self.config = config
        self.on_problem = on_problem or _stderr
        self.fsync_records = fsync_records
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._mapped = False  # this file's records go through _map (else os.write)
        self._map: mmap.mmap | None = None  # the window [_map_start, _map_end) of the file
        self._map_start = self._map_end = 0
        self._end = 0  # the file's logical end (a mapped file is longer: reserved room)
        self._pid = os.getpid()
        self._folder_key: str | None = None
        self.path: Path | None = None
        self._shapes = Shapes()  # what this file already says once
        self.failed = False
        self.written = 0

    # --- writing ---------------------------------------------------------------------------------

    def append(self, record: CellRecord) -> bool:
        """Write ``record`` as one line; False (after one warning) when the log cannot be written."""
        with self._lock:
            folder = self._folder_fn()
            if folder is None:  # log_dir=none: the user keeps records in memory only
                return False
            folder = str(folder)
            if folder != self._folder_key or self._pid != os.getpid():
                self._switch(folder)
            if self.failed:
                return False
            try:
                if self._fd is None:
                    self._open()
                line = self._shapes.lines(record)
                end = self._end + len(line)
                if self._mapped and (end <= self._map_end or self._map_room(end)):
                    self._copy(line, end)
                else:
                    _write_line(self._fd, line)
                    if self.fsync_records:
                        os.fsync(self._fd)
            except OSError as exc:
                self._fail(exc)
                return False
            except (TypeError, ValueError) as exc:  # a value JSON cannot hold (e.g. an object in extra)
                self.on_problem(f"could not log record {record.id} ({exc}); it stays in memory")
                return False
            self.written += 1
            return True

    def _switch(self, folder: str) -> None:
        self._close_fd()
        if self._pid != os.getpid():  # a forked child: its own file
            self._pid, self.path = os.getpid(), None
        elif self._folder_key is not None:
            self.path = None  # log_dir changed: a fresh file in the new folder
        self._folder_key = folder
        self.failed = False

    def _copy(self, line: bytes, end: int) -> None:
        """One memcpy into the mapping (which has room up to ``end``)."""
        first = self._end - self._map_start
        last = end - self._map_start
        self._map[first:last] = line
        self._end = end
        if self.fsync_records:
            first -= first % _PAGE_BYTES
            self._map.flush(first, last - first)

    def _map_room(self, end: int) -> bool:
        """Map a window from the page holding the logical end to at least ``end``, its blocks
        reserved first; False (after switching this file to os.write) where that is unsupported.
        Raises OSError for a full disk and the like."""
        start = self._end - self._end % _PAGE_BYTES
        length = max(self.chunk_bytes, end - start)
        length += -length % _PAGE_BYTES
        self._unmap()
        try:
            os.posix_fallocate(self._fd, start, length)
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED:
                raise
            return self._stop_mapping()
        try:
            window = mmap.mmap(self._fd, length, offset=start, access=mmap.ACCESS_WRITE)
        except (OSError, ValueError):
            return self._stop_mapping()
        if _MADV_POPULATE_WRITE is not None and hasattr(window, "madvise"):
            try:
                window.madvise(_MADV_POPULATE_WRITE)
            except OSError as exc:
                if exc.errno == errno.EFAULT:  # touching these pages would raise SIGBUS
                    window.close()
                    return self._stop_mapping()
                # EINVAL: a kernel older than 5.14; the first record on each page faults it in
        self._map, self._map_start, self._map_end = window, start, start + length
        return True

    def _stop_mapping(self) -> bool:
        """Continue this file with os.write: cut off the reserved room, append from there."""
        os.ftruncate(self._fd, self._end)
        os.close(self._fd)
        self._fd = None  # nothing left to close if the reopen fails
        self._fd = os.open(self.path, _FLAGS)
        self._mapped = False
        return False

    def _unmap(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map, self._map_start, self._map_end = None, 0, 0

    def _open(self) -> int:
        self._shapes = Shapes()  # a reopened file says its shapes again: cheap, and safe whatever happened to it
        can_map = hasattr(os, "posix_fallocate")
        if self.path is not None:  # re-attached after %unload_ext: keep appending to the same file
            if not can_map:
                self._fd = os.open(self.path, _FLAGS)
                return self._fd
            fd = os.open(self.path, _MAP_FLAGS)
            try:
                self._end, complete = _data_end(fd)
                if not complete:  # a torn line (a crash): keep it on a line of its own
                    os.pwrite(fd, b"\n", self._end)
                    self._end += 1
            except OSError:
                os.close(fd)
                raise
            self._fd, self._mapped = fd, True
            _open_logs.add(self)
            return fd
        folder = Path(self._folder_key or ".").expanduser().absolute()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        start = self._now()
        session_id = f"{start.strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}-{os.urandom(3).hex()}"
        path = folder / f"session-{session_id}{LOG_SUFFIX}"
        fd = os.open(path, (_MAP_FLAGS if can_map else _FLAGS) | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            header = _dumps(self._header(session_id, start))
            _write_line(fd, header)
            os.fsync(fd)
            _fsync_folder(folder)
        except OSError:
            os.close(fd)
            raise
        self._fd, self.path, self._end, self._mapped = fd, path, len(header), can_map
        _open_logs.add(self)
        return fd

    def _header(self, session_id: str, start: datetime) -> dict[str, Any]:
        from .. import __version__

        return {
            "type": "session",
            "log_schema": LOG_SCHEMA,
            "session_id": session_id,
            "start_utc": start.isoformat(),
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "jupyter_carbon": __version__,
            "python": sys.version.split()[0],
            "config": public_config(self.config) if self.config is not None else {},
        }

    def _fail(self, exc: OSError) -> None:
        self._close_fd()
        self.failed = True
        reason = exc.strerror or type(exc).__name__
        self.on_problem(
            f"cannot write the session log in {self._folder_key} ({reason}); measuring continues in memory — "
            "choose a writable folder with %carbon config log_dir=PATH, or save with %carbon export PATH.json"
        )

    def _close_fd(self) -> None:
        """Unmap, cut the file to its logical end, fsync, close. A forked child only drops its
        copies: the file is its parent's."""
        self._unmap()
        if self._fd is not None:
            if self._pid == os.getpid():
                try:
                    if self._mapped:
                        os.ftruncate(self._fd, self._end)
                    os.fsync(self._fd)
                except OSError:
                    pass
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None
        self._mapped = False

    def close(self) -> None:
        """fsync and close the file; a later ``append`` reopens it. Idempotent."""
        with self._lock:
            self._close_fd()


def _dumps(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _write_line(fd: int, line: bytes) -> None:
    """One ``os.write`` per line: with O_APPEND the line lands whole at the end of the file."""
    written = os.write(fd, line)
    if written != len(line):  # a full disk can cut a write short; the reader skips the torn line
        raise OSError(28, f"short write ({written} of {len(line)} bytes)")


def _data_end(fd: int) -> tuple[int, bool]:
    """Where a file's data ends (after its last non-NUL byte), and whether it ends a line."""
    end = os.fstat(fd).st_size
    while end > 0:
        start = max(0, end - 65536)
        block = os.pread(fd, end - start, start).rstrip(b"\0")
        if block:
            return start + len(block), block.endswith(b"\n")
        end = start
    return 0, True


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- attaching to a session ------------------------------------------------------------------------

_logs: dict[int, SessionLog] = {}
_open_logs: weakref.WeakSet[SessionLog] = weakref.WeakSet()  # closed cleanly at interpreter exit


@atexit.register
def _close_open_logs() -> None:
    for log in list(_open_logs):
        if log._pid == os.getpid():  # a forked child exiting leaves its parent's file alone
            log.close()


def attach_log(session: Any, **options: Any) -> SessionLog:
    """Log every record ``session`` closes from now on (idempotent; re-attaching reuses the file)."""
    log = _logs.get(id(session))
    if log is None:
        log = SessionLog(lambda: session.config.log_dir, config=session.config, on_problem=session.problem, **options)
        _logs[id(session)] = log
    if log.append not in session.on_record:
        session.on_record.append(log.append)
    return log


def detach_log(session: Any) -> None:
    """Stop logging ``session`` and close the file (kept for a later ``attach_log``)."""
    log = _logs.get(id(session))
    if log is None:
        return
    while log.append in session.on_record:
        session.on_record.remove(log.append)
    log.close()


def get_log(session: Any) -> SessionLog | None:
    return _logs.get(id(session))


# --- reading ---------------------------------------------------------------------------------------


@dataclass
class LogContents:
    path: Path
    header: dict[str, Any] = field(default_factory=dict)
    records: list[CellRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def start_utc(self) -> datetime | None:
        text = self.header.get("start_utc")
        if text:
            return datetime.fromisoformat(text)
        return self.records[0].start_utc if self.records else None


def read_log(path: str | os.PathLike) -> LogContents:
    """Header, records and notes of one log file; raises OSError when it cannot be read.

    A torn last line (the kernel died while writing, or a full disk) is skipped with a note, as is
    any other unreadable line. The NUL padding that ends the file of a session that did not close
    (a crash, or a session still running) is ignored.
    """
    path = Path(path)
    data = path.read_bytes().rstrip(b"\0")
    out = LogContents(path)
    lines = data.split(b"\n")
    torn_tail = lines[-1] != b""  # a complete file ends with a newline
    shapes: dict[int, dict[str, Any]] = {}
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            kind, value = _parse_line(raw, shapes)
        except (ValueError, TypeError, KeyError) as exc:
            if number == len(lines) and torn_tail:
                out.notes.append(f"{path.name}: skipped a torn last line (the kernel stopped while writing it)")
            else:
                out.notes.append(f"{path.name}: skipped unreadable line {number} ({type(exc).__name__})")
            continue
        if kind == "session":
            out.header = value
        elif kind == "record":
            out.records.append(value)
    return out


def _parse_line(raw: bytes, shapes: dict[int, dict[str, Any]]) -> tuple[Any, Any]:
    """("session", the header), ("record", a CellRecord) or (another type, the object) of one log
    line, given the file's shapes so far (a shape line adds to them); raises ValueError, TypeError
    or KeyError."""
    obj = json.loads(raw.decode("utf-8"))
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    kind = obj.get("type")
    if kind == "cell":
        return "record", read_cell(obj, shapes)
    if kind == "shape":
        read_shape(obj, shapes)
    elif kind == "record":  # schema 1
        return kind, record_from_dict(obj)
    return kind, obj


class LogTail:
    """The records appended to a folder's logs since the previous call: for progress displays,
    which must not parse the whole log again after every cell. Incomplete and unreadable lines
    are left to :func:`read_log`."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = folder
        self._read_to: dict[Path, int] = {}
        self._shapes: dict[Path, dict[int, dict[str, Any]]] = {}

    def new_records(self) -> list[CellRecord]:
        out = []
        for path in log_files(self.folder):
            start = self._read_to.get(path, 0)
            try:
                with open(path, "rb") as handle:
                    handle.seek(start)
                    data = handle.read().rstrip(b"\0")
            except OSError:
                continue
            end = data.rfind(b"\n") + 1  # complete lines only: the next call reads the rest
            self._read_to[path] = start + end
            shapes = self._shapes.setdefault(path, {})
            for raw in data[:end].split(b"\n"):
                try:
                    kind, value = _parse_line(raw, shapes) if raw.strip() else (None, None)
                except (ValueError, TypeError, KeyError):
                    continue
                if kind == "record":
                    out.append(value)
        return out


def merged(contents: Iterable[LogContents]) -> tuple[list[CellRecord], list[str]]:
    """The records and notes of several logs, in order."""
    records: list[CellRecord] = []
    notes: list[str] = []
    for c in contents:
        records += c.records
        notes += c.notes
    return records, notes


def log_files(folder: str | os.PathLike) -> list[Path]:
    """The session logs in ``folder``, oldest first (names start with the UTC start time)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith("session-") and p.suffix == LOG_SUFFIX and p.is_file())


def read_logs(paths: Iterable[str | os.PathLike]) -> list[LogContents]:
    """Every readable log of ``paths``; an unreadable file becomes a note on an empty entry."""
    out = []
    for p in paths:
        try:
            out.append(read_log(p))
        except OSError as exc:
            out.append(LogContents(Path(p), notes=[f"{Path(p).name}: not readable ({exc.strerror or exc})"]))
    return out
