"""What a cell costs in a real kernel: round trips and iopub messages over ZMQ.

The in-process benchmark (bench.py) calls ``shell.run_cell``; it cannot see what a person waits
for in Jupyter: each output is serialised, signed, sent over ZMQ and parsed by the client. This
drives one ipykernel with jupyter_client, the way a frontend does:

* a trivial cell (``x = 1``) in blocks of ``cells`` cells per variant, the variants interleaved
  in many short rounds (their order rotates every round; this machine's speed drifts):
  extension loaded but off, the default ``%carbon on`` (output path), the same with this
  package's JupyterLab extension (footer path: the client answers the comm the kernel opens at
  ``%load_ext`` as the extension does and reads the message each cell sends instead of its output
  line), ``%carbon on --quiet``, a reference hook
  that makes one plain ``display()`` of a small text/plain + text/html bundle per cell (the floor
  for any per-cell output), ipython-autotime and CodeCarbon's task API in run-cell hooks (the
  last two when installed). The round trip is from ``execute_request`` sent to ``status: idle`` read
  on iopub. "Added" is, per round, the median of the variant's block minus the median of the
  block with the extension off, then the median of that over the rounds. Also the kernel
  process's CPU time per cell (all its threads, from /proc via psutil; mean over all blocks),
  which another process's load disturbs less than wall-clock round trips.
* a trivial ``%%carbon`` cell's round trip, and the iopub messages of each kind of cell.

    python benchmarks/kernel.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter

SETUP = {
    "off": "%carbon off",
    "default": "%carbon on",
    # a fresh comm per block (the client closed the last one): see Kernel.answer_comm
    "footer": "%unload_ext jupyter_carbon\n%load_ext jupyter_carbon\n%carbon on",
    "quiet": "%carbon on --quiet",
    "display": "get_ipython().events.register('post_run_cell', _one_display)",
    "autotime": "%load_ext autotime",
    "codecarbon": (
        "_cc_start = lambda *a: _cc_tracker.start_task('cell')\n"
        "_cc_stop = lambda *a: _cc_tracker.stop_task()\n"
        "get_ipython().events.register('pre_run_cell', _cc_start)\n"
        "get_ipython().events.register('post_run_cell', _cc_stop)"
    ),
}
TEARDOWN = {
    "off": None,
    "default": "%carbon off",
    "footer": "%carbon off",
    "quiet": "%carbon off",
    "display": "get_ipython().events.unregister('post_run_cell', _one_display)",
    "autotime": "%unload_ext autotime",
    "codecarbon": (
        "get_ipython().events.unregister('pre_run_cell', _cc_start)\n"
        "get_ipython().events.unregister('post_run_cell', _cc_stop)"
    ),
}
#: The reference: what one small text/plain + text/html display per cell costs in this kernel.
ONE_DISPLAY = (
    "from IPython.display import display as _display\n"
    "_one_display = lambda *a: _display({'text/plain': 'carbon: 1 ms', 'text/html': "
    "'<div>carbon: 1 ms</div>'}, raw=True)"
)
CODECARBON_INIT = (
    "import logging\n"
    "from codecarbon import OfflineEmissionsTracker\n"
    "_cc_tracker = OfflineEmissionsTracker(country_iso_code='FRA', save_to_file=False, "
    "log_level='error')\n"
    "_cc_tracker.start()"
)


def have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


class Kernel:
    def __init__(self) -> None:
        from jupyter_client.manager import start_new_kernel

        env = {**os.environ, "JUPYTER_CARBON_LOG_DIR": tempfile.mkdtemp(prefix="jc-bench-")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.km, self.kc = start_new_kernel(kernel_name="python3", env=env)
        self.pid = 0
        self.pid = int(self._output("import os; print(os.getpid())"))

    def _output(self, code: str) -> str:
        msg_id = self.kc.execute(code)
        text = ""
        while True:
            msg = self.kc.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                text += msg["content"]["text"]
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                self.kc.get_shell_msg(timeout=60)
                return text

    def cpu_s(self) -> float:
        """CPU seconds the kernel process has used (all its threads: the shell, the IOPub thread,
        the sampler)."""
        import psutil

        times = psutil.Process(self.pid).cpu_times()
        return times.user + times.system

    def answer_comm(self, code: str) -> str:
        """Run ``code`` (which loads the extension) and answer the comm it opens as the JupyterLab
        extension does; its id, once the kernel has said hello."""
        msg_id = self.kc.execute(code)
        comm_id = None
        while True:
            msg = self.kc.get_iopub_msg(timeout=60)
            if msg["msg_type"] == "comm_open" and msg["content"]["target_name"] == "jupyter_carbon":
                comm_id = msg["content"]["comm_id"]
            if (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
            ):
                break
        self.kc.get_shell_msg(timeout=60)
        if comm_id is None:
            raise RuntimeError("the kernel opened no jupyter_carbon comm")
        self.send_comm("comm_msg", comm_id, {"type": "ack", "footer": True, "metadata": True})
        while True:
            msg = self.kc.get_iopub_msg(timeout=60)
            if msg["msg_type"] == "comm_msg" and msg["content"]["data"].get("type") == "hello":
                return comm_id

    def send_comm(self, kind: str, comm_id: str, data: dict) -> None:
        self.kc.shell_channel.send(self.kc.session.msg(kind, {"comm_id": comm_id, "data": data}))

    def run(self, code: str, timeout: float = 60) -> tuple[float, Counter]:
        """Round trip (s) of one cell, and the iopub messages it caused by type."""
        kc = self.kc
        t0 = time.perf_counter()
        msg_id = kc.execute(code, store_history=True)
        kinds: Counter = Counter()
        while True:
            msg = kc.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            kinds[kind] += 1
            if kind == "status" and msg["content"]["execution_state"] == "idle":
                elapsed = time.perf_counter() - t0
                break
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"cell failed: {code!r}: {reply['content']}")
        return elapsed, kinds

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def extra_messages(kinds: Counter) -> dict[str, int]:
    """Messages besides what every cell sends (busy, execute_input, idle)."""
    base = Counter({"status": 2, "execute_input": 1})
    return dict(kinds - base)


def bench(rounds: int, cells: int, carbon_cells: int) -> dict:
    variants = ["off", "default", "footer", "quiet", "display"] + [
        v for v, m in (("autotime", "autotime"), ("codecarbon", "codecarbon")) if have(m)
    ]
    kernel = Kernel()
    try:
        kernel.run("%load_ext jupyter_carbon")
        kernel.run(ONE_DISPLAY)
        if "codecarbon" in variants:
            kernel.run(CODECARBON_INIT)
        times: dict[str, list[float]] = {v: [] for v in variants}
        added: dict[str, list[float]] = {v: [] for v in variants}
        cpu_ms: dict[str, list[float]] = {v: [] for v in variants}  # kernel CPU per cell, per block
        messages: dict[str, Counter] = {}
        for round_ in range(rounds + 1):  # round 0 warms up
            order = variants[round_ % len(variants) :] + variants[: round_ % len(variants)]
            block: dict[str, float] = {}
            for variant in order:
                comm_id = None
                if variant == "footer":
                    comm_id = kernel.answer_comm(SETUP[variant])
                else:
                    kernel.run(SETUP[variant])
                block_times = []
                cpu0 = kernel.cpu_s()
                for i in range(cells):
                    elapsed, kinds = kernel.run("x = 1")
                    block_times.append(elapsed)
                    if i == cells - 1:
                        messages[variant] = kinds
                block[variant] = statistics.median(block_times)
                if round_:
                    times[variant] += block_times
                    cpu_ms[variant].append((kernel.cpu_s() - cpu0) / cells * 1e3)
                if comm_id is not None:  # the page went away: the next blocks get outputs
                    kernel.send_comm("comm_close", comm_id, {})
                if TEARDOWN[variant]:
                    kernel.run(TEARDOWN[variant])
            if round_:
                for variant in variants:
                    added[variant].append(block[variant] - block["off"])
        kernel.run("%carbon off")
        carbon_times = []
        carbon_kinds = Counter()
        for i in range(carbon_cells + 5):
            elapsed, kinds = kernel.run("%%carbon\nx = 1")
            if i >= 5:
                carbon_times.append(elapsed)
                carbon_kinds = kinds
        _, long_kinds = kernel.run("%%carbon\nimport time; time.sleep(2.5)")
        kernel.run("%carbon on")
        _, long_auto_kinds = kernel.run("import time; time.sleep(2.5)")
        kernel.run("%carbon off")
    finally:
        kernel.close()
    return {
        "rounds": rounds,
        "cells": cells,
        "median_ms": {v: statistics.median(t) * 1e3 for v, t in times.items()},
        "added_ms": {v: statistics.median(a) * 1e3 for v, a in added.items()},
        # the mean over all blocks: CPU time is counted in 10 ms ticks, too coarse for a 20-cell
        # block's median
        "kernel_cpu_ms": {v: statistics.fmean(c) for v, c in cpu_ms.items()},
        "extra_messages": {v: extra_messages(k) for v, k in messages.items()},
        "carbon_cell_ms": statistics.median(carbon_times) * 1e3,
        "carbon_cell_messages": extra_messages(carbon_kinds),
        "carbon_2_5_s_cell_messages": extra_messages(long_kinds),
        "auto_2_5_s_cell_messages": extra_messages(long_auto_kinds),
    }


NAMES = {
    "off": "extension loaded, %carbon off",
    "default": "default auto mode (%carbon on), output path",
    "footer": "default auto mode with the JupyterLab extension, footer path (a comm message)",
    "quiet": "%carbon on --quiet",
    "display": "reference: one plain display() per cell (post_run_cell hook)",
    "autotime": "ipython-autotime",
    "codecarbon": "CodeCarbon task API in run-cell hooks",
}


def rows(result: dict) -> list[tuple[str, str, str, str]]:
    """Rows for bench.py's table: (metric, figure, target, notes)."""
    out = []
    for variant, added in result["added_ms"].items():
        if variant == "off":
            continue
        target = {"default": "≤ 1.0 ms", "footer": "≤ output path, ≤ 1.0 ms"}.get(variant, "")
        extra = result["extra_messages"].get(variant) or {}
        cpu = result["kernel_cpu_ms"]
        note = (
            f"round trip {result['median_ms'][variant]:.2f} ms vs {result['median_ms']['off']:.2f} "
            f"ms off; kernel CPU per cell {cpu[variant]:.2f} ms vs {cpu['off']:.2f} ms off; "
            f"extra iopub messages {sum(extra.values())} {dict(extra) or ''}"
        )
        out.append(
            (f"real kernel, trivial cell: {NAMES[variant]}", f"{added:+.2f} ms", target, note)
        )
    carbon = result["carbon_cell_messages"]
    out.append(
        (
            "real kernel, trivial %%carbon cell round trip",
            f"{result['carbon_cell_ms']:.1f} ms",
            "≤ 60 ms",
            f"extra iopub messages {sum(carbon.values())} {carbon}",
        )
    )
    for key, name in (
        ("carbon_2_5_s_cell_messages", "%%carbon"),
        ("auto_2_5_s_cell_messages", "auto mode"),
    ):
        kinds = result[key]
        out.append(
            (
                f"real kernel, a 2.5 s {name} cell: extra iopub messages",
                str(sum(kinds.values())),
                "",
                str(kinds),
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args()
    result = bench(rounds=8 if args.quick else 30, cells=20, carbon_cells=30 if args.quick else 100)
    if args.json:
        print(json.dumps(result, indent=1))
    for row in rows(result):
        print(" | ".join(row))


if __name__ == "__main__":
    sys.exit(main())
