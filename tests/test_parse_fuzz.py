"""Any magic line gives a valid parse or a one-line ParseError (UsageError in the magics)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_carbon.parse import CellOptions, LineCommand, ParseError, parse_cell_line, parse_line

WORDS = st.sampled_from(
    ["--label", "--items", "--task", "--quiet", "-q", "--scope", "machine", "process", "1000", "-5", "x",
     "'a b'", '"', "'", "--items=3", "--label=", "=", "on", "off", "config", "region=FR", "interval=0.5",
     "baseline", "10", "export", "a.csv", "status", "summary", "--help", "\\", "\t", "ü", "0x10", "1e3"]
)
LINES = st.one_of(st.text(max_size=80), st.lists(WORDS, max_size=8).map(" ".join))


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(LINES)
def test_cell_line_parses_or_raises_parse_error(line):
    try:
        options = parse_cell_line(line)
    except ParseError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(options, CellOptions)
        assert options.items is None or options.items > 0
        assert options.scope in (None, "machine", "process")


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(LINES)
def test_line_parses_or_raises_parse_error(line):
    try:
        command = parse_line(line)
    except ParseError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(command, LineCommand)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(WORDS, max_size=6).map(" ".join))
def test_magic_gives_usage_error_or_runs(shell, line):
    from IPython.core.error import UsageError

    shell.user_ns.pop("ran", None)
    try:
        shell.run_cell_magic("carbon", line, "ran = True")
    except UsageError as exc:
        assert "\n" not in str(exc) and "ran" not in shell.user_ns
    else:
        assert shell.user_ns.get("ran") is True or "--help" in line or "-h" in line.split()
