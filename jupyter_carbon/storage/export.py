"""Exports: CodeCarbon-compatible CSV and full-fidelity JSON.

CSV: one row per record, CodeCarbon's ``emissions.csv`` columns then ours (the rows of
:mod:`jupyter_carbon.rows`, which also gives a pandas DataFrame). JSON:
``{"format": "jupyter_carbon", "schema": 3, "records": [record.to_dict() …]}``, read back exactly
by :func:`load_records` (which also reads session logs, ``.jsonl``).

Both are standard: a number too large to hold (a sum that overflowed to infinity) is written as
``null`` in JSON and as an empty cell in CSV, never ``Infinity``/``inf``; a value JSON cannot hold
(an object in ``extra``) is written as its repr, cut to ``MAX_TEXT_VALUE`` characters.
"""

from __future__ import annotations

import csv
import json
import math
import os
import stat
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from ..record import RECORD_SCHEMA, WindowRecord
from ..rows import CODECARBON_COLUMNS, OUR_COLUMNS, host_columns, record_row
from ..textsafe import csv_cell, visible
from .reader import MAX_LOG_BYTES, open_regular, read_log, skip_reason, skipped_note

__all__ = ["export_records", "load_records", "read_export", "check_output_path"]

_FORMATS = (".csv", ".json")


# --- paths ---------------------------------------------------------------------------------------


def check_output_path(path: str | os.PathLike, suffixes: Iterable[str] = _FORMATS) -> Path:
    """``path`` as a Path when a file can be written there; else ValueError saying what to do."""
    suffixes = tuple(suffixes)
    text = str(path).strip()
    if not text:
        raise ValueError(f"no output path given: write e.g. results{suffixes[0]}")
    target = Path(text).expanduser()
    try:
        os.lstat(target)  # ENAMETOOLONG, ELOOP…: one line, never a traceback
    except (FileNotFoundError, NotADirectoryError):
        pass  # said below, with what to do
    except OSError as exc:
        raise ValueError(
            f"cannot use {visible(text, 80)} ({exc.strerror or exc}): choose another path"
        ) from None
    if target.is_dir():
        raise ValueError(
            f"{text} is a folder: give a file name inside it, "
            f"e.g. {target / ('carbon' + suffixes[0])}"
        )
    if target.suffix.lower() not in suffixes:
        raise ValueError(
            f"unknown file type {target.suffix or '(none)'!r} in {text}: "
            f"use a path ending in {' or '.join(suffixes)}"
        )
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise ValueError(f"{parent} is a file, not a folder: choose another path")
    if not parent.is_dir():
        raise ValueError(f"folder {parent} does not exist: create it first or choose another path")
    try:  # the real test (file modes do not stop root; read-only mounts do)
        probe = tempfile.NamedTemporaryFile(dir=parent, prefix=".jupyter_carbon-", delete=True)
        probe.close()
    except OSError as exc:
        raise ValueError(
            f"cannot write in {parent} ({exc.strerror or exc}): choose a writable folder"
        ) from None
    return target


def _write_atomic(target: Path, write: Callable[[TextIO], object]) -> Path:
    """Write through a temporary file in the same folder, then rename: no half-written export."""
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            try:  # writing over an export keeps its permissions (mkstemp makes 0600)
                os.fchmod(fd, stat.S_IMODE(os.stat(target).st_mode))
            except FileNotFoundError:
                pass
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                write(handle)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise ValueError(
            f"cannot write {target} ({exc.strerror or exc}): choose a writable path"
        ) from None
    return target


#: A value JSON cannot hold (an object in ``extra``) is exported as its repr, cut to this length.
MAX_TEXT_VALUE = 200


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float (an overflowed sum) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _json(value: dict[str, Any]) -> str:
    try:  # the common case: every number finite
        return json.dumps(value, ensure_ascii=False, default=_as_text, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), ensure_ascii=False, default=_as_text, allow_nan=False)


