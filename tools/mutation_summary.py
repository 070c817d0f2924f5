"""Mutation score per module from the last ``mutmut run`` (reads ``mutants/**/*.py.meta``).

Usage (from the repository root, after ``mutmut run``)::

    python tools/mutation_summary.py           # killed / all per module, then the total
    python tools/mutation_summary.py --survivors   # and each survivor's name (``mutmut show NAME``)

Killed: a test failed (or timed out) with the mutant in place. "No tests": no test in the
selection runs the mutated function; counted as not killed. See docs/mutation-testing.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

KILLED = {1, 3, 36, 24, -24, 152, 255}  # a failing test, pytest's internal error, a timeout


def percent(part: int, whole: int) -> str:
    return f"{100 * part / max(whole, 1):5.1f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survivors", action="store_true", help="list the mutants not killed")
    parser.add_argument("--root", default="mutants", help="mutmut's working folder")
    args = parser.parse_args()
    total = killed_total = 0
    for meta in sorted(Path(args.root).rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        killed = sum(code in KILLED for code in codes.values())
        module = meta.relative_to(args.root).as_posix().removesuffix(".meta")
        print(f"{module:40} {killed:4} / {len(codes):4} killed  {percent(killed, len(codes))}")
        if args.survivors:
            for name, code in sorted(codes.items()):
                if code not in KILLED:
                    print(f"    {'survived' if code == 0 else f'exit {code}':10} {name}")
        total += len(codes)
        killed_total += killed
    print(f"{'all':40} {killed_total:4} / {total:4} killed  {percent(killed_total, total)}")


if __name__ == "__main__":
    main()
