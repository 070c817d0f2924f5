"""What measuring a Dask cluster costs: tasks/s of many tiny tasks without and with the plugin,
the per-window round trips, and the plugin's work per task transition on a worker.

    python benchmarks/dask_overhead.py [--tasks 4000] [--repeat 5] [--workers 2]
    python benchmarks/dask_overhead.py --kernel [--rounds 10] [--cells 20] [--workers 2]

``--kernel``: what ``%carbon on`` adds per cell in a real kernel (driven as a frontend does, see
kernel.py) with a ``LocalCluster`` client in it: the cells ``x = 1`` (sends nothing to the
cluster) and ``client.submit(inc, 1).result()`` (one tiny task), in blocks of ``cells`` cells,
``%carbon off`` and ``on`` (the default, with its one-line report) interleaved in ``rounds``
rounds (order alternating); "added" is per round the median of the block with ``%carbon on``
minus that with it off, then the median over the rounds. ``--pause-ms``: a pause before each
cell (a person reading the last output), so work done after a cell (its cluster share, settled
in the background) is not in the next cell's round trip; without it the cells follow each other
at once.

Prints figures; copy them to docs/benchmarks.md with the machine they ran on. Needs
``pip install 'jupyter-carbon[dask]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time


def inc(x: int) -> int:
    return x + 1


def tasks_per_s(client, n: int, repeat: int, window=None) -> list[float]:
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        if window is not None:
            w = window.begin()
        futures = client.map(inc, range(n), pure=False)
        client.gather(futures)
        if window is not None:
            window.end(w)
        rates.append(n / (time.perf_counter() - start))
        del futures
    return rates


def window_ms(client, meter, repeat: int) -> list[float]:
    """The synchronous round of a window that ran one tiny task (``ClusterMeter.end``, which the
    cell itself never waits for: its observer hands the window to the settler)."""
    out = []
    for _ in range(repeat):
        window = meter.begin()
        client.submit(inc, 1, pure=False).result()
        start = time.perf_counter()
        meter.end(window)
        out.append((time.perf_counter() - start) * 1000)
    return out


def transition_us(n: int = 200_000) -> float:
    """The plugin's own work per task (two transitions: into and out of executing), in µs."""
    from jupyter_carbon.cluster.worker import CarbonWorkerPlugin

    class Task:
        annotations = {"jupyter_carbon": ("a", "b")}

    class State:
        tasks = {i: Task() for i in range(1000)}

    class Worker:
        state = State()
        address = "bench"

    plugin = CarbonWorkerPlugin()
    plugin.worker = Worker()
    start = time.perf_counter()
    for i in range(n):
        key = i % 1000
        plugin.transition(key, "ready", "executing")
        plugin.transition(key, "executing", "memory")
    return (time.perf_counter() - start) / n * 1e6


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):,.1f} "
        f"(min {min(values):,.1f}, max {max(values):,.1f}, n={len(values)})"
    )


#: The kernel's cells (--kernel): a cluster and its client, as a notebook makes them.
KERNEL_SETUP = (
    "from distributed import Client, LocalCluster\n"
    "cluster = LocalCluster(n_workers={workers}, threads_per_worker=1, processes=True, "
    "dashboard_address=None)\n"
    "client = Client(cluster)\n"
    "def inc(x):\n    return x + 1\n"
    "client.submit(inc, 1).result()"
)
KERNEL_CELLS = {"trivial": "x = 1", "one task": "client.submit(inc, 1).result()"}
#: Times the cluster observer's calls at each window's start and end in the kernel (what the cell
#: itself waits for, whatever the load that background rounds add), by cell kind.
KERNEL_TIMING = """
import time as _jc_time, jupyter_carbon.cluster.observer as _jc_o
_jc_kind, _jc_times = "", {}
def _jc_timed(name):
    orig = getattr(_jc_o.ClusterObserver, name)
    def timed(self, m):
        t = _jc_time.perf_counter()
        try:
            return orig(self, m)
        finally:
            _jc_times.setdefault(f"{_jc_kind}|{name}", []).append(_jc_time.perf_counter() - t)
    setattr(_jc_o.ClusterObserver, name, timed)
for _jc_name in ("window_started", "window_stopping"):
    _jc_timed(_jc_name)
"""


