"""Labels from logs cannot drive the terminal nor run as spreadsheet formulas (textsafe)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from storage_helpers import make_record

from jupyter_carbon.cli import main
from jupyter_carbon.display.history_text import format_history
from jupyter_carbon.storage.export import export_records
from jupyter_carbon.storage.history import list_sessions
from jupyter_carbon.storage.log import SessionLog
from jupyter_carbon.textsafe import csv_cell, visible

HOSTILE = [
    "\x1b[2J\x1b]0;owned\x07red",
    "ok\njupyter-carbon: forged line",
    "abc\u202edcba",
    "tab\there",
    "del\x7f and c1\x9b",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_visible_leaves_no_control_character(text: str) -> None:
    shown = visible(text)
    assert shown.isprintable() and "\n" not in shown
    assert all(ch in shown for ch in text if ch.isprintable() and ch not in "\u202e")


def test_visible_escapes_readably_and_cuts() -> None:
    assert visible("a\x1bb\nc\u202e") == "a\\x1bb\\nc\\u202e"
    assert visible("plain ünïcode ✓") == "plain ünïcode ✓"
    assert visible("x" * 50, 10) == "x" * 9 + "…"
    assert visible(42) == "42"


@pytest.mark.parametrize(
    "value", ['=HYPERLINK("http://evil","x")', "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]
)
def test_csv_cells_that_start_a_formula_get_an_apostrophe(value: str) -> None:
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["cell 1", "", None, -1.5, 3, "a=b", "'quoted"])
def test_other_csv_cells_are_unchanged(value) -> None:
    assert csv_cell(value) == value


def test_export_and_report_neutralise_labels(tmp_path: Path, capsys) -> None:
    records = [make_record(i) for i in (1, 2, 3)]
    records = [
        r.__class__.from_dict({**r.to_dict(), "label": label, "flags": [label]})
        for r, label in zip(records, ['=HYPERLINK("http://evil","click")', HOSTILE[0], HOSTILE[1]])
    ]
    path = export_records(records, tmp_path / "x.csv")
    rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    assert rows[0]["label"] == '\'=HYPERLINK("http://evil","click")'
    assert all(
        not value.startswith(("=", "+", "-", "@", "\t", "\r"))
        for row in rows
        for value in row.values()
    )
    json_path = export_records(records, tmp_path / "x.json")
    assert json.loads(json_path.read_text())["records"][0]["label"].startswith(
        "=HYPERLINK"
    )  # JSON keeps data as it is

    log = SessionLog(tmp_path / "logs")
    for r in records:
        log.append(r)
    (tmp_path / "logs" / "session-\x1b[31mevil.jsonl").write_bytes(b"garbage\n")
    assert main(["report", str(tmp_path / "logs"), "--html", str(tmp_path / "r.html")]) == 0
    captured = capsys.readouterr()
    for stream in (captured.out, captured.err):
        assert "\x1b" not in stream and "\u202e" not in stream
    assert not any(
        line.startswith("jupyter-carbon: forged")
        for line in captured.out.splitlines() + captured.err.splitlines()
    )
    assert "\\x1b[2J" in captured.out  # shown, escaped
    assert "\\x1b[31mevil" in captured.err  # the file name of the note, escaped
    history = format_history(list_sessions(tmp_path / "logs"), folder=tmp_path / "logs")
    assert "\x1b" not in history and "\\x1b[31mevil" in history


def test_a_hostile_label_is_shown_escaped_in_the_terminal_report_and_summary():
    import dataclasses

    from storage_helpers import make_record

    from jupyter_carbon.display.report_text import summary_text
    from jupyter_carbon.display.text import format_record

    record = dataclasses.replace(
        make_record(1), label="\x1b[2J\x1b[31mok\nFAKE LINE", flags=("note\r\x1b[1A",)
    )
    for text in (format_record(record), summary_text([record])):
        assert "\x1b" not in text and "\r" not in text and "\\x1b[2J" in text
        assert not any(line.startswith("FAKE LINE") for line in text.splitlines())
