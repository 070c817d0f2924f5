"""Reading session logs (``LOG_SCHEMA`` 3: a header line, then one plain record per line).

Readers never modify a log and never stop at a bad line: what cannot be read is skipped and
counted, and each file gets ONE note saying how many lines were skipped and why (a damaged or
hostile 10 MB log gives one line, not millions). A log written by a newer jupyter_carbon says so.
"""

from __future__ import annotations

import json
import os
import stat
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ..record import RecordError, WindowRecord
from .log import LOG_SCHEMA, LOG_SUFFIX

__all__ = [
    "skip_reason",
    "skipped_note",
    "unreadable_note",
    "LogContents",
    "read_log",
    "stream_log",
    "read_logs",
    "log_files",
    "merged",
    "LogTail",
    "parse_line",
    "open_regular",
    "not_a_log",
]

#: A log file larger than this is read up to it (a note says so): reports stay bounded.
MAX_LOG_BYTES = 512 * 1024 * 1024
#: A line longer than this is skipped unread (a NUL-filled file with no newline is one huge line):
#: a reader holds at most one line of this size, whatever the file.
MAX_LINE_BYTES = 64 * 1024 * 1024
#: The first bytes of a file looked at to tell a session log from something else.
_SNIFF_BYTES = 4096
_BAD_LINE = (ValueError, TypeError, KeyError, OverflowError, RecursionError, UnicodeDecodeError)


