"""Time and peak memory of ``jupyter-carbon report`` on large session logs.

    python benchmarks/report_scale.py [--records 20000 100000] [--formats text html csv json]

For each size, one session log of that many plain records (three devices, a short timeline, a
label each, every fifth window nested in the one before, as ``track()`` inside a cell writes
them) is written to a temporary folder; then ``python -m jupyter_carbon report FOLDER [--FORMAT
OUT]`` runs in a child process, and its wall time, CPU time (user + system: steadier than wall
time on a shared machine) and peak RSS (``wait4``'s ``ru_usage``) are printed. Targets (issue
13): 100,000 records in at most 10 s and 200 MB peak RSS.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jupyter_carbon.energy import Energy  # noqa: E402
from jupyter_carbon.record import DeviceEnergy, SessionTotals, Timeline, WindowRecord  # noqa: E402
from jupyter_carbon.storage.log import record_line  # noqa: E402


def make_records(n: int):
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    start_s = 1000.0
    for i in range(1, n + 1):
        nested = i % 5 == 0  # inside the previous window
        begin = start_s - 1.5 if nested else start_s
        duration = 0.5 if nested else 2.0
        energy = 20.0 + i % 7
        yield WindowRecord(
            id=i, label=f"cell {i} label", cell=i, kind="script" if nested else "auto",
            start_utc=t0 + timedelta(seconds=begin),
            end_utc=t0 + timedelta(seconds=begin + duration),
            start_s=begin, end_s=begin + duration,
            devices=(DeviceEnergy("cpu", "package-0", "rapl", True, Energy(energy, energy, energy)),
                     DeviceEnergy("gpu", "gpu0 NVIDIA H100", "nvml-energy", True,
                                  Energy(3 * energy, 3 * energy, 3 * energy)),
                     DeviceEnergy("ram", "ram", "ram-model", False, Energy(1.0, 0.5, 2.0))),
            status="ok" if i % 97 else "error", flags=(), intensity_g_per_kwh=56.0,
            intensity_source="table:FR (OWID/Ember 2023)", intensity_utc=None, pue=1.2,
            scope="machine",
            totals=SessionTotals(i, Energy(80.0 * i, 70.0 * i, 90.0 * i), 1e-3 * i, 2.0 * i),
            timeline=Timeline((0.0, 0.5, 1.0, 1.5),
                              {"cpu": (10.0, 11.0, 12.0, 10.5), "gpu": (30.0, 31.0, 29.0, 30.0)}),
        )  # fmt: skip
        if not nested:
            start_s += 3.0


def write_log(folder: Path, n: int) -> Path:
    path = folder / "session-20260101T000000Z-1-abcdef.jsonl"
    with open(path, "wb") as handle:
        handle.write(
            b'{"type":"session","log_schema":3,"session_id":"bench",'
            b'"start_utc":"2026-01-01T00:00:00+00:00"}\n'
        )
        for record in make_records(n):
            handle.write(record_line(record))
    return path


def run(folder: Path, fmt: str) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds (user + system), peak RSS (MiB) and exit code of one report."""
    args = [sys.executable, "-m", "jupyter_carbon", "report", str(folder)]
    if fmt != "text":
        args += [f"--{fmt}", str(folder / f"out.{fmt}")]
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    started = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code:
        print(child.stderr.read().decode(errors="replace")[-2000:], file=sys.stderr)
    child.stderr.close()
    return (
        seconds,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
        code,
    )  # ru_maxrss: KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument(
        "--formats",
        nargs="+",
        default=["text", "html", "csv", "json"],
        choices=["text", "html", "csv", "json"],
    )
    args = parser.parse_args()
    print(
        f"{'records':>8} {'format':<6} {'log MiB':>8} {'wall s':>8} {'CPU s':>8} "
        f"{'peak RSS MiB':>13} exit"
    )
    for n in args.records:
        with tempfile.TemporaryDirectory(prefix="report-scale-") as tmp:
            folder = Path(tmp)
            size = write_log(folder, n).stat().st_size / 2**20
            for fmt in args.formats:
                seconds, cpu, rss, code = run(folder, fmt)
                print(
                    f"{n:>8} {fmt:<6} {size:>8.1f} {seconds:>8.2f} {cpu:>8.2f} {rss:>13.0f} {code}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