def _as_text(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= MAX_TEXT_VALUE else text[: MAX_TEXT_VALUE - 1] + "…"


# --- formats -------------------------------------------------------------------------------------


def export_records(
    records: Iterable[WindowRecord], path: str | os.PathLike, *, run_id: str | None = None
) -> Path:
    """Write ``records`` to ``path`` (.csv or .json) and return the path written. ``records`` is
    read once, as it goes (a generator of 100,000 logged records is never held whole).

    CSV text cells that a spreadsheet would run as a formula get a leading apostrophe
    (``textsafe.csv_cell``). Raises ValueError with a one-line message for an unknown extension
    or an unusable path.
    """
    target = check_output_path(path)
    if target.suffix.lower() == ".csv":
        run = run_id or str(uuid.uuid4())
        host = host_columns()

        def write(handle: TextIO) -> None:
            writer = csv.DictWriter(handle, fieldnames=CODECARBON_COLUMNS + OUR_COLUMNS)
            writer.writeheader()
            for record in records:
                writer.writerow(
                    {
                        name: ""
                        if _finite(value) is None and value is not None
                        else csv_cell(value)
                        for name, value in record_row(record, run_id=run, host=host).items()
                    }
                )

    else:
        head = {
            "format": "jupyter_carbon",
            "schema": RECORD_SCHEMA,
            "exported_utc": datetime.now(timezone.utc).isoformat(),
        }

        def write(handle: TextIO) -> None:
            handle.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "records": [')
            for i, record in enumerate(records):
                handle.write(("\n " if i == 0 else ",\n ") + _json(record.to_dict()))
            handle.write("\n]}\n")

    return _write_atomic(target, write)


def load_records(path: str | os.PathLike) -> list[WindowRecord]:
    """Records of a JSON export or of a session log (``.jsonl``); ValueError when unreadable."""
    source = Path(path).expanduser()
    if source.suffix.lower() == ".jsonl":
        try:
            return read_log(source).records
        except OSError as exc:
            raise ValueError(
                f"cannot read {source} ({exc.strerror or exc}): check the path"
            ) from None
    document = _export_document(source)
    try:
        return [WindowRecord.from_dict(r) for r in document.get("records", [])]
    except (TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"{source}: a record is malformed ({type(exc).__name__}: {exc})") from None


def _read_bounded(source: Path) -> bytes:
    """The bytes of a regular file of at most MAX_LOG_BYTES; OSError otherwise (a link to
    /dev/zero or a FIFO is refused at once rather than read forever)."""
    fd, info = open_regular(source)
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > MAX_LOG_BYTES:
            raise OSError(f"larger than {MAX_LOG_BYTES // 2**20} MiB")
        data = handle.read(MAX_LOG_BYTES + 1)
    if len(data) > MAX_LOG_BYTES:  # grew while read
        raise OSError(f"larger than {MAX_LOG_BYTES // 2**20} MiB")
    return data


def _export_document(source: Path) -> dict[str, Any]:
    try:
        document = json.loads(_read_bounded(source).decode("utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {source} ({exc.strerror or exc}): check the path") from None
    except (ValueError, RecursionError):
        raise ValueError(
            f"{source} is not JSON: give a file written by %carbon export PATH.json"
        ) from None
    if not isinstance(document, dict) or document.get("format") != "jupyter_carbon":
        raise ValueError(
            f"{source} is not a jupyter_carbon export: "
            "give a file written by %carbon export PATH.json"
        )
    if not isinstance(document.get("records", []), list):
        raise ValueError(
            f"{source}: its records are not a list: give a file written by %carbon export PATH.json"
        )
    return document


def read_export(path: str | os.PathLike) -> tuple[list[WindowRecord], list[str]]:
    """The records of a JSON export that can be read, and at most one note saying how many were
    skipped and why (as the log readers do); ValueError when the file itself is unusable."""
    source = Path(path).expanduser()
    records: list[WindowRecord] = []
    skipped: Counter[str] = Counter()
    for item in _export_document(source).get("records", []):
        try:
            records.append(WindowRecord.from_dict(item))
        except (TypeError, KeyError, ValueError, OverflowError, RecursionError) as exc:
            skipped[skip_reason(exc)] += 1
    return records, [skipped_note(source.name, skipped, "record")] if skipped else []
