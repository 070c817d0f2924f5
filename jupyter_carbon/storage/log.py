"""The crash-safe session log: one JSON-lines file per kernel session, readable with ``jq``.

Format (``LOG_SCHEMA`` 3), one JSON object per line, UTF-8:

* first line ``{"type": "session", "log_schema": 3, "session_id", "start_utc", "pid",
  "hostname", "jupyter_carbon", "python", "config": {...}}`` — the configuration holds no
  secrets (tokens stay in the environment and are never read here);
* a ``{"type": "settings", "utc", "config": {...}}`` line before the first record written after
  a setting that changes the figures (``SETTINGS_IN_FORCE``: region, intensity, live, …) was
  changed: the header's ``config`` is the configuration when the file was created, each settings
  line the one in force from there on (readers that do not know the type skip it);
* then one ``{"type": "record", **record.to_dict()}`` line per closed record (the idle stretches
  between windows too, ``"kind": "idle"``, the last one written when the kernel exits): every figure
  under its plain name (``energy_j``, ``co2e_g``, ``duration_s``, ``devices``, ...). A cell's
  source is in ``extra.source`` only when ``store_source`` is on (cells often hold tokens).

File name: ``session-<UTC start YYYYmmddTHHMMSSZ>-<pid>-<6 hex>.jsonl`` in ``config.log_dir``
(default ``.jupyter_carbon/``). Folders are created 0700, the file 0600.

Crash safety: each line is written by ONE ``os.write`` on an ``O_APPEND`` descriptor as soon as
its record closes, so the page cache holds it even if the kernel is then killed (SIGKILL loses no
closed record); a line cut short by a crash mid-write is skipped by readers. Records are not
fsynced one by one (an fsync per cell costs milliseconds on network home folders); pass
``fsync_records=True`` for power-cut durability. Truncating the file from outside is harmless: the
next line is appended at the new end. A file renamed away (log rotation) is noticed (checked with
the link count) and later records go to a new file at the configured place, with one line saying so.

Safety: the folder must be a real folder (not a symlink) owned by this user and not writable by
others, and the file is opened relative to it with ``O_NOFOLLOW``; otherwise nothing is written,
one line says why and where, and records stay in memory. A file or folder deleted while the
session runs (``git clean -fdx``) is noticed (its link count is 0, checked at most every
``deleted_check_s``) and written again whole from the session's records, with one line saying so.
A write that fails (full disk, quota, read-only) keeps the lines waiting in memory and retries at
later records (at most every ``retry_s`` seconds): they are written, in order, once there is room.
The extension never raises into the user's cell from here.
"""

from __future__ import annotations

import atexit
import errno
import os
import socket
import stat
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from .._version import __version__
from ..diagnostics import Diagnostics, show
from ..record import WindowRecord

if TYPE_CHECKING:
    from ..config import Config

__all__ = [
    "LOG_SCHEMA",
    "LOG_SUFFIX",
    "SessionLog",
    "attach_log",
    "detach_log",
    "get_log",
    "public_config",
    "UnsafeFolder",
]

LOG_SCHEMA = 3
LOG_SUFFIX = ".jsonl"
_SECRET_WORDS = ("token", "secret", "password", "api_key", "apikey", "auth")
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_APPEND = os.O_WRONLY | os.O_APPEND | _CLOEXEC | _NOFOLLOW
#: Settings a settings line records when they change (they decide the figures or where they go).
SETTINGS_IN_FORCE = ("region", "intensity", "live", "zone", "pue", "scope", "log_dir")
#: Lines kept waiting while the log cannot be written (the records themselves stay in the session).
MAX_PENDING = 10_000

#: Bumped in a forked child (``os.register_at_fork``): a log opened before the fork is its parent's.
_fork_generation = 0


def _forked() -> None:
    global _fork_generation
    _fork_generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)

_LINE = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS


def _line(obj: dict[str, Any]) -> bytes:
    """``obj`` as one line of compact UTF-8 JSON; TypeError for a value JSON cannot hold."""
    return orjson.dumps(obj, option=_LINE)


class ShortWrite(OSError):
    """A write that put only part of a line in the file (a full disk): the file ends mid-line."""


class UnsafeFolder(OSError):
    """The log folder is a symlink, not a folder, someone else's or writable by others."""


def public_config(config: Config | Mapping[str, Any]) -> dict[str, Any]:
    """``config`` as a dict without anything that looks like a secret."""
    values = config.as_dict() if hasattr(config, "as_dict") else dict(config)
    return {k: v for k, v in values.items() if not any(word in k.lower() for word in _SECRET_WORDS)}