@dataclass
class LogContents:
    path: Path
    header: dict[str, Any] = field(default_factory=dict)
    records: list[WindowRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the settings in force at the end of the file: the header's ``config`` updated by each
    #: ``settings`` line (written when region, intensity, … change during the session)
    in_force: dict[str, Any] = field(default_factory=dict)

    @property
    def start_utc(self) -> datetime | None:
        text = self.header.get("start_utc")
        if isinstance(text, str):
            try:
                return datetime.fromisoformat(text)
            except ValueError:
                pass
        return self.records[0].start_utc if self.records else None


def parse_line(raw: bytes) -> tuple[Any, Any]:
    """("session", the header), ("record", a WindowRecord) or (another type, the object) of one log
    line. Raises one of ValueError (RecordError), TypeError, KeyError, OverflowError on a bad
    line."""
    obj = orjson.loads(raw)  # strict JSON: invalid UTF-8, NaN or Infinity are bad lines
    if not isinstance(obj, dict):
        raise RecordError(None, "not a JSON object")
    kind = obj.get("type")
    if kind == "record":
        return kind, WindowRecord.from_dict(obj)
    return kind, obj


def unreadable_note(path: Path, exc: OSError) -> str:
    """The note for a file that cannot be read at all."""
    return f"{path.name}: not readable ({exc.strerror or exc})"


def skipped_note(name: str, skipped: Counter[str], what: str = "line") -> str:
    """ONE note for everything skipped in a file, by reason (the five commonest)."""
    why = ", ".join(f"{n} {reason}" for reason, n in skipped.most_common(5))
    return f"{name}: skipped {sum(skipped.values())} unreadable {what}(s) ({why})"


def skip_reason(exc: BaseException) -> str:
    """Why a line or record could not be read, in a few words (counted per reason)."""
    if isinstance(exc, RecordError):
        return "from a newer jupyter_carbon" if exc.newer else f"bad {exc.field or exc}"
    if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
        return "not JSON"
    if isinstance(exc, KeyError):
        return "refers to a line that is missing"
    return type(exc).__name__


def open_regular(path: str | os.PathLike) -> tuple[int, os.stat_result]:
    """A read-only descriptor of ``path`` and its status; OSError when it is not a regular file
    (a FIFO would block a reader forever, /dev/zero never ends)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise OSError(f"{Path(path).name} is not a regular file")
    return fd, info


def not_a_log(path: str | os.PathLike) -> str | None:
    """Why ``path`` is plainly not a session log (its first bytes are not JSON text), or None.
    Raises OSError when it cannot be read or is not a regular file."""
    fd, _ = open_regular(path)
    try:
        head = os.read(fd, _SNIFF_BYTES)
    finally:
        os.close(fd)
    start = head.lstrip(b" \t\r\n")
    if start and (not start.startswith(b"{") or b"\x00" in head):
        return f"{Path(path).name} is not a session log (it does not start with a JSON line)"
    return None


#: Stands for a line longer than MAX_LINE_BYTES, skipped without being held.
_TOO_LONG = b"\x00too long"


def _lines(path: Path) -> tuple[Iterator[bytes], list[str]]:
    """The file's lines, each at most ``MAX_LINE_BYTES`` (a longer one is read past in blocks and
    given as ``_TOO_LONG``); refuses what is not a regular file."""
    fd, info = open_regular(path)
    notes = []
    if info.st_size > MAX_LOG_BYTES:
        notes.append(
            f"{path.name}: only its first {MAX_LOG_BYTES // 2**20} MiB were read "
            f"({info.st_size // 2**20} MiB)"
        )

    def gen() -> Iterator[bytes]:
        with os.fdopen(fd, "rb") as handle:
            read = 0
            while read < MAX_LOG_BYTES:
                line = handle.readline(min(MAX_LINE_BYTES, MAX_LOG_BYTES - read) + 1)
                if not line:
                    return
                read += len(line)
                if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                    del line
                    while read < MAX_LOG_BYTES:  # read past the rest of it, a block at a time
                        part = handle.readline(1 << 20)
                        read += len(part)
                        if not part or part.endswith(b"\n"):
                            break
                    yield _TOO_LONG
                    continue
                if read > MAX_LOG_BYTES:
                    return
                yield line

    return gen(), notes


def stream_log(path: str | os.PathLike) -> tuple[LogContents, Iterator[WindowRecord]]:
    """The log's contents (records left empty) and an iterator over its records, for readers
    that must not hold every record (reports of 100,000 records). The header is set when its
    line is read, the notes are complete once the iterator is exhausted. Raises OSError when
    the file cannot be opened."""
    path = Path(path)
    out = LogContents(path)
    lines, out.notes = _lines(path)

    def records() -> Iterator[WindowRecord]:
        skipped: Counter[str] = Counter()
        last_torn = False
        for raw in lines:
            if raw is _TOO_LONG:
                skipped[f"longer than {MAX_LINE_BYTES // 2**20} MiB"] += 1
                continue
            # a torn line is the start of a record cut short by a crash: JSON text, no newline
            last_torn = not raw.endswith(b"\n") and raw.lstrip().startswith(b"{")
            raw = raw.strip(b" \t\r\n")
            if not raw:
                continue
            try:
                kind, value = parse_line(raw)
            except _BAD_LINE as exc:
                skipped["torn" if last_torn else skip_reason(exc)] += 1
                continue
            if kind == "session":
                out.header = value
                config = value.get("config")
                out.in_force = dict(config) if isinstance(config, dict) else {}
            elif kind == "settings":
                if isinstance(value.get("config"), dict):
                    out.in_force.update(value["config"])
            elif kind == "record":
                yield value
        schema = out.header.get("log_schema")
        if type(schema) is int and schema > LOG_SCHEMA:
            out.notes.append(
                f"{path.name}: written by a newer jupyter_carbon "
                f"(log schema {schema}; this one reads up to {LOG_SCHEMA}): "
                "upgrade with pip install -U jupyter-carbon"
            )
        torn = skipped.pop("torn", 0)
        if torn:
            out.notes.append(
                f"{path.name}: skipped a torn last line (the kernel stopped while writing it)"
            )
        if skipped:
            out.notes.append(skipped_note(path.name, skipped))

    return out, records()


def read_log(path: str | os.PathLike) -> LogContents:
    """Header, records and notes of one log file; raises OSError when it cannot be read at all."""
    out, records = stream_log(path)
    out.records = list(records)
    return out


class LogTail:
    """The records appended to a folder's logs since the previous call: for progress displays,
    which must not parse the whole log again after every cell. Incomplete and unreadable lines
    are left to :func:`read_log`."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = folder
        self._read_to: dict[Path, int] = {}

    def new_records(self) -> list[WindowRecord]:
        out = []
        for path in log_files(self.folder):
            start = self._read_to.get(path, 0)
            try:
                fd, _ = open_regular(path)
                with os.fdopen(fd, "rb") as handle:
                    handle.seek(start)
                    data = handle.read(MAX_LINE_BYTES)
            except OSError:
                continue
            end = data.rfind(b"\n") + 1  # complete lines only: the next call reads the rest
            if end == 0 and len(data) == MAX_LINE_BYTES:
                end = len(data)  # a line too long to hold: read past it
            self._read_to[path] = start + end
            for raw in data[:end].split(b"\n"):
                raw = raw.strip(b" \t\r")
                if not raw:
                    continue
                try:
                    kind, value = parse_line(raw)
                except _BAD_LINE:
                    continue
                if kind == "record":
                    out.append(value)
        return out


def merged(contents: Iterable[LogContents]) -> tuple[list[WindowRecord], list[str]]:
    """The records and notes of several logs, in order."""
    records: list[WindowRecord] = []
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
    return sorted(
        p
        for p in folder.iterdir()
        if p.name.startswith("session-") and p.suffix == LOG_SUFFIX and p.is_file()
    )


def read_logs(paths: Iterable[str | os.PathLike]) -> list[LogContents]:
    """Every readable log of ``paths``; an unreadable file becomes a note on an empty entry."""
    out = []
    for p in paths:
        try:
            out.append(read_log(p))
        except OSError as exc:
            out.append(LogContents(Path(p), notes=[unreadable_note(Path(p), exc)]))
    return out