def in_kernel(
    rounds: int, cells: int, workers: int, pause_s: float = 0.0
) -> dict[str, dict[str, float]]:
    """Per cell kind: the median round trip off and on, and the median added (ms)."""
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from kernel import Kernel  # benchmarks/kernel.py: one ipykernel driven over ZMQ

    kernel = Kernel()
    try:
        kernel.run("%load_ext jupyter_carbon")
        kernel.run(KERNEL_SETUP.format(workers=workers), timeout=120)
        kernel.run(KERNEL_TIMING)
        times = {(c, v): [] for c in KERNEL_CELLS for v in ("off", "on")}
        added: dict[str, list[float]] = {c: [] for c in KERNEL_CELLS}
        for round_ in range(rounds + 1):  # round 0 warms up
            for name, code in KERNEL_CELLS.items():
                block = {}
                for variant in ("off", "on") if round_ % 2 else ("on", "off"):
                    kernel.run(f"%carbon {variant}\n_jc_kind = {(name if round_ else '')!r}")
                    elapsed = []
                    for _ in range(cells):
                        time.sleep(pause_s)
                        elapsed.append(kernel.run(code)[0])
                    block[variant] = statistics.median(elapsed)
                    if round_:
                        times[name, variant] += elapsed
                if round_:
                    added[name].append(block["on"] - block["off"])
        kernel.run("%carbon off")
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "times.json")
            kernel.run(f"import json\nopen({path!r}, 'w').write(json.dumps(_jc_times))")
            with open(path) as f:
                observer_s = json.load(f)
        kernel.run("client.close(); cluster.close()", timeout=120)
    finally:
        kernel.close()
    return {
        name: {
            "off_ms": statistics.median(times[name, "off"]) * 1e3,
            "on_ms": statistics.median(times[name, "on"]) * 1e3,
            "added_ms": statistics.median(added[name]) * 1e3,
            "start_ms": statistics.median(observer_s[f"{name}|window_started"]) * 1e3,
            "end_ms": statistics.median(observer_s[f"{name}|window_stopping"]) * 1e3,
        }
        for name in KERNEL_CELLS
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kernel", action="store_true", help="per-cell cost in a real kernel")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--cells", type=int, default=20)
    parser.add_argument("--pause-ms", type=float, default=0.0, help="pause before each cell")
    args = parser.parse_args()
    if args.kernel:
        print(
            f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} · "
            f"{args.workers} worker processes × 1 thread · "
            f"{args.rounds} rounds of {args.cells} cells per block, {args.pause_ms:g} ms pause"
        )
        rows = in_kernel(args.rounds, args.cells, args.workers, args.pause_ms / 1e3)
        for name, row in rows.items():
            print(
                f"real kernel, {name} cell ({KERNEL_CELLS[name]}): %carbon on adds "
                f"{row['added_ms']:+.2f} ms (off {row['off_ms']:.2f} ms, "
                f"on {row['on_ms']:.2f} ms); the cell waits {row['start_ms']:.3f} ms at its start "
                f"and {row['end_ms']:.3f} ms at its end for the cluster (medians)"
            )
        return

    from distributed import Client, LocalCluster

    from jupyter_carbon.cluster.client import ClusterMeter

    os.environ.setdefault("JUPYTER_CARBON_LOG_DIR", "none")
    print(
        f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} · "
        f"{args.workers} worker processes × 1 thread · {args.tasks} tiny tasks per run"
    )
    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        tasks_per_s(client, args.tasks, 1)  # warm up
        without = tasks_per_s(client, args.tasks, args.repeat)
        meter = ClusterMeter(client)
        meter.install()
        tasks_per_s(client, args.tasks, 1, meter)  # warm up
        with_plugin = tasks_per_s(client, args.tasks, args.repeat, meter)
        without_again = tasks_per_s(
            client, args.tasks, args.repeat
        )  # plugin installed, no window open
        windows = window_ms(client, meter, args.repeat * 4)
        meter.uninstall()
    print(f"tasks/s without the plugin:              {summary(without)}")
    print(f"tasks/s with the plugin, in a window:    {summary(with_plugin)}")
    print(f"tasks/s with the plugin, no window open: {summary(without_again)}")
    slow = 1 - statistics.median(with_plugin) / statistics.median(without)
    print(f"throughput change in a window: {-slow:+.1%}")
    print(f"one window's round, waited for, on {args.workers} workers: {summary(windows)} ms")
    print(f"plugin work per task on a worker (two transitions): {transition_us():.2f} µs")


if __name__ == "__main__":
    main()
