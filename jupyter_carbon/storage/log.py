"""The crash-safe session log: one JSON-lines file per kernel session.

Format (``LOG_SCHEMA`` 1), one JSON object per line, UTF-8:

* first line ``{"type": "session", "log_schema": 1, "session_id", "start_utc", "pid",
  "hostname", "jupyter_carbon", "python", "config": {...}}`` — the configuration holds no
  secrets (tokens stay in the environment and are never read here);
* then one ``{"type": "record", ...}`` line per closed record: ``record_to_dict`` (lossless,
  read back with ``record_from_dict``). A cell's source is in ``extra["source"]`` only when
  ``store_source`` was on (an explicit opt-in: cells often hold tokens).

File name: ``session-<UTC start YYYYmmddTHHMMSSZ>-<pid>-<6 hex>.jsonl`` in the folder of
``config.log_dir`` (default ``.jupyter_carbon/`` in the working directory). Folder mode 0700,
file mode 0600.

Crash safety: each line is written by ONE ``os.write`` on an ``O_APPEND`` descriptor as soon as
the record closes. The data is then in the kernel's page cache, which outlives the process, so a
kernel killed with SIGKILL loses no closed record; O_APPEND makes every write land whole at the
end of the file, so two writers never interleave (each session has its own file anyway).

fsync policy: the file and its folder are fsynced when the file is created (the file's name
survives a power cut) and the file again on ``close()``; records are NOT fsynced one by one by
default — SIGKILL does not need it, and an fsync per cell would add milliseconds to every cell on
network home folders (common on JupyterHub). Pass ``fsync_records=True`` to trade that latency
for power-cut durability of every record.

Any ``OSError`` (read-only or full disk, a path through a regular file …) gives ONE problem line
and the log stops; the session keeps its records in memory. Changing ``log_dir`` starts a fresh
file there (and tries again).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from ..record import CellRecord
from ..serialize import record_from_dict, record_json

__all__ = ["LOG_SCHEMA", "LOG_SUFFIX", "SessionLog", "LogContents", "attach_log", "detach_log", "get_log", "read_log", "log_files"]

LOG_SCHEMA = 1
LOG_SUFFIX = ".jsonl"
_SECRET_WORDS = ("token", "secret", "password", "api_key", "apikey", "auth")
_FLAGS = os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)


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
    """

    def __init__(self, folder: str | os.PathLike | Callable[[], Any], *, config: Any = None, on_problem: Callable[[str], Any] | None = None, fsync_records: bool = False, now: Callable[[], datetime] | None = None) -> None:
        self._folder_fn = folder if callable(folder) else (lambda: folder)
        self.config = config
        self.on_problem = on_problem or _stderr
        self.fsync_records = fsync_records
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = os.getpid()
        self._folder_key: str | None = None
        self.path: Path | None = None
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
                line = ('{"type":"record",' + record_json(record)[1:] + "\n").encode("utf-8")
                fd = self._fd if self._fd is not None else self._open()
                _write_line(fd, line)
                if self.fsync_records:
                    os.fsync(fd)
            except OSError as exc:
                self._fail(exc)
                return False
            except (TypeError, ValueError) as exc:  # a value JSON cannot hold (e.g. an object in extra)
                self.on_problem(f"could not log record {record.id} ({exc}); it stays in memory")
                return False
            self.written += 1
            return True

    __call__ = append  # usable directly as an ``on_record`` callback

    def _switch(self, folder: str) -> None:
        self._close_fd()
        if self._pid != os.getpid():  # a forked child: its own file
            self._pid, self.path = os.getpid(), None
        elif self._folder_key is not None:
            self.path = None  # log_dir changed: a fresh file in the new folder
        self._folder_key = folder
        self.failed = False

    def _open(self) -> int:
        if self.path is not None:  # re-attached after %unload_ext: keep appending to the same file
            self._fd = os.open(self.path, _FLAGS)
            return self._fd
        folder = Path(self._folder_key or ".").expanduser().absolute()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        start = self._now()
        session_id = f"{start.strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}-{os.urandom(3).hex()}"
        path = folder / f"session-{session_id}{LOG_SUFFIX}"
        fd = os.open(path, _FLAGS | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            _write_line(fd, _dumps(self._header(session_id, start)))
            os.fsync(fd)
            _fsync_folder(folder)
        except OSError:
            os.close(fd)
            raise
        self._fd, self.path = fd, path
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
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError:
                pass
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

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
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        last = number == len(lines)
        try:
            obj = json.loads(raw.decode("utf-8"))
            if not isinstance(obj, dict):
                raise ValueError("not an object")
            kind = obj.get("type")
            if kind == "session":
                out.header = obj
            elif kind == "record":
                out.records.append(record_from_dict(obj))
        except (ValueError, TypeError, KeyError) as exc:
            if last and torn_tail:
                out.notes.append(f"{path.name}: skipped a torn last line (the kernel stopped while writing it)")
            else:
                out.notes.append(f"{path.name}: skipped unreadable line {number} ({type(exc).__name__})")
    return out


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
