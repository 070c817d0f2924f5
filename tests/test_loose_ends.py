"""Issue 26's smaller faults: status lines, file-size limits, log rotation, export paths and
modes."""

from __future__ import annotations

import os
import resource
import subprocess
import textwrap
from pathlib import Path

import pytest
from fakes import session_with
from storage_helpers import PYTHON, child_env, make_record

from jupyter_carbon.cli import main
from jupyter_carbon.display.text import format_status
from jupyter_carbon.sources.constant import ConstantPowerSource
from jupyter_carbon.storage.export import export_records
from jupyter_carbon.storage.log import SessionLog
from jupyter_carbon.storage.reader import log_files, read_log

EVIL = "gpu0 \x1b[2J\x1b[31mEVIL\r\nproblem: forged\x07"


class _Glitchy(ConstantPowerSource):
    def __init__(self, now_s: float) -> None:
        super().__init__("gpu", 50.0, now_s)
        self.device = EVIL
        self.glitches = 3


def test_status_problem_lines_escape_control_characters(clock) -> None:
    session = session_with(lambda t: [_Glitchy(t)], clock)
    try:
        session.sampler.diagnostics.say(f"{EVIL}: read failed")
        text = format_status(session)
    finally:
        session.shutdown()
    problems = [line for line in text.splitlines() if line.startswith("problem:")]
    assert len(problems) == 2, text  # one per problem: no line forged by a "\r\n" in a name
    assert "\\x1b[2J" in text and "EVIL" in text
    assert not any(c in text for c in "\x1b\r\x07")


def test_a_file_size_limit_is_named_not_called_a_full_disk(tmp_path: Path) -> None:
    """Under RLIMIT_FSIZE (ulimit -f) a write is cut short, then refused with EFBIG: the warning
    names the limit; the lines wait in memory as for a full disk."""
    script = textwrap.dedent(
        f"""
        from storage_helpers import make_record
        from jupyter_carbon.storage.log import SessionLog
        problems = []
        log = SessionLog({str(tmp_path / "logs")!r}, on_problem=problems.append)
        for i in range(1, 40):
            log.append(make_record(i))
        print(repr(problems), log.pending)
        """
    )

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (16_000, 16_000))

    done = subprocess.run(
        [PYTHON, "-c", script],
        capture_output=True,
        text=True,
        env=child_env(tests=True),
        preexec_fn=limit,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    problems, pending = done.stdout.rsplit(" ", 1)
    assert "file-size limit" in problems and "No space left" not in problems, problems
    assert int(pending) > 0


def test_a_log_renamed_away_is_noticed_and_report_finds_the_new_records(
    tmp_path: Path, capsys
) -> None:
    problems: list[str] = []
    log = SessionLog(tmp_path, on_problem=problems.append)
    log.deleted_check_s = 0.0
    log.append(make_record(1))
    first = log.path
    assert first is not None
    os.rename(first, tmp_path / "rotated.jsonl.1")  # what logrotate does
    log.append(make_record(2))
    log.append(make_record(3))
    log.close()
    assert log.path != first and len(problems) == 1 and "renamed" in problems[0], problems
    assert [r.id for r in read_log(log.path).records] == [2, 3]
    assert [r.id for r in read_log(tmp_path / "rotated.jsonl.1").records] == [1]
    assert log_files(tmp_path) == [log.path]
    assert main(["report", str(tmp_path)]) == 0
    assert "2 cells" in capsys.readouterr().out


def test_re_exporting_keeps_the_files_permissions(tmp_path: Path) -> None:
    for name in ("r.json", "r.csv"):
        target = tmp_path / name
        export_records([make_record(1)], target)
        os.chmod(target, 0o644)
        export_records([make_record(2)], target)
        assert oct(target.stat().st_mode & 0o777) == oct(0o644)


@pytest.mark.parametrize("argv_tail", [["--json"], ["--csv"], ["--html"]])
def test_a_5000_character_export_path_is_one_line(tmp_path: Path, capsys, argv_tail) -> None:
    export_records([make_record(1)], tmp_path / "x.json")
    suffix = {"--json": ".json", "--csv": ".csv", "--html": ".html"}[argv_tail[0]]
    path = str(tmp_path / ("p" * 5000 + suffix))
    assert main(["report", str(tmp_path / "x.json"), *argv_tail, path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "File name too long" in err and len(err) < 400, err
