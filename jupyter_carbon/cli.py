"""The ``jupyter-carbon`` command: run a notebook measured, summarise logs, show the sources.

    jupyter-carbon run NOTEBOOK.ipynb [-o OUT.ipynb] [--html REPORT.html] [--csv OUT.csv]
                       [--region FR] [--timeout S] [--allow-errors] [--kernel NAME]
    jupyter-carbon report LOG_OR_FOLDER [--csv OUT | --json OUT | --html OUT]
    jupyter-carbon report LOG… --model-card | --methods [latex] | --sci
                          [--label L …] [--items N]
    jupyter-carbon status

Exit codes: 0 success; 1 a cell failed (without --allow-errors), executed cells left no record
(the notebook sets its own log_dir) or the kernel could not run it; 2 bad input (missing file, not
a notebook, bad region, unwritable output, a kernel not installed) — always one line on stderr,
never a traceback; 130 interrupted (Ctrl-C), after writing what was measured until then.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .advice import RunIndex
from .carbon_session import CarbonSession
from .config import SETTINGS, ConfigError
from .digest import Digest
from .display.report_html import write_html
from .display.report_text import summary_text
from .display.text import format_status, plural
from .formats.options import PublishError, PublishOptions
from .formats.report import publish_report
from .intensity import UnknownRegionError, lookup_region
from .record import WindowRecord
from .runner import KernelNotFound, RunError, run_notebook
from .storage.export import check_output_path, export_records, read_export
from .storage.reader import log_files, not_a_log, stream_log, unreadable_note
from .storage.runs import indexing
from .textsafe import visible

__all__ = ["main", "CliError"]

EXIT_CELL_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """Bad input: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{message} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jupyter-carbon", description="Energy and CO2e of notebook cells.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="execute a notebook with every cell measured")
    run.add_argument("notebook", help="the .ipynb to run (its folder is the working directory)")
    run.add_argument("-o", "--output", help="executed notebook (default: NOTEBOOK.carbon.ipynb)")
    run.add_argument("--html", help="write a standalone HTML report here")
    run.add_argument("--csv", help="write the records here (CodeCarbon columns, then ours)")
    run.add_argument("--json", help="write the records here (full fidelity)")
    run.add_argument(
        "--region",
        help="electricity region, e.g. FR, US-CA, gcp:europe-west1 (default: world average)",
    )
    run.add_argument("--timeout", type=float, help="seconds allowed per cell (default: no limit)")
    run.add_argument(
        "--allow-errors",
        action="store_true",
        help="go on after a failing or timed-out cell (exit code 0)",
    )
    run.add_argument(
        "--kernel", help="kernel to run it in, e.g. python3 (default: the notebook's kernelspec)"
    )
    report = sub.add_parser(
        "report", help="summarise session logs (a .jsonl file or a folder of them) or a JSON export"
    )
    report.add_argument(
        "source", help="a session log, a folder of logs (e.g. .jupyter_carbon) or a .json export"
    )
    # more logs, for --model-card/--methods/--sci
    report.add_argument("more", nargs="*", help=argparse.SUPPRESS)
    group = report.add_mutually_exclusive_group()
    group.add_argument("--csv", help="write the records as CSV")
    group.add_argument("--json", help="write the records as JSON")
    group.add_argument("--html", help="write an HTML report")
    publish = report.add_argument_group("publishing (printed to stdout; several logs may be given)")
    kind = publish.add_mutually_exclusive_group()
    kind.add_argument(
        "--model-card",
        action="store_true",
        help="the Hugging Face model card's co2_eq_emissions YAML block",
    )
    kind.add_argument(
        "--methods",
        nargs="?",
        const="markdown",
        metavar="markdown|latex",
        help="a methods paragraph for a paper",
    )
    kind.add_argument(
        "--sci",
        action="store_true",
        help="Software Carbon Intensity per item: ((E × I) + M) / R (needs --items)",
    )
    publish.add_argument(
        "--label",
        action="append",
        default=[],
        help="only the windows with this label (repeatable; default: all)",
    )
    publish.add_argument(
        "--items",
        type=int,
        help="work items the windows processed (per-1,000-items table, SCI's R)",
    )
    publish.add_argument(
        "--task", help="Power Hungry Processing task to compare with (default: the records' task)"
    )
    publish.add_argument("--training-type", help="model card training_type, e.g. fine-tuning")
    publish.add_argument(
        "--embodied",
        default="auto",
        help=(
            "SCI's M: auto (this machine, when the logs were written here), none, "
            "KEY of data/embodied.csv or kg CO2e"
        ),
    )
    publish.add_argument(
        "--lifetime-years",
        type=float,
        default=4.0,
        help="hardware lifetime for SCI's M (default 4)",
    )
    sub.add_parser(
        "status", help="energy sources detected on this machine, and why others are missing"
    )
    return parser