def record_line(record: WindowRecord) -> bytes:
    """The log line of ``record``; raises TypeError or ValueError for a value JSON cannot hold."""
    return _line({"type": "record", **record.to_dict(datetimes=True)})  # isoformat()'s text


class SessionLog:
    """Appends records to this session's file; never raises into the caller.

    ``folder`` is a path or a callable returning one (read at each append, so a change of
    ``log_dir`` takes effect); so is ``config`` (the settings in force are written when they
    change); ``on_problem`` receives each one-line warning (default: stderr);
    ``history`` returns the session's records so far, to write a deleted file again whole.
    """

    retry_s = 10.0
    #: How often (at most) the open file's link count is checked. A deleted file is written again
    #: whole from the session's records when noticed, so a check per record (a system call in
    #: every cell) would lose nothing less.
    deleted_check_s = 1.0

    def __init__(
        self,
        folder: str | os.PathLike | Callable[[], str | os.PathLike | None],
        *,
        config: Config | Callable[[], Config] | None = None,
        on_problem: Callable[[str], object] | None = None,
        history: Callable[[], Iterable[WindowRecord]] | None = None,
        fsync_records: bool = False,
        now: Callable[[], datetime] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._folder_fn = folder if callable(folder) else (lambda: folder)
        self._config_fn = config if callable(config) else (lambda: config)
        self._in_force: dict[str, Any] | None = None  # the settings last written to the file
        self._settings_of: tuple[object, dict[str, Any]] = (None, {})  # (config, its settings)
        self.on_problem = on_problem or show
        self._history = history
        self.fsync_records = fsync_records
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._clock = clock
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file we opened
        # changed since: this is a forked child and the file its parent's
        self._generation = _fork_generation
        self._check_at = 0.0  # when to check the link count next
        self._folder_key: str | None = None
        self._pending: list[bytes] = []
        self._torn = False  # the file ends with part of a line
        self._retry_at = 0.0
        self._said = Diagnostics(show=self._problem)  # one line per kind of problem
        self.path: Path | None = None
        #: every file this log created, oldest first (a change of ``log_dir`` starts another)
        self.paths: list[Path] = []
        self.failed = False  # the last write failed (lines wait in memory)
        self.written = 0

    # --- writing ---------------------------------------------------------------------------------

    def append(self, record: WindowRecord) -> bool:
        """Write ``record`` as one line; False (after one warning) when it is not on disk now."""
        with self._lock:
            folder = self._folder_fn()
            if folder is None:  # log_dir=none: the user keeps records in memory only
                return False
            folder = str(folder)
            if folder != self._folder_key or not self._ours():
                self._switch(folder)
            try:
                line = record_line(record)
            except (TypeError, ValueError) as exc:  # e.g. an object in extra
                self._say(  # one line for all of them: 20,000 such records say it once
                    "could not log",
                    f"could not log record {record.id} ({exc}); it and any later record JSON "
                    "cannot hold stay in memory — %carbon export PATH.json saves them (such "
                    "values as text)",
                )
                return False
            settings = self._settings()
            if self.path is not None and settings != self._in_force:
                self._pending.append(
                    _line({"type": "settings", "utc": self._now().isoformat(), "config": settings})
                )
                self._in_force = settings
            if len(self._pending) >= MAX_PENDING:
                del self._pending[0]
            self._pending.append(line)
            return self._flush()

    @property
    def config(self) -> Any:
        """The configuration in force now."""
        return self._config_fn()

    def _settings(self) -> dict[str, Any]:
        config = self.config
        if config is None:
            return {}
        seen, settings = self._settings_of
        if config is not seen:  # a Config is immutable: a change of setting is a new object
            values = public_config(config)
            settings = {k: values[k] for k in SETTINGS_IN_FORCE if k in values}
            self._settings_of = (config, settings)
        return settings

    def _flush(self) -> bool:
        if self.failed and self._clock() < self._retry_at:
            return False
        try:
            fd = self._ready()
            if self._torn:  # a line cut short before: end it, so the next line stands alone
                _write_line(fd, b"\n")
                self._torn = False
            while self._pending:
                _write_line(fd, self._pending[0])
                del self._pending[0]
                self.written += 1
            if self.fsync_records:
                os.fsync(fd)
        except OSError as exc:
            if isinstance(exc, ShortWrite):
                self._torn = True
            self._fail(exc)
            return False
        if self.failed:
            self.failed = False
            self._say(
                "written again",
                f"the session log is written again ({self.path}): no record was lost",
            )
        return True

    def _ready(self) -> int:
        """The open descriptor of this session's file, (re)created if it is missing or was
        deleted."""
        fd = self._fd
        if fd is not None:
            now = self._clock()
            if now < self._check_at:
                return fd
            self._check_at = now + self.deleted_check_s
            if os.fstat(fd).st_nlink > 0:
                if self._still_named():
                    return fd
                self._close_fd()  # renamed away (log rotation): its records stay where it went
                self._say(
                    f"moved {self.path}",
                    f"the session log {self.path} was renamed or replaced (log rotation?); new "
                    "records go to a new file in "
                    f"{self.path.parent if self.path else self._folder_key}",
                )
                self.path, self._torn = None, False
                return self._ready()
            self._close_fd()  # deleted from outside: write the whole session again
            self._say(
                f"deleted {self.path}",
                f"the session log {self.path} was deleted; "
                "writing it again with every record of this session",
            )
            if self._history is not None:  # the session's records include every line waiting here
                self._pending = [record_line(r) for r in self._history()][-MAX_PENDING:]
            self.path, self._torn = None, False
        folder = _safe_folder(Path(self._folder_key or "."))
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC | _NOFOLLOW)
        try:
            if self.path is not None and self.path.parent == folder:
                fd = self._reopen(dir_fd)
                if fd is not None:
                    self._fd = fd
                    return fd
            self._fd = self._create(folder, dir_fd)
            return self._fd
        finally:
            os.close(dir_fd)

    def _still_named(self) -> bool:
        """Whether the configured path still names the file we write (not renamed away)."""
        if self.path is None:
            return True
        try:
            info = os.lstat(self.path)
        except OSError:
            return False
        return (info.st_dev, info.st_ino) == self._identity

    def _reopen(self, dir_fd: int) -> int | None:
        """This session's file again (after %unload_ext or a failed write), if it is still ours."""
        if self.path is None:
            return None
        try:
            fd = os.open(self.path.name, _APPEND, dir_fd=dir_fd)
        except OSError:
            return None  # gone, or replaced by a symlink (O_NOFOLLOW): a new file
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != self._identity:
            os.close(fd)
            return None
        return fd

    def _create(self, folder: Path, dir_fd: int) -> int:
        start = self._now()
        session_id = f"{start.strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}-{os.urandom(3).hex()}"
        name = f"session-{session_id}{LOG_SUFFIX}"
        fd = os.open(name, _APPEND | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=dir_fd)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            _write_line(fd, _line(self._header(session_id, start)))
            self._in_force = self._settings()
            os.fsync(fd)
            os.fsync(dir_fd)  # the file's name survives a power cut
        except OSError:
            os.close(fd)
            raise
        info = os.fstat(fd)
        self.path, self._identity = folder / name, (info.st_dev, info.st_ino)
        self.paths.append(self.path)
        _open_logs.add(self)
        return fd

    def _switch(self, folder: str) -> None:
        self._close_fd()
        if not self._ours():  # a forked child: its own file, none of its parent's lines
            self._generation, self._pending = _fork_generation, []
        self.path = None
        self._torn = False
        self._folder_key = folder
        self.failed = False
        self._retry_at = 0.0

    def _header(self, session_id: str, start: datetime) -> dict[str, Any]:
        return {
            "type": "session",
            "log_schema": LOG_SCHEMA,
            "session_id": session_id,
            "start_utc": start.isoformat(),
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "jupyter_carbon": __version__,
            "python": sys.version.split()[0],
            "config": public_config(config) if (config := self.config) is not None else {},
        }

    def _fail(self, exc: OSError) -> None:
        self._close_fd()
        self.failed = True
        self._retry_at = self._clock() + self.retry_s
        if isinstance(exc, UnsafeFolder):
            self._say(
                f"refused: {exc}",
                f"not writing the session log: {exc}; records stay in memory — "
                "choose a folder of your own with %carbon config log_dir=PATH, "
                "or save them with %carbon export PATH.json",
            )
            return
        where = self.path or self._folder_key
        if exc.errno == errno.EFBIG:
            exc = OSError(exc.errno, "the file-size limit (ulimit -f, RLIMIT_FSIZE) is reached")
        self._say(
            f"cannot write in {where}",
            f"cannot write the session log in {where} ({exc.strerror or exc}); "
            f"{len(self._pending)} record(s) wait in memory "
            "and are written when it works again — "
            "or choose another folder with %carbon config log_dir=PATH",
        )

    def _say(self, key: str, text: str) -> None:
        """Report ``text`` once per ``key`` (one line per kind of problem, however often it
        recurs)."""
        self._said.say(text, key)

    def _problem(self, text: str) -> None:
        self.on_problem(text)

    def _close_fd(self) -> None:
        if self._fd is not None:
            if self._ours():
                try:
                    os.fsync(self._fd)
                except OSError:
                    pass
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    def _ours(self) -> bool:
        """Whether this process opened the log (not a child forked since)."""
        return self._generation == _fork_generation

    @property
    def pending(self) -> int:
        """Lines waiting to be written."""
        return len(self._pending)

    def close(self) -> None:
        """Try once more to write what waits, fsync and close; a later ``append`` reopens.
        Idempotent."""
        with self._lock:
            if self._pending and self._folder_key is not None and self._ours():
                self._retry_at = 0.0
                self._flush()
            self._close_fd()


