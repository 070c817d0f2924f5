"""Hostile logs: one bad line never costs the report or the history; many bad lines cost one note.

``jupyter-carbon report`` (text, --csv, --json, --html) and ``%carbon history`` are fed logs whose
lines are random bytes, random JSON, huge lines, or real records with any field (nested ones
included) replaced by a random JSON value. They must exit 0 (or 2 with one line), never print a
traceback or "internal error", and print a bounded amount whatever the log holds. The HTML
report's plots are drawn for real in a few examples only (matplotlib's drawing is most of an
example's time); in the others every line of ours around them still runs.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storage_helpers import make_record

from jupyter_carbon.cli import main
from jupyter_carbon.display import plots
from jupyter_carbon.display.history_text import format_history
from jupyter_carbon.storage.history import list_sessions

pytestmark = pytest.mark.slow

LOG_NAME = "session-20240501T120000Z-1-abcdef.jsonl"
HEADER = (
    b'{"type":"session","log_schema":3,"session_id":"x","start_utc":"2024-05-01T12:00:00+00:00"}\n'
)
FORMATS = ("text", "csv", "json", "html")

JSON_VALUES = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(10**40), max_value=10**40),
        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
        st.sampled_from(["=HYPERLINK(\"http://x\")", "\x1b[2J\x1b[31mred", "a\nforged line",
                         "\u202eevil", "10000-01-01T00:00:00", "9999-12-31T23:59:59+00:00",
                         "0001-01-01T00:00:00", "NaN", "1e309"]),
        st.sampled_from([1e308, -1e308, 5e-324, 2**63, -1]),
        st.integers(300, 4200).map(lambda n: 10**n),
    ),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=12,
)  # fmt: skip
#: Paths into a record's dict form: top-level fields and nested ones.
FIELDS = [
    ("label",), ("cell",), ("id",), ("kind",), ("status",), ("start_utc",), ("end_utc",),
    ("start_s",), ("end_s",),
    ("devices",), ("devices", 0), ("devices", 0, "energy_j"), ("devices", 1, "component"),
    ("devices", 2, "low_j"),
    ("flags",), ("intensity_g_per_kwh",), ("intensity_source",), ("intensity_utc",), ("pue",),
    ("scope",), ("totals",),
    ("totals", "cells"), ("items",), ("task",), ("timeline",), ("timeline", "t_s"),
    ("timeline", "power_w"),
    ("baseline_w",), ("extra",), ("schema",), ("scope_reason",), ("type",),
]  # fmt: skip


def _set(doc: dict, path: tuple, value: object) -> None:
    target = doc
    for key in path[:-1]:  # an earlier change may have replaced a parent: then nothing to do
        try:
            target = target[key]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(target, (dict, list)) and (
        isinstance(target, dict) or (isinstance(path[-1], int) and path[-1] < len(target))
    ):
        target[path[-1]] = value


@st.composite
def mutated_record(draw) -> bytes:
    doc = {"type": "record", **make_record(draw(st.integers(1, 9))).to_dict()}
    for path in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3)):
        _set(doc, path, draw(JSON_VALUES))
    try:
        return json.dumps(doc).encode()
    except ValueError:  # an int of more digits than str() allows
        return b'{"type": "record", "id": ' + b"9" * 5000 + b"}"


LINES = st.one_of(
    mutated_record(),
    st.binary(max_size=200),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.integers(10_000, 3_000_000).map(
        lambda n: b'{"type": "record", "label": "' + b"x" * n + b'"}'
    ),
    st.just(json.dumps({"type": "record", **make_record(4).to_dict()}).encode()),
)


def _write_log(folder: Path, lines: list[bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_NAME
    path.write_bytes(HEADER + b"".join(line.replace(b"\n", b" ") + b"\n" for line in lines))
    return path


def _report(folder: Path, fmt: str, capsys) -> tuple[int, str, str]:
    args = ["report", str(folder)]
    if fmt != "text":
        args += [f"--{fmt}", str(folder.parent / f"out.{fmt}")]
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _check(code: int, out: str, err: str) -> None:
    assert code in (0, 2), err
    assert "Traceback" not in out + err and "internal error" not in err
    if code == 2:
        assert err.count("\n") == 1
    assert err.count("\n") <= 6  # the notes: one per file, then what was written
    assert out.count("\n") <= 210 and len(out) < 200_000  # the table shows at most 200 rows


#: What a figure that is not drawn gives: a PNG header (signature, IHDR length and type, width).
UNDRAWN_PNG = b"\x89PNG\r\n\x1a\n" + bytes(4) + b"IHDR" + (320).to_bytes(4, "big") + bytes(4)


@contextmanager
def figures_not_drawn() -> Iterator[None]:
    """matplotlib's part of the plots left out: axes that take every call, a fixed PNG. The plots'
    own code (binning, scaling, the checks for figures too large to plot) still runs."""
    with (
        mock.patch.object(
            plots, "_new_figure", lambda *args, **kwargs: (mock.MagicMock(), mock.MagicMock())
        ),
        mock.patch.object(plots, "_png", lambda fig, bottom_in=0.45: UNDRAWN_PNG),
    ):
        yield


def _check_report_of(fmt: str, lines: list[bytes], capsys) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "logs"
        _write_log(folder, lines)
        code, out, err = _report(folder, fmt, capsys)
        _check(code, out, err)
        if code == 0 and fmt == "csv":
            text = (Path(tmp) / "out.csv").read_text(encoding="utf-8")
            assert "\n=" not in text and ",=" not in text  # no cell starts a formula
        if code == 0:
            assert "\x1b" not in out + err and "\u202e" not in out + err
        if code == 0 and fmt == "html":
            page = (Path(tmp) / "out.html").read_text(encoding="utf-8")
            assert page.rstrip().endswith("</html>") and "\x1b" not in page


HOSTILE_LOGS = st.lists(LINES, min_size=1, max_size=12)
SETTINGS = dict(
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=100, **SETTINGS)
@given(lines=HOSTILE_LOGS)
def test_report_of_a_hostile_log_exits_cleanly_with_bounded_output(fmt, lines, capsys):
    with figures_not_drawn():
        _check_report_of(fmt, lines, capsys)


@settings(max_examples=8, **SETTINGS)
@given(lines=HOSTILE_LOGS)
def test_the_html_report_of_a_hostile_log_draws_its_plots(lines, capsys):
    _check_report_of("html", lines, capsys)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(lines=st.lists(LINES, min_size=1, max_size=12))
def test_history_of_a_hostile_log_is_bounded_text(lines):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write_log(folder, lines)
        text = format_history(list_sessions(folder), folder=folder)
        assert text.count("\n") <= 8 and "\x1b" not in text


# --- the lines of issue 13, one by one ------------------------------------------------------------

BAD = {
    "a timeline that is a list": ("timeline", [1, 2, 3]),
    "a numeric label": ("label", 42),
    "an infinite duration": ("end_s", 1e309),
    "a year past 9999": ("end_utc", "10000-01-01T00:00:00+00:00"),
    "a PUE as a string": ("pue", "1.2"),
    "NaN energy": (("devices", 0, "energy_j"), float("nan")),
}


@pytest.mark.parametrize("what", list(BAD))
@pytest.mark.parametrize("fmt", FORMATS)
def test_one_malformed_line_is_skipped_and_the_rest_reported(what, fmt, tmp_path, capsys):
    path, value = BAD[what]
    doc = {"type": "record", **make_record(5).to_dict()}
    _set(doc, path if isinstance(path, tuple) else (path,), value)
    bad = json.dumps(doc).replace("Infinity", "1e309").encode()
    good = [json.dumps({"type": "record", **make_record(i).to_dict()}).encode() for i in (1, 2, 4)]
    _write_log(tmp_path / "logs", [good[0], bad, good[1], good[2]])
    code, out, err = _report(tmp_path / "logs", fmt, capsys)
    assert code == 0 and "Traceback" not in out + err
    assert "jupyter_carbon session: 3 cells" in out
    (note,) = [line for line in err.splitlines() if "note:" in line]
    assert "skipped 1 unreadable line" in note
    if fmt == "html":
        page = (tmp_path / "out.html").read_text(encoding="utf-8")
        assert page.count("data:image/png;base64,") == 2 and "plots not drawn" not in page


def test_a_10_mb_garbage_log_gives_one_note(tmp_path, capsys):
    folder = tmp_path / "logs"
    folder.mkdir()
    good = json.dumps({"type": "record", **make_record(1).to_dict()}).encode() + b"\n"
    (folder / LOG_NAME).write_bytes(HEADER + good + b"{not json}\n" * 1_000_000)
    code, out, err = _report(folder, "text", capsys)
    assert code == 0 and "1 cell" in out
    assert err.count("\n") == 1 and "skipped 1000000 unreadable line(s) (1000000 not JSON)" in err
    assert format_history(list_sessions(folder)).count("note:") == 1


def test_extreme_but_valid_figures_are_reported_not_crashed(tmp_path, capsys):
    docs = []
    for i, (energy, start_s, end_s) in enumerate(
        [(1e308, 0.0, 1.0), (1e308, -1e308, 1e308), (5e-324, 1.0, 1.0)], 1
    ):
        doc = make_record(i).to_dict()
        doc["devices"][0]["energy_j"] = doc["devices"][0]["high_j"] = energy
        doc.update(
            start_s=start_s, end_s=end_s, intensity_g_per_kwh=5000.0, pue=5.0
        )  # the largest valid
        docs.append(json.dumps({"type": "record", **doc}).encode())
    _write_log(tmp_path / "logs", docs)
    for fmt in FORMATS:
        code, out, err = _report(tmp_path / "logs", fmt, capsys)
        assert code == 0 and "Traceback" not in out + err and "overflow" in out, (fmt, err)
    page = (tmp_path / "out.html").read_text(encoding="utf-8")
    assert page.rstrip().endswith("</html>") and (
        "plots not drawn" in page or "data:image/png;base64," in page
    )


def test_carbon_history_in_a_real_shell_reports_the_rest_with_one_note(
    tmp_path, monkeypatch, capsys, request
):
    folder = tmp_path / "logs"
    monkeypatch.setenv("JUPYTER_CARBON_LOG_DIR", str(folder))
    shell = request.getfixturevalue("shell")  # loaded after the log folder is set
    good = [json.dumps({"type": "record", **make_record(i).to_dict()}).encode() for i in (1, 2)]
    bad = [
        b'{"type": "record", "label": 42}',
        b"\xff\xfe garbage",
        json.dumps({"type": "record", **{**make_record(3).to_dict(), "pue": "1.2"}}).encode(),
    ]
    _write_log(folder, [good[0], *bad * 1000, good[1]])
    capsys.readouterr()
    result = shell.run_cell("%carbon history")
    out = capsys.readouterr().out
    assert result.success and "Traceback" not in out
    assert (
        "1 session" in out
        and "1 sessions" not in out
        and out.count("note:") == 1
        and "skipped 3000 unreadable line(s)" in out
    )
    session_line = next(line for line in out.splitlines() if line.startswith("2024-05-01"))
    assert session_line.split()[2] == "2"  # start date, time, then the cells: the two good records


@pytest.mark.parametrize("what", list(BAD))
def test_a_json_export_with_one_malformed_record_reports_the_rest(what, tmp_path, capsys):
    path, value = BAD[what]
    docs = [make_record(i).to_dict() for i in (1, 2, 5, 4)]
    _set(docs[2], path if isinstance(path, tuple) else (path,), value)
    text = json.dumps({"format": "jupyter_carbon", "schema": 3, "records": docs}).replace(
        "Infinity", "1e309"
    )
    (tmp_path / "x.json").write_text(text)
    assert main(["report", str(tmp_path / "x.json"), "--html", str(tmp_path / "x.html")]) == 0
    captured = capsys.readouterr()
    assert "jupyter_carbon session: 3 cells" in captured.out
    (note,) = [line for line in captured.err.splitlines() if "note:" in line]
    assert "x.json: skipped 1 unreadable record(s)" in note
