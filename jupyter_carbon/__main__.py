"""``python -m jupyter_carbon``: the command line (see ``jupyter_carbon.cli``), or a short demo."""

from __future__ import annotations

import sys
import time

import jupyter_carbon
from jupyter_carbon.cli import main as cli_main
from jupyter_carbon.display.text import format_load_line, format_record

__all__ = ["main", "demo"]


def demo() -> int:
    """Measure two windows with the Python API and print what was measured and how."""
    session = jupyter_carbon.session()
    print(format_load_line(session))
    with jupyter_carbon.track("busy loop, 1e6 additions", items=1_000_000) as busy:
        total = 0
        for i in range(1_000_000):
            total += i
    with jupyter_carbon.track("sleep 0.5 s") as idle:
        time.sleep(0.5)
    for measurement in (busy, idle):
        if measurement.record is not None:
            print()
            print(format_record(measurement.record))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] == "demo":
        return demo()
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