def _safe_folder(folder: Path) -> Path:
    """``folder`` made absolute, created (each new level 0700) and checked; raises UnsafeFolder."""
    folder = folder.expanduser().absolute()
    missing = []
    probe = folder
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for level in reversed(missing):
        try:
            os.mkdir(level, 0o700)
        except FileExistsError:
            pass
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeFolder(f"{folder} is a symbolic link")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeFolder(f"{folder} is not a folder")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise UnsafeFolder(f"{folder} belongs to another user (uid {info.st_uid})")
    if info.st_mode & stat.S_IWOTH:
        raise UnsafeFolder(f"{folder} is writable by every user")
    return folder


def _write_line(fd: int, line: bytes) -> None:
    """One ``os.write`` per line: with O_APPEND the line lands whole at the end of the file."""
    written = os.write(fd, line)
    if written != len(line):  # a full disk or a file-size limit cuts a write short
        try:  # the rest fails with the real reason (ENOSPC, EFBIG under RLIMIT_FSIZE, EDQUOT)
            rest = os.write(fd, line[written:])
        except OSError as exc:
            raise ShortWrite(
                exc.errno, f"{exc.strerror} (wrote {written} of {len(line)} bytes)"
            ) from None
        if written + rest != len(line):  # readers skip the torn line
            raise ShortWrite(errno.EIO, f"a write was cut short ({written} of {len(line)} bytes)")


