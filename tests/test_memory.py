"""Bounded memory (issue 26 item 14): a session keeps the newest ``memory_records`` records of each
kind, its totals and counts are running figures over every record, and the summary, exports,
``to_dataframe`` and the history read the session's log for the records memory no longer holds.
"""

from __future__ import annotations

import pytest
from fakes import constant_session

from jupyter_carbon.config import Config, ConfigError
from jupyter_carbon.display.report_text import summary_text
from jupyter_carbon.display.summary import EXPORT_HINT, session_digest
from jupyter_carbon.extension import get_extension
from jupyter_carbon.ledger import IDLE_MIN_S
from jupyter_carbon.record import IDLE
from jupyter_carbon.storage.export import load_records
from jupyter_carbon.storage.log import get_log
from jupyter_carbon.storage.reader import read_log

CAP = 50
CELLS = 500


def _auto_cells(shell, n: int) -> None:
    shell.run_line_magic("carbon", "on --quiet")
    for i in range(n):
        assert shell.run_cell(f"x = {i}").success
    get_extension(shell).auto = False  # no record for a %carbon off cell


def test_500_auto_cells_keep_50_in_memory_and_every_view_has_all_500(shell, tmp_path, capsys):
    shell.run_line_magic("carbon", f"config log_dir={tmp_path / 'logs'} memory_records={CAP}")
    _auto_cells(shell, CELLS)
    session = get_extension(shell).session

    assert len(session.records) == CAP  # today: every record, 500
    assert len(session.idle_records) <= CAP
    logged = read_log(get_log(session).path).records
    windows = [r for r in logged if r.kind != IDLE]
    assert len(windows) == CELLS and session.records == windows[-CAP:]

    # the kernel's totals are running figures: the sum over the log (auto cells never overlap)
    totals = session.totals()
    assert totals.windows == CELLS
    assert totals.energy_j == pytest.approx(sum(r.energy_j for r in windows), rel=1e-9)
    assert totals.co2e_g == pytest.approx(sum(r.co2e_g for r in windows), rel=1e-9)
    idle = [r for r in logged if r.kind == IDLE]
    assert session.idle_totals().windows >= len(idle)  # the stretch running now is not logged yet

    # the summary: every record (the oldest 450 read back from the log), the full totals
    digest = session_digest(session)
    assert digest.count == CELLS and digest.dropped == 0
    assert digest.totals.windows == CELLS
    assert digest.totals.energy_j == pytest.approx(totals.energy_j, rel=1e-9)
    assert [r.id for r in digest.rows] == [r.id for r in windows[-len(digest.rows) :]]
    assert digest.counted_record_co2e_g() == pytest.approx([r.co2e_g for r in windows], rel=1e-9)
    text = summary_text(digest, export_hint=EXPORT_HINT)
    assert f"jupyter_carbon session: {CELLS} cells" in text
    assert f"the newest 200 of {CELLS} records" in text and "dropped" not in text

    # an export has all 500 (and the idle stretches), each once
    shell.run_line_magic("carbon", f"export {tmp_path / 'all.json'}")
    exported = load_records(tmp_path / "all.json")
    assert sorted(r.id for r in exported if r.kind != IDLE) == sorted(r.id for r in windows)
    assert len(exported) == len({r.id for r in exported}) >= CELLS
    assert f"wrote {len(exported)} records" in capsys.readouterr().out

    # to_dataframe too
    pytest.importorskip("pandas")
    assert list(session.to_dataframe()["record_id"]) == [r.id for r in windows]

    # the history reads the log: this session with its 500 cells
    shell.run_line_magic("carbon", "history")
    (line,) = [x for x in capsys.readouterr().out.splitlines() if "← this session" in x]
    assert line.split()[2] == str(CELLS)


def test_without_a_log_the_cap_holds_and_the_summary_says_what_was_dropped(shell):
    shell.run_line_magic("carbon", f"config log_dir=none memory_records={CAP}")
    _auto_cells(shell, 120)
    session = get_extension(shell).session
    assert len(session.records) == CAP
    assert session.totals().windows == 120
    digest = session_digest(session)
    assert digest.totals.windows == 120 and digest.count == CAP and digest.dropped == 120 - CAP
    text = summary_text(digest, export_hint=EXPORT_HINT)
    assert "jupyter_carbon session: 120 cells" in text
    assert "70 older records dropped from memory (memory_records) and not in the log" in text


def test_idle_stretches_are_bounded_the_same_way_and_their_total_stays_exact(clock):
    session = constant_session(clock, cpu=10.0, memory_records=5)
    session.track_idle = True  # as the extension does at %load_ext
    gap_s, cell_s, cells = IDLE_MIN_S + 1.0, 0.5, 12
    for _ in range(cells):
        clock.advance(gap_s)
        m = session.open(kind="auto")
        clock.advance(cell_s)
        session.stop(m)
    assert len(session.records) == 5 and len(session.idle_records) == 5
    totals, idle = session.totals(), session.ledger.idle_totals()
    assert totals.windows == cells and totals.energy_j == pytest.approx(10.0 * cell_s * cells)
    assert idle.windows == cells  # one stretch before each cell
    assert idle.energy_j == pytest.approx(10.0 * gap_s * cells)
    assert session.ledger.dropped == session.ledger.idle_dropped == cells - 5
    # a smaller cap applies at once; the totals do not change
    session.configure(memory_records=2)
    assert len(session.records) == len(session.idle_records) == 2
    assert session.totals().energy_j == pytest.approx(totals.energy_j)
    session.shutdown()


def test_reset_forgets_what_was_dropped_too(clock):
    """After %carbon reset the log keeps the records before it, but the session's views do not
    read them back."""
    session = constant_session(clock, cpu=10.0, memory_records=3)
    logged = []
    session.on_record.append(logged.append)
    session.archive = lambda: list(logged)
    for _ in range(5):
        session.stop(session.open())
    session.reset()
    for _ in range(7):
        session.stop(session.open())
    every = list(session.every_record())
    assert [r.id for r in every] == [r.id for r in logged[5:]]
    assert session.totals().windows == 7 and len(session.records) == 3
    session.shutdown()


@pytest.mark.parametrize("bad", ["0", "-5", "1.5", "many"])
def test_memory_records_takes_a_positive_whole_number(bad):
    with pytest.raises(ConfigError, match="memory_records"):
        Config().updated(memory_records=bad)
    assert Config().updated(memory_records="250").memory_records == 250
