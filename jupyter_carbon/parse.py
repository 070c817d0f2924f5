"""Parsing of the ``%%carbon`` and ``%carbon`` lines into typed values.

Any input gives either a parse or a :class:`ParseError` whose one-line message names the bad
value and the valid choices; the magics turn it into IPython's ``UsageError``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from .config import SCOPES, ConfigError, parse_budget
from .formats.options import FORMATS, PublishError, parse_publish_args

__all__ = [
    "ParseError",
    "CellOptions",
    "LineCommand",
    "parse_cell_line",
    "parse_line",
    "SUBCOMMANDS",
    "CELL_USAGE",
]

CELL_USAGE = (
    "%%carbon [--label TEXT] [--items N] [--task NAME] [--quiet] "
    "[--scope auto|machine|process|container]"
)
SUBCOMMANDS = (
    "on",
    "off",
    "status",
    "summary",
    "reset",
    "help",
    "config",
    "baseline",
    "history",
    "export",
    "budget",
)


class ParseError(ValueError):
    """Bad magic line; the message is one line that says what to do."""


@dataclass(frozen=True)
class CellOptions:
    label: str | None = None
    items: int | None = None
    task: str | None = None
    quiet: bool = False
    scope: str | None = None
    help: bool = False


@dataclass(frozen=True)
class LineCommand:
    name: str
    args: tuple[str, ...] = ()
    settings: dict[str, str] = field(default_factory=dict)
    seconds: float | None = None  # %carbon baseline SECONDS, checked


def _split(line: str, what: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:  # unbalanced quotes
        raise ParseError(
            f'cannot parse {what} line: {exc}; quote values like --label "my label"'
        ) from None


def positive_int(name: str, text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise ParseError(
            f"{name} {text!r} is not a whole number; expected a positive count such as {name} 1000"
        ) from None
    if value <= 0:
        raise ParseError(f"{name} {text!r} must be positive; expected a count such as {name} 1000")
    return value


_CELL_OPTIONS = {
    "--label": "label",
    "-l": "label",
    "--items": "items",
    "-n": "items",
    "--task": "task",
    "--scope": "scope",
}
_CELL_FLAGS = {"--quiet": "quiet", "-q": "quiet", "--help": "help", "-h": "help"}


def parse_cell_line(line: str) -> CellOptions:
    tokens = _split(line, "%%carbon")
    values: dict[str, object] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        name, eq, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        if name in _CELL_FLAGS and not eq:
            values[_CELL_FLAGS[name]] = True
        elif name in _CELL_OPTIONS:
            key = _CELL_OPTIONS[name]
            if eq:
                value = inline
            elif i + 1 < len(tokens):
                i += 1
                value = tokens[i]
            else:
                raise ParseError(f"{name} needs a value; usage: {CELL_USAGE}")
            values[key] = value
        else:
            raise ParseError(f"unknown %%carbon option {token!r}; usage: {CELL_USAGE}")
        i += 1
    if "items" in values:
        values["items"] = positive_int("--items", str(values["items"]))
    if "scope" in values and values["scope"] not in SCOPES:
        raise ParseError(
            f"--scope {values['scope']!r} is not valid; choose one of: {', '.join(SCOPES)}"
        )
    if "task" in values:
        # lazy: jupyter_carbon.reference must not load at %load_ext (tests/test_extension.py)
        from .reference import reference_tasks, resolve_task

        try:
            values["task"] = resolve_task(str(values["task"]))
        except ValueError:
            raise ParseError(
                f"--task {values['task']!r} is not known; "
                f"choose one of: {', '.join(reference_tasks())}"
            ) from None
    return CellOptions(**values)  # type: ignore[arg-type]


def parse_line(line: str) -> LineCommand:
    tokens = _split(line, "%carbon")
    if not tokens:
        return LineCommand("status")
    name, args = tokens[0].lower(), tokens[1:]
    if name not in SUBCOMMANDS:
        raise ParseError(
            f"unknown %carbon subcommand {tokens[0]!r}; choose one of: {', '.join(SUBCOMMANDS)}"
        )
    if name == "on" and args in (["--quiet"], ["-q"]):
        return LineCommand(name, ("--quiet",))
    if name in ("on", "off", "status", "summary", "reset", "help", "history") and args:
        raise ParseError(f"%carbon {name} takes no arguments (got {' '.join(args)!r})")
    if name == "config":
        settings = {}
        for arg in args:
            key, eq, value = arg.partition("=")
            if not eq or not key:
                raise ParseError(
                    f"%carbon config expects key=value pairs, got {arg!r}; "
                    "e.g. %carbon config region=FR interval=0.5"
                )
            settings[key.strip()] = value
        return LineCommand(name, tuple(args), settings)
    if name == "baseline":
        if len(args) > 1:
            raise ParseError(
                "%carbon baseline takes at most one argument: the seconds to measure (default 10)"
            )
        if args:
            try:
                seconds = float(args[0])
            except ValueError:
                raise ParseError(
                    f"%carbon baseline {args[0]!r}: expected seconds, e.g. %carbon baseline 10"
                ) from None
            if not 1 <= seconds <= 600:
                raise ParseError(f"%carbon baseline {args[0]!r}: expected 1–600 seconds")
            return LineCommand(name, tuple(args), seconds=seconds)
    if name == "budget":
        if not args:
            return LineCommand(name)
        text = " ".join(args)
        try:
            grams = parse_budget(text)
        except ConfigError:
            raise ParseError(
                f"%carbon budget {text!r}: expected grams or kilograms of CO2e, "
                "e.g. %carbon budget 20g or %carbon budget 1.5kg (off: no budget)"
            ) from None
        return LineCommand(
            name, tuple(args), {"budget_g": "off" if grams is None else f"{grams!r}"}
        )
    if name == "export" and args and args[0] in FORMATS:
        try:
            parse_publish_args(args)  # checked here, used by the magic
        except PublishError as exc:
            raise ParseError(str(exc)) from None
        return LineCommand(name, tuple(args))
    if name == "export" and len(args) != 1:
        raise ParseError(
            "%carbon export takes one path ending in .csv or .json, "
            f"e.g. %carbon export carbon.csv, or one of: {', '.join(FORMATS)}"
        )
    return LineCommand(name, tuple(args))