# --- attaching to a session ----------------------------------------------------------------------


class LoggedSession(Protocol):
    """What a log asks of the session it follows (``CarbonSession``)."""

    config: Config
    on_record: list[Callable[[WindowRecord], Any]]

    @property
    def records(self) -> list[WindowRecord]: ...

    def problem(self, text: str) -> None: ...


_logs: weakref.WeakKeyDictionary[LoggedSession, SessionLog] = weakref.WeakKeyDictionary()
_open_logs: weakref.WeakSet[SessionLog] = weakref.WeakSet()  # closed cleanly at interpreter exit


@atexit.register
def _close_open_logs() -> None:
    for log in list(_open_logs):
        if log._ours():  # a forked child exiting leaves its parent's file alone
            log.close()


def _callbacks(session: LoggedSession) -> list[list[Callable[[WindowRecord], Any]]]:
    """The session's lists of callbacks a log joins: its windows' records, and its idle stretches'
    (``on_idle``, where the session keeps them)."""
    idle = getattr(session, "on_idle", None)
    return [session.on_record] if idle is None else [session.on_record, idle]


def _every_record(session: LoggedSession) -> list[WindowRecord]:
    """The session's records and idle stretches, in order of start (to write a deleted log
    again)."""
    idle = getattr(session, "idle_records", ())
    return (
        sorted([*session.records, *idle], key=lambda r: r.start_s) if idle else [*session.records]
    )


def attach_log(session: LoggedSession, **options: Any) -> SessionLog:
    """Log every record ``session`` closes from now on (idempotent; re-attaching reuses the
    file)."""
    log = _logs.get(session)
    if log is None:
        log = SessionLog(
            lambda: session.config.log_dir,
            config=lambda: session.config,  # replaced (not changed) by %carbon config
            on_problem=session.problem,
            history=lambda: _every_record(session),
            **options,
        )
        _logs[session] = log
    for callbacks in _callbacks(session):
        if log.append not in callbacks:
            callbacks.append(log.append)
    return log


def detach_log(session: LoggedSession) -> None:
    """Stop logging ``session`` and close the file (kept for a later ``attach_log``)."""
    log = _logs.get(session)
    if log is None:
        return
    for callbacks in _callbacks(session):
        while log.append in callbacks:
            callbacks.remove(log.append)
    log.close()


def get_log(session: LoggedSession) -> SessionLog | None:
    return _logs.get(session)
