"""Nothing wakes while the kernel is idle (issue 24): a real kernel, one measured cell, a gap.

Starts an ipykernel with jupyter_client (this worktree first on its path), loads the extension,
turns auto mode on, runs one cell, waits for the sampler to park (its linger ticks), then reads,
before and after ``--seconds`` of idle time: the sampler's wake-up count and the kernel
process's CPU time (all its threads, from /proc via psutil). The reads use ``silent`` requests
with ``user_expressions``, which IPython runs without the cell hooks: they open no window.
Then one more cell, whose opening writes the idle stretch; its record is printed.

    python benchmarks/idle.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "(lambda s: {'wakeups': s.sampler.wakeups, 'ticks': s.sampler.ticks, "
    "'idle_records': len(s.idle_records)})(__import__('jupyter_carbon').session())"
)


def probe(kc) -> dict:
    reply = kc.execute_interactive("", silent=True, user_expressions={"p": PROBE}, timeout=60)
    value = reply["content"]["user_expressions"]["p"]
    if value.get("status") != "ok":
        raise RuntimeError(value)
    return eval(value["data"]["text/plain"])  # a dict literal of ints, from our own kernel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="idle time to watch")
    args = parser.parse_args()
    import jupyter_client
    import psutil

    log_dir = tempfile.mkdtemp(prefix="jc-idle-")
    env = dict(os.environ, JUPYTER_CARBON_LOG_DIR=log_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=log_dir)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        for code in ("%load_ext jupyter_carbon", "%carbon on", "x = sum(range(100_000))"):
            kc.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
        kernel = psutil.Process(km.provisioner.process.pid)
        time.sleep(3.5)  # the sampler lingers LINGER_TICKS intervals (1 s each), then parks
        before, cpu0 = probe(kc), kernel.cpu_times()
        time.sleep(args.seconds)
        after, cpu1 = probe(kc), kernel.cpu_times()
        kc.execute_interactive("y = 1", timeout=60, output_hook=lambda msg: None)
        (log,) = Path(log_dir).glob("session-*.jsonl")
        idle = [r for r in map(json.loads, log.read_text().splitlines()) if r.get("kind") == "idle"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    busy_s = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    print(f"idle gap watched: {args.seconds:g} s")
    print(f"sampler wake-ups over the gap: {after['wakeups'] - before['wakeups']}")
    print(f"sampler ticks over the gap: {after['ticks'] - before['ticks']}")
    print(f"kernel process CPU time over the gap: {busy_s * 1000:.1f} ms (all threads)")
    last = idle[-1]
    print(
        f"idle record written at the next cell: {last['duration_s']:.2f} s, "
        f"{last['energy_j']:.3g} J, scope {last['scope']}"
    )


if __name__ == "__main__":
    sys.exit(main())
