"""``jupyter-carbon report LOG… --model-card|--methods|--sci``: read the records, render one
format."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from pathlib import Path

from ..sources.cpu_model import read_cpu_info
from ..storage.export import read_export
from ..storage.reader import log_files, read_logs
from .options import PublishError, PublishOptions
from .publish import render

__all__ = ["publish_report"]


def _records(sources: Sequence[str]) -> tuple[list, list[str], set[str]]:
    """(records, notes, hostnames of the logs' headers) of logs, folders of logs and JSON
    exports."""
    records: list = []
    notes: list[str] = []
    hosts: set[str] = set()
    for text in sources:
        path = Path(text).expanduser()
        if not path.exists():
            raise PublishError(
                f"{text} not found: give a session log, a folder of logs or a .json export"
            )
        if path.suffix.lower() == ".json" and path.is_file():
            got, more = read_export(path)
            records += got
            notes += more
            hosts.add("")  # an export names no host
            continue
        files = log_files(path) if path.is_dir() else [path]
        if not files:
            raise PublishError(f"no session logs (session-*.jsonl) in {text}")
        for contents in read_logs(files):
            records += contents.records
            notes += contents.notes
            hosts.add(str(contents.header.get("hostname", "")))
    return records, notes, hosts


def publish_report(sources: Sequence[str], options: PublishOptions) -> tuple[str, list[str]]:
    """(the text, notes on skipped lines) for ``options.kind`` over the records of ``sources``.
    ``embodied=auto`` and the CPU's model name apply only when every log was written here."""
    records, notes, hosts = _records(sources)
    here = hosts == {socket.gethostname()}
    cpu_model = read_cpu_info().model_name if here and os.path.exists("/proc/cpuinfo") else None
    options = PublishOptions(**{**options.__dict__, "this_machine": here, "cpu_model": cpu_model})
    return render(records, options), notes
