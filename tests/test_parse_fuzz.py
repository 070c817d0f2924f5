"""Any magic line gives a valid parse or a one-line ParseError (UsageError in the magics)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_carbon.parse import CellOptions, LineCommand, ParseError, parse_cell_line, parse_line

WORDS = st.sampled_from(
    [
        "--label",
        "--items",
        "--task",
        "--quiet",
        "-q",
        "--scope",
        "machine",
        "process",
        "1000",
        "-5",
        "x",
        "'a b'",
        '"',
        "'",
        "--items=3",
        "--label=",
        "=",
        "on",
        "off",
        "config",
        "region=FR",
        "interval=0.5",
        "baseline",
        "10",
        "export",
        "a.csv",
        "status",
        "summary",
        "--help",
        "\\",
        "\t",
        "ü",
        "0x10",
        "1e3",
    ]
)
LINES = st.one_of(st.text(max_size=80), st.lists(WORDS, max_size=8).map(" ".join))


@pytest.mark.parametrize(
    "parse, result_type", [(parse_cell_line, CellOptions), (parse_line, LineCommand)]
)
@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(line=LINES)
def test_any_line_parses_or_raises_a_one_line_parse_error(parse, result_type, line):
    try:
        parsed = parse(line)
    except ParseError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(parsed, result_type)
        if isinstance(parsed, CellOptions):
            assert parsed.items is None or parsed.items > 0
            assert parsed.scope in (None, "auto", "machine", "process", "container")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
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
