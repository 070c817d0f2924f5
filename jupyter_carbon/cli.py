"""The ``jupyter-carbon`` command: run a notebook measured, summarise logs, show the sources.

    jupyter-carbon run NOTEBOOK.ipynb [-o OUT.ipynb] [--html REPORT.html] [--csv OUT.csv]
                       [--region FR] [--timeout S] [--allow-errors]
    jupyter-carbon report LOG_OR_FOLDER [--csv OUT | --json OUT | --html OUT]
    jupyter-carbon status

Exit codes: 0 success; 1 a cell failed (without --allow-errors) or the kernel could not run it;
2 bad input (missing file, not a notebook, bad region, unwritable output) — always one line on
stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

__all__ = ["main", "CliError"]

EXIT_CELL_FAILED = 1
EXIT_USAGE = 2


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
    run.add_argument("--region", help="electricity region, e.g. FR, US-CA, gcp:europe-west1 (default: world average)")
    run.add_argument("--timeout", type=float, help="seconds allowed per cell (default: no limit)")
    run.add_argument("--allow-errors", action="store_true", help="go on after a failing cell (exit code 0)")
    report = sub.add_parser("report", help="summarise session logs (a .jsonl file or a folder of them) or a JSON export")
    report.add_argument("source", help="a session log, a folder of logs (e.g. .jupyter_carbon) or a .json export")
    group = report.add_mutually_exclusive_group()
    group.add_argument("--csv", help="write the records as CSV")
    group.add_argument("--json", help="write the records as JSON")
    group.add_argument("--html", help="write an HTML report")
    sub.add_parser("status", help="energy sources detected on this machine, and why others are missing")
    return parser


def _say(text: str) -> None:
    print(f"jupyter-carbon: {text}", file=sys.stderr)


def _output(path: str | None, suffixes: tuple[str, ...]) -> Path | None:
    if path is None:
        return None
    from .storage.export import check_output_path

    try:
        return check_output_path(path, suffixes)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _check_region(region: str | None) -> None:
    if region is None:
        return
    from .intensity import UnknownRegionError, lookup_region

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
        raise CliError(f"{text} is not a readable notebook ({type(exc).__name__}): open and save it in Jupyter, or give another file") from None
    return path


def _exports(records: Sequence[Any], *, csv: Path | None = None, json: Path | None = None, html: Path | None = None, **html_options: Any) -> None:
    from .storage.export import export_records
    from .storage.report import write_html

    for path in (csv, json):
        if path is not None:
            export_records(records, path)
            _say(f"wrote {len(records)} records to {path}")
    if html is not None:
        write_html(records, html, **html_options)
        _say(f"wrote the HTML report to {html}")


def _cmd_run(args: argparse.Namespace) -> int:
    if args.timeout is not None and not args.timeout > 0:
        raise CliError(f"--timeout {args.timeout:g}: give a positive number of seconds")
    notebook = _read_notebook_path(args.notebook)
    _check_region(args.region)
    out = _output(args.output or str(notebook.with_suffix(".carbon.ipynb")), (".ipynb",))
    csv, json, html = _output(args.csv, (".csv",)), _output(args.json, (".json",)), _output(args.html, (".html", ".htm"))
    import nbformat

    from .runner import RunError, run_notebook
    from .storage.report import summary_text

    try:
        result = run_notebook(notebook, region=args.region, timeout_s=args.timeout, allow_errors=args.allow_errors)
    except RunError as exc:
        _say(str(exc))
        return EXIT_CELL_FAILED
    nbformat.write(result.notebook, out)
    _say(f"wrote the executed notebook to {out}")
    for note in result.notes:
        _say(f"note: {note}")
    print(summary_text(result.records))
    for failure in result.failures:
        print(f"FAILED {failure}")
    if result.stopped_early:
        print("stopped at the first failing cell (use --allow-errors to run the rest)")
    _exports(result.records, csv=csv, json=json, html=html, title=f"jupyter_carbon: {notebook.name}", failures=result.failures, notes=result.notes)
    return EXIT_CELL_FAILED if result.failures and not args.allow_errors else 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .storage.export import load_records
    from .storage.reader import log_files, merged, read_logs
    from .storage.report import summary_text

    source = Path(args.source).expanduser()
    if not source.exists():
        raise CliError(f"{args.source} not found: give a session log, a folder of logs (e.g. .jupyter_carbon) or a .json export")
    csv, json, html = _output(args.csv, (".csv",)), _output(args.json, (".json",)), _output(args.html, (".html", ".htm"))
    records, notes = [], []
    if source.is_dir():
        files = log_files(source)
        if not files:
            raise CliError(f"no session logs (session-*.jsonl) in {args.source}: give the folder of config log_dir (default .jupyter_carbon)")
        records, notes = merged(read_logs(files))
        print(f"{len(files)} sessions in {source}")
    elif source.suffix.lower() in (".jsonl", ".json"):
        if source.suffix.lower() == ".jsonl":
            contents = read_logs([source])[0]
            records, notes = contents.records, contents.notes
        else:
            try:
                records = load_records(source)
            except ValueError as exc:
                raise CliError(str(exc)) from None
    else:
        raise CliError(f"{args.source} is not a session log: give a .jsonl log, a folder of them or a .json export")
    for note in notes:
        _say(f"note: {note}")
    print(summary_text(records))
    _exports(records, csv=csv, json=json, html=html, title=f"jupyter_carbon: {source.name}", notes=notes)
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from .display.text import format_status
    from .carbon_session import CarbonSession

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
        return 130
    except Exception as exc:  # a bug of ours: still one line, no traceback
        _say(f"internal error ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); please report it")
        return EXIT_CELL_FAILED


if __name__ == "__main__":
    sys.exit(main())
