"""Memory added per auto-measured cell once the session holds ``memory_records`` records (issue 26
item 14), measured with tracemalloc in one process: a real InteractiveShell, ``%carbon on
--quiet``, the log on (a temporary folder), IPython's history off (it keeps every cell's input).

    python benchmarks/memory.py                      # cap 10,000 (the default), 20,000 cells
    python benchmarks/memory.py --cap 10000000       # no cap in reach: what every cell kept before

The cells measured come after ``cap + 100`` others (traced too), so the window is already full.
Printed: bytes per cell traced in jupyter_carbon's own files (what the session keeps) and in all
files (IPython's own per-cell bookkeeping included), measured.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import sys
import tempfile
import time
import tracemalloc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap", type=int, default=10_000, help="memory_records")
    parser.add_argument("--cells", type=int, default=20_000, help="cells traced")
    parser.add_argument("--warm", type=int, default=None, help="cells before tracing (cap + 100)")
    args = parser.parse_args()
    warm = args.warm if args.warm is not None else min(args.cap, 10_000) + 100

    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    log_dir = tempfile.mkdtemp(prefix="jc-memory-")
    shell = InteractiveShell.instance(config=Config(HistoryManager={"enabled": False}))
    sink, real_stdout = io.StringIO(), sys.stdout
    sys.stdout = sink
    try:
        shell.run_line_magic("load_ext", "jupyter_carbon")
        shell.run_line_magic("carbon", f"config log_dir={log_dir} memory_records={args.cap}")
        shell.run_line_magic("carbon", "on --quiet")
        # traced from here: the records the traced cells replace were allocated under tracing
        # too, so their release counts
        tracemalloc.start()
        for i in range(warm):
            shell.run_cell("x = 1", store_history=False)
            if i % 500 == 0:
                sink.seek(0), sink.truncate()
        gc.collect()
        before = tracemalloc.take_snapshot()
        t0 = time.perf_counter()
        for i in range(args.cells):
            shell.run_cell("x = 1", store_history=False)
            if i % 500 == 0:
                sink.seek(0), sink.truncate()
        elapsed = time.perf_counter() - t0
        sink.seek(0), sink.truncate()
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        from jupyter_carbon.extension import get_extension

        session = get_extension(shell).session
        held, counted = len(session.records), session.totals().windows
    finally:
        sys.stdout = real_stdout
    ours = [tracemalloc.Filter(True, "*jupyter_carbon*")]
    growth_all = sum(s.size_diff for s in after.compare_to(before, "filename"))
    growth_ours = sum(
        s.size_diff
        for s in after.filter_traces(ours).compare_to(before.filter_traces(ours), "filename")
    )
    result = {
        "cap": args.cap,
        "cells_traced": args.cells,
        "records_in_memory": held,
        "records_counted": counted,
        "bytes_per_cell_jupyter_carbon": growth_ours / args.cells,
        "bytes_per_cell_all": growth_all / args.cells,
        "us_per_cell_traced": elapsed / args.cells * 1e6,
        "log_files": len(os.listdir(log_dir)),
    }
    print(
        f"memory_records={args.cap:,}: after {warm:,} cells, {args.cells:,} more traced — "
        f"{result['bytes_per_cell_jupyter_carbon']:,.1f} B/cell in jupyter_carbon's files, "
        f"{result['bytes_per_cell_all']:,.1f} B/cell in all (measured, tracemalloc); "
        f"{held:,} records in memory, {counted:,} counted"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
