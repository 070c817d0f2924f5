"""End to end on a real NVIDIA GPU, in a plain IPython shell.

``%load_ext``, ``%carbon status``, ``%%carbon`` cells of PyTorch matrix products (5 s and ~1 s),
idle (2 s) and trivial, three auto-mode cells and ``%carbon summary``; then each record's devices
and flags, and whether every log line parses with ``json``. Needs PyTorch with CUDA.

    python benchmarks/gpu_e2e.py      # also writes e2e_records.json to $OUT (or here)
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

CELLS = [
    "%carbon status",
    "import torch\na = torch.randn(8192, 8192, device='cuda', dtype=torch.bfloat16); "
    "b = torch.randn_like(a); (a @ b).sum().item()",
    "%%carbon --label matmul-5s\nt0 = time.time()\nn = 0\nwhile time.time() - t0 < 5:\n"
    "    c = a @ b; n += 1\ntorch.cuda.synchronize()\nprint(n, 'products')",
    "%%carbon --label idle-2s\ntime.sleep(2)",
    "%%carbon --label short\nx = 1",
    "%%carbon --label matmul-0.05s\nt0 = time.time()\nwhile time.time() - t0 < 0.05:\n"
    "    c = a @ b\ntorch.cuda.synchronize()",
]


def main() -> None:
    log_dir = Path(tempfile.mkdtemp())
    os.environ["JUPYTER_CARBON_LOG_DIR"] = str(log_dir)
    from IPython.core.interactiveshell import InteractiveShell

    import jupyter_carbon

    shell = InteractiveShell.instance()
    shell.user_ns["time"] = time
    shell.run_line_magic("load_ext", "jupyter_carbon")
    for cell in CELLS:
        shell.run_cell(cell)
    shell.run_line_magic("carbon", "on")
    for _ in range(3):
        shell.run_cell("c = a @ b; torch.cuda.synchronize()")
    shell.run_line_magic("carbon", "off")
    shell.run_cell("%carbon summary")

    records = [r.to_dict() for r in jupyter_carbon.session().records]
    for r in records:
        devices = [
            (d["device"], d["method"], d["measured"], round(d["energy_j"], 3)) for d in r["devices"]
        ]
        print(r["label"], r["kind"], f"{r['duration_s']:.3f} s", devices, r["flags"])
    (Path(os.environ.get("OUT", ".")) / "e2e_records.json").write_text(
        json.dumps(records, indent=1)
    )
    lines = next(log_dir.iterdir()).read_bytes().splitlines()
    print(
        "log:",
        len(lines),
        "lines; every line parses with json:",
        all(json.loads(line) for line in lines),
    )


if __name__ == "__main__":
    main()
