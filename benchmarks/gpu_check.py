"""How far NVML's figures can be trusted on this GPU, in one command.

    python benchmarks/gpu_check.py            # on a machine with an NVIDIA GPU (~3 min)
    python benchmarks/gpu_check.py --quick    # shorter windows, fewer cells (~1 min)
    python benchmarks/gpu_check.py --dry-run  # no GPU: the stub pynvml of tests/fakes.py (seconds)

It measures, on GPU ``--gpu`` (default 0):

1. **read cost**: one ``nvmlDeviceGetTotalEnergyConsumption`` and one ``nvmlDeviceGetPowerUsage``
   call;
2. **refresh periods**: how often the energy counter and the power reading change, polled in a tight
   loop under load. The counter's period is the smallest window it resolves: jupyter_carbon
   estimates shorter windows (``NvmlSource.resolution_s``, 0.1 s) and this says whether that holds;
3. **agreement**: energy over windows of 1, 5, 15 and 60 s by the counter and by integrating power
   samples taken every 10 ms (trapezoid rule), under load;
4. **per-cell overhead** with NVML on: median time of a trivial cell in a real IPython shell with
   ``%carbon on --quiet`` (log off) minus the same cell in the bare shell, interleaved batches.

Load comes from PyTorch if it is installed with CUDA, else CuPy, else none (an idle check, said
so in the output). The table is printed and every figure is written as JSON (``--json``, default
``gpu_check.json``). Nothing here is a pass/fail test; docs/benchmarks.md records the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


# --- NVML: the real library, or the test stub for --dry-run ------------------------------------


def load_nvml(dry_run: bool) -> Any:
    if dry_run:
        sys.path.insert(0, str(HERE.parent / "tests"))
        from fakes import stub_pynvml  # noqa: E402  (the stub the unit tests use)

        t0 = time.monotonic()
        power = lambda t: 250.0 + 50.0 * math.sin(2 * math.pi * (t - t0) / 3.0)  # noqa: E731
        module = stub_pynvml(
            [{"name": "Stub GPU (dry run)", "power_w": power, "update_s": 0.1}], time.monotonic
        )
        sys.modules["pynvml"] = module  # the extension's detect() finds it like the real one
        return module
    import pynvml

    return pynvml


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# --- load --------------------------------------------------------------------------------------


class Load:
    """A matrix-multiply loop on the GPU in a background thread (torch or CuPy release the GIL)."""

    def __init__(self, gpu: int, dry_run: bool) -> None:
        self.kind = (
            "stub (dry run)" if dry_run else "none (idle: neither torch with CUDA nor CuPy found)"
        )
        self._step: Callable[[], None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if dry_run:
            return
        try:
            import torch

            if torch.cuda.is_available():
                device = torch.device(f"cuda:{gpu}")
                a = torch.randn(8192, 8192, device=device, dtype=torch.float16)
                b = torch.randn(8192, 8192, device=device, dtype=torch.float16)

                def step() -> None:
                    for _ in range(8):
                        a @ b
                    torch.cuda.synchronize(device)

                self._step, self.kind = step, f"torch {torch.__version__} fp16 matmul 8192²"
                return
        except ImportError:
            pass
        try:
            import cupy

            with cupy.cuda.Device(gpu):
                a = cupy.random.random((8192, 8192), dtype=cupy.float32)
                b = cupy.random.random((8192, 8192), dtype=cupy.float32)

            def step() -> None:
                with cupy.cuda.Device(gpu):
                    for _ in range(4):
                        a @ b
                    cupy.cuda.Stream.null.synchronize()

            self._step, self.kind = step, f"cupy {cupy.__version__} fp32 matmul 8192²"
        except ImportError:
            pass

    def __enter__(self) -> Load:
        if self._step is not None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._step()

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


# --- measurements ------------------------------------------------------------------------------


def read_cost_us(fn: Callable[[], Any], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def refresh_period_ms(fn: Callable[[], float], seconds: float) -> dict[str, float | int | None]:
    """Poll ``fn`` for ``seconds``; the intervals between changes of its value."""
    changes: list[float] = []
    last = fn()
    end = time.monotonic() + seconds
    while (now := time.monotonic()) < end:
        value = fn()
        if value != last:
            changes.append(now)
            last = value
    gaps = [(b - a) * 1e3 for a, b in zip(changes, changes[1:])]
    if not gaps:
        return {"median_ms": None, "p10_ms": None, "p90_ms": None, "changes": len(changes)}
    q = statistics.quantiles(gaps, n=10) if len(gaps) >= 2 else [gaps[0]] * 9
    return {
        "median_ms": statistics.median(gaps),
        "p10_ms": q[0],
        "p90_ms": q[-1],
        "changes": len(changes),
    }


def agreement(nvml: Any, handle: Any, window_s: float, sample_s: float = 0.01) -> dict[str, float]:
    """Energy over one window by the counter and by integrating the power reading."""
    e0 = nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    t_prev, p_prev = time.monotonic(), nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
    t_start, power_j = t_prev, 0.0
    while True:
        time.sleep(sample_s)
        t, p = time.monotonic(), nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
        power_j += (p + p_prev) * 0.5 * (t - t_prev)
        t_prev, p_prev = t, p
        if t - t_start >= window_s:
            break
    counter_j = (nvml.nvmlDeviceGetTotalEnergyConsumption(handle) - e0) / 1000.0
    duration = t_prev - t_start
    return {
        "window_s": duration,
        "counter_j": counter_j,
        "power_j": power_j,
        "diff_pct": (power_j - counter_j) / counter_j * 100 if counter_j else math.nan,
    }


CELL = "x = 1"


def cell_overhead_us(cells: int, rounds: int) -> dict[str, Any]:
    """Median cell time with ``%carbon on --quiet`` (log off) minus the bare shell's,
    interleaved."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    shell = InteractiveShell.instance(
        config=Config(HistoryManager={"enabled": False})
    )  # no history thread: see bench.py
    sink = io.StringIO()

    def batch() -> float:
        times = []
        real = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = sink
        try:
            for _ in range(cells):
                t0 = time.perf_counter()
                shell.run_cell(CELL, store_history=True)
                times.append(time.perf_counter() - t0)
        finally:
            sys.stdout, sys.stderr = real
            sink.seek(0)
            sink.truncate()
        return statistics.median(times)

    def load() -> None:
        real = sys.stdout
        sys.stdout = sink
        try:
            shell.run_line_magic("load_ext", "jupyter_carbon")
            shell.run_line_magic("carbon", "config log_dir=none")
            shell.run_line_magic("carbon", "on --quiet")
        finally:
            sys.stdout = real

    load()
    from jupyter_carbon.extension import get_extension

    sources = [
        f"{s.component} {s.device} ({s.method})"
        for s in get_extension(shell).session.detection.sources
    ]
    shell.run_line_magic("unload_ext", "jupyter_carbon")
    bare, measured = [], []
    batch()  # warm-up
    for r in range(rounds):
        for name in ("bare", "measured") if r % 2 == 0 else ("measured", "bare"):
            if name == "measured":
                load()
                measured.append(batch())
                shell.run_line_magic("unload_ext", "jupyter_carbon")
            else:
                bare.append(batch())
    bare_us, measured_us = statistics.median(bare) * 1e6, statistics.median(measured) * 1e6
    return {
        "bare_us": bare_us,
        "measured_us": measured_us,
        "overhead_us": measured_us - bare_us,
        "sources": sources,
    }