def _say(text: str) -> None:
    print(f"jupyter-carbon: {visible(text)}", file=sys.stderr)


def _output(path: str | None, suffixes: tuple[str, ...]) -> Path | None:
    if path is None:
        return None
    try:
        return check_output_path(path, suffixes)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _check_region(region: str | None) -> None:
    if region is None:
        return
    try:
        lookup_region(region)
    except UnknownRegionError as exc:
        raise CliError(str(exc).splitlines()[0]) from None


def _read_notebook_path(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.exists():
        raise CliError(f"{text} not found: check the path")
    if path.is_dir() or path.suffix.lower() != ".ipynb":
        raise CliError(f"{text} is not a notebook: give an .ipynb file")
    import nbformat

    try:
        nbformat.read(path, as_version=4)
    except Exception as exc:  # JSON errors, validation errors, bad encodings
        raise CliError(
            f"{text} is not a readable notebook ({type(exc).__name__}): "
            "open and save it in Jupyter, or give another file"
        ) from None
    return path


def _exports(
    records: Iterable[WindowRecord], *, csv: Path | None = None, json: Path | None = None
) -> int:
    """Write the CSV and JSON exports asked for; returns how many records went through ``records``
    (read once, as it goes)."""
    paths = [p for p in (csv, json) if p is not None]
    if not paths:
        return sum(1 for _ in records)
    counted = 0

    def counting(source: Iterable[WindowRecord]) -> Iterator[WindowRecord]:
        nonlocal counted
        for record in source:
            counted += 1
            yield record

    if len(paths) == 1:
        export_records(counting(records), paths[0])
    else:  # both: the second reads what the first kept
        kept = list(counting(records))
        for path in paths:
            export_records(kept, path)
    for path in paths:
        _say(f"wrote {plural(counted, 'record')} to {path}")
    return counted


def _html(digest: Digest, path: Path | None, **options: Any) -> None:
    if path is not None:
        write_html(digest, path, **options)
        _say(f"wrote the HTML report to {path}")


def _cmd_run(args: argparse.Namespace) -> int:
    if args.timeout is not None and not args.timeout > 0:
        raise CliError(f"--timeout {args.timeout:g}: give a positive number of seconds")
    notebook = _read_notebook_path(args.notebook)
    _check_region(args.region)
    out = _output(args.output or str(notebook.with_suffix(".carbon.ipynb")), (".ipynb",))
    csv, json, html = (
        _output(args.csv, (".csv",)),
        _output(args.json, (".json",)),
        _output(args.html, (".html", ".htm")),
    )
    import nbformat

    try:
        result = run_notebook(
            notebook,
            region=args.region,
            timeout_s=args.timeout,
            allow_errors=args.allow_errors,
            kernel=args.kernel,
        )
    except KernelNotFound as exc:
        raise CliError(str(exc)) from None
    except RunError as exc:
        _say(str(exc))
        return EXIT_CELL_FAILED
    nbformat.write(result.notebook, out)
    _say(f"wrote the executed notebook to {out}")
    for note in result.notes:
        _say(f"note: {note}")
    digest = Digest([*result.records, *result.idle_records])  # idle shown apart from cells
    print(summary_text(digest))
    for failure in result.failures:
        print(f"FAILED {visible(failure)}")
    if result.interrupted:
        print("interrupted (Ctrl-C): the cells measured until then are above and in the outputs")
    elif result.stopped_early:
        print("stopped at the first failing cell (use --allow-errors to run the rest)")
    _exports(result.records, csv=csv, json=json)
    _html(
        digest,
        html,
        title=f"jupyter_carbon: {notebook.name}",
        failures=result.failures,
        notes=result.notes,
    )
    if result.interrupted:
        return EXIT_INTERRUPTED
    if result.log_dir_changed is not None:
        return EXIT_CELL_FAILED
    return EXIT_CELL_FAILED if result.failures and not args.allow_errors else 0


def _log_records(files: Sequence[Path], notes: list[str]) -> Iterator[WindowRecord]:
    """The records of ``files``, read as they go; each file's notes are added to ``notes`` once
    it has been read (one line per file however many lines it skipped)."""
    for path in files:
        try:
            contents, records = stream_log(path)
        except OSError as exc:
            notes.append(unreadable_note(path, exc))
            continue
        yield from records
        notes.extend(contents.notes)


def _cmd_publish(args: argparse.Namespace) -> int:
    kind = "model-card" if args.model_card else "sci" if args.sci else "methods"
    try:
        embodied = SETTINGS["embodied"].parse(args.embodied)
        options = PublishOptions(
            kind,
            tuple(args.label),
            (args.methods or "markdown").lower(),
            args.items,
            args.task,
            args.training_type,
            embodied,
            args.lifetime_years,
        )
        if args.items is not None and args.items <= 0:
            raise PublishError(f"--items {args.items}: give a positive number of items")
        text, notes = publish_report([args.source, *args.more], options)
    except (PublishError, ConfigError) as exc:
        raise CliError(str(exc)) from None
    for note in notes:
        _say(f"note: {note}")
    print(text, end="")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    if args.model_card or args.methods or args.sci:
        return _cmd_publish(args)
    if args.more or args.label or args.items is not None:
        raise CliError("several logs, --label and --items go with --model-card, --methods or --sci")
    source = Path(args.source).expanduser()
    if not source.exists():
        raise CliError(
            f"{args.source} not found: give a session log, a folder of logs "
            "(e.g. .jupyter_carbon) or a .json export"
        )
    csv, json, html = (
        _output(args.csv, (".csv",)),
        _output(args.json, (".json",)),
        _output(args.html, (".html", ".htm")),
    )
    notes: list[str] = []
    last_runs = this_run = None
    if source.is_dir():
        files = log_files(source)
        if not files:
            raise CliError(
                f"no session logs (session-*.jsonl) in {args.source}: "
                "give the folder of config log_dir (default .jupyter_carbon)"
            )
        # the newest log is this run; its cells are compared with the earlier logs' (by hash)
        last_runs, this_run = RunIndex(), RunIndex()
        records: Iterable[WindowRecord] = itertools.chain(
            indexing(_log_records(files[:-1], notes), last_runs),
            indexing(_log_records(files[-1:], notes), this_run),
        )
        print(f"{plural(len(files), 'session')} in {visible(source)}")
    elif source.suffix.lower() == ".jsonl":
        try:
            reason = not_a_log(source)
        except OSError as exc:
            raise CliError(f"cannot read {args.source} ({exc.strerror or exc})") from None
        if reason is not None:
            raise CliError(
                f"{reason}: give a log written by jupyter_carbon, a folder of them or a .json "
                "export"
            )
        records = _log_records([source], notes)
    elif source.suffix.lower() == ".json":
        try:
            records, notes = read_export(source)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    else:
        raise CliError(
            f"{args.source} is not a session log: "
            "give a .jsonl log, a folder of them or a .json export"
        )
    digest = Digest()
    if last_runs is not None:
        digest.tally.last_runs, digest.tally.this_run = last_runs, this_run
        digest.tally.runs_from = str(source)
    _exports(digest.passing(records), csv=csv, json=json)  # one pass: exports and digest together
    for note in notes:
        _say(f"note: {note}")
    print(summary_text(digest))
    _html(digest, html, title=f"jupyter_carbon: {source.name}", notes=notes)
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    session = CarbonSession()
    try:
        print(format_status(session))
        for problem in session.problems:
            _say(problem)
    finally:
        session.shutdown()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
        return {"run": _cmd_run, "report": _cmd_report, "status": _cmd_status}[args.command](args)
    except CliError as exc:
        _say(f"error: {exc}")
        return EXIT_USAGE
    except ValueError as exc:  # an export path that became unusable, a malformed file
        _say(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        return EXIT_USAGE
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        _say("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug of ours: still one line, no traceback
        _say(
            f"internal error ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); please report it"
        )
        return EXIT_CELL_FAILED


if __name__ == "__main__":
    sys.exit(main())
