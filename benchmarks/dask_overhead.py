"""What measuring a Dask cluster costs: tasks/s of many tiny tasks without and with the plugin,
the per-window round trips, and the plugin's work per task transition on a worker.

    python benchmarks/dask_overhead.py [--tasks 4000] [--repeat 5] [--workers 2]

Prints figures; copy them to docs/benchmarks.md with the machine they ran on. Needs
``pip install 'jupyter-carbon[dask]'``.
"""

from __future__ import annotations

import argparse
import os
import statistics
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


def window_ms(meter, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        meter.end(meter.begin())
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    from jupyter_carbon.cluster.client import ClusterMeter

    os.environ.setdefault("JUPYTER_CARBON_LOG_DIR", "none")
    print(
        f"machine: {os.cpu_count()} CPUs · {args.workers} worker processes × 1 thread · "
        f"{args.tasks} tiny tasks per run"
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
        windows = window_ms(meter, args.repeat * 4)
        meter.uninstall()
    print(f"tasks/s without the plugin:              {summary(without)}")
    print(f"tasks/s with the plugin, in a window:    {summary(with_plugin)}")
    print(f"tasks/s with the plugin, no window open: {summary(without_again)}")
    slow = 1 - statistics.median(with_plugin) / statistics.median(without)
    print(f"throughput change in a window: {-slow:+.1%}")
    print(
        f"one window's two rounds (open + close) on {args.workers} workers: {summary(windows)} ms"
    )
    print(f"plugin work per task on a worker (two transitions): {transition_us():.2f} µs")


if __name__ == "__main__":
    main()