# --- report ------------------------------------------------------------------------------------


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def table(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"GPU check — {m['gpu']} (driver {m['driver']}, NVML {m['nvml']}) · load: {m['load']}"
        + (" · DRY RUN: stub figures" if m["dry_run"] else ""),
        "",
        f"read cost:  energy counter {fmt(results['read_cost_us']['energy'])} µs · "
        f"power {fmt(results['read_cost_us']['power'])} µs",
        f"refresh:    energy counter every {fmt(results['refresh']['energy']['median_ms'])} ms "
        f"(p10 {fmt(results['refresh']['energy']['p10_ms'])}, "
        f"p90 {fmt(results['refresh']['energy']['p90_ms'])})"
        f" · power every {fmt(results['refresh']['power']['median_ms'])} ms",
        "            smallest window the counter resolves ≈ "
        f"{fmt(results['refresh']['energy']['median_ms'])} ms (jupyter_carbon assumes "
        f"{results['assumed_resolution_ms']:g} ms)",
        "",
        f"{'window (s)':>10} {'counter (J)':>12} {'power∫ (J)':>12} {'power−counter':>14}",
    ]
    for row in results["agreement"]:
        lines.append(
            f"{row['window_s']:>10.2f} {row['counter_j']:>12.1f} {row['power_j']:>12.1f} "
            f"{fmt(row['diff_pct']):>13}%"
        )
    c = results["cell_overhead"]
    lines += [
        "",
        f"per cell:   bare {fmt(c['bare_us'])} µs · with jupyter_carbon (NVML on, log off) "
        f"{fmt(c['measured_us'])} µs · overhead {fmt(c['overhead_us'])} µs",
        f"sources:    {'; '.join(c['sources'])}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpu", type=int, default=0, help="NVML index of the GPU (default 0)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="no GPU: the stub pynvml (short windows, stub figures)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="windows of 1, 5 and 15 s, fewer cells"
    )
    parser.add_argument(
        "--json",
        default="gpu_check.json",
        help="where to write the figures (default gpu_check.json)",
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(HERE.parent))
    from jupyter_carbon.sources.nvml import RESOLUTION_S

    try:
        nvml = load_nvml(args.dry_run)
        nvml.nvmlInit()
    except Exception as exc:  # ImportError, NVMLError_LibraryNotFound, driver mismatch
        print(
            f"gpu_check: no NVIDIA GPU reachable ({type(exc).__name__}: {exc}); "
            "on a machine without one, run with --dry-run",
            file=sys.stderr,
        )
        return 2
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(args.gpu)
        energy = lambda: nvml.nvmlDeviceGetTotalEnergyConsumption(handle)  # noqa: E731
        power = lambda: nvml.nvmlDeviceGetPowerUsage(handle)  # noqa: E731
        driver = (
            text(nvml.nvmlSystemGetDriverVersion())
            if hasattr(nvml, "nvmlSystemGetDriverVersion")
            else "?"
        )
        nvml_version = (
            text(nvml.nvmlSystemGetNVMLVersion())
            if hasattr(nvml, "nvmlSystemGetNVMLVersion")
            else "?"
        )
        if args.dry_run:
            windows, poll_s, warm_s, cells, rounds, repeats = [0.3, 1.0], 1.0, 0.0, 30, 2, {0.3: 2}
        elif args.quick:
            windows, poll_s, warm_s, cells, rounds, repeats = (
                [1.0, 5.0, 15.0],
                5.0,
                5.0,
                200,
                4,
                {1.0: 3},
            )
        else:
            windows, poll_s, warm_s, cells, rounds, repeats = (
                [1.0, 5.0, 15.0, 60.0],
                10.0,
                10.0,
                500,
                6,
                {1.0: 5, 5.0: 3},
            )
        load = Load(args.gpu, args.dry_run)
        results: dict[str, Any] = {
            "machine": {"gpu": text(nvml.nvmlDeviceGetName(handle)), "driver": driver,
                        "nvml": nvml_version, "load": load.kind, "dry_run": args.dry_run,
                        "python": platform.python_version(), "host": platform.node()},
            "assumed_resolution_ms": RESOLUTION_S["nvml-energy"] * 1e3,
            "read_cost_us": {"energy": read_cost_us(energy, 2000 if not args.dry_run else 200),
                             "power": read_cost_us(power, 2000 if not args.dry_run else 200)},
        }  # fmt: skip
        with load:
            time.sleep(warm_s)  # let power and clocks settle under load
            results["refresh"] = {
                "energy": refresh_period_ms(energy, poll_s),
                "power": refresh_period_ms(power, poll_s),
            }
            results["agreement"] = [
                agreement(nvml, handle, w) for w in windows for _ in range(repeats.get(w, 1))
            ]
        results["cell_overhead"] = cell_overhead_us(cells, rounds)
    finally:
        nvml.nvmlShutdown()
    print(table(results))
    Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
