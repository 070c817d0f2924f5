"""Shared helpers for the storage and CLI tests: hand-built records and small notebooks."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from jupyter_carbon.energy import Energy
from jupyter_carbon.record import DeviceEnergy, SessionTotals, Timeline, WindowRecord

ROOT = Path(__file__).resolve().parents[1]


def make_record(
    i: int = 1,
    *,
    status: str = "ok",
    points: int = 3,
    source: str = "table:FR (OWID/Ember 2023)",
    region: str | None = "FR",
    **extra: object,
) -> WindowRecord:
    start = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc) + timedelta(seconds=10 * i)
    devices = (
        DeviceEnergy("cpu", "package-0", "rapl", True, Energy(36.0 * i, 36.0 * i, 36.0 * i)),
        DeviceEnergy("gpu", "gpu0 NVIDIA H100", "nvml-energy", True, Energy(720.0, 700.0, 740.0)),
        DeviceEnergy("ram", "ram", "ram-model", False, Energy(3.6, 1.8, 7.2)),
    )
    return WindowRecord(
        id=i,
        label=f"cell {i}" if i % 2 else None,
        cell=i,
        kind="auto",
        start_utc=start,
        end_utc=start + timedelta(seconds=2),
        start_s=100.0 + i,
        end_s=102.0 + i,
        devices=devices,
        status=status,
        flags=("a note, with a comma",) if i % 3 == 0 else (),
        intensity_g_per_kwh=56.0,
        intensity_source=source,
        intensity_utc=start,
        pue=1.2,
        scope="machine",
        totals=SessionTotals(i, Energy(100.0 * i, 90.0 * i, 110.0 * i), 1.5 * i, 2.0 * i),
        items=1000 if i == 2 else None,
        task="text-classification" if i == 2 else None,
        timeline=Timeline(
            tuple(float(t) for t in range(points)), {"cpu": tuple(10.0 + t for t in range(points))}
        ),
        baseline_w={"cpu": 4.0} if i == 2 else None,
        extra=dict(extra),
        region=region,
    )


def child_env(*, tests: bool = False, **overrides: str) -> dict[str, str]:
    """os.environ with this worktree first on PYTHONPATH (kernels and subprocesses import it),
    and its tests folder after it when ``tests`` (children that import the test helpers)."""
    env = dict(os.environ)
    first = [str(ROOT)] + ([str(ROOT / "tests")] if tests else [])
    env["PYTHONPATH"] = os.pathsep.join(
        first + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    env.update(overrides)
    return env


PYTHON = sys.executable


@contextmanager
def real_kernel(log_dir: Path, cwd: Path, *, load: bool = True) -> Iterator[tuple]:
    """A real ipykernel started through jupyter_client, importing this worktree, its session logs in
    ``log_dir``; ``%load_ext jupyter_carbon`` run first when ``load``. Yields (manager, client)."""
    import jupyter_client

    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(env=child_env(JUPYTER_CARBON_LOG_DIR=str(log_dir)), cwd=str(cwd))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        if load:
            assert (
                kc.execute_interactive("%load_ext jupyter_carbon", timeout=60)["content"]["status"]
                == "ok"
            )
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def cell_messages(kc, code: str) -> list[dict]:
    """Run ``code`` through the kernel client ``kc``: its iopub messages up to idle (its reply's
    status must be "ok")."""
    msg_id = kc.execute(code, store_history=True)
    messages = []
    while True:
        msg = kc.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    reply = kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    return messages


def labextension_data_dir(base: Path) -> Path:
    """A Jupyter data folder (for ``JUPYTER_PATH``) in ``base`` where JupyterLab finds this
    worktree's built extension (``jupyter_carbon/labextension``), installed or not."""
    data = base / "data"
    (data / "labextensions").mkdir(parents=True, exist_ok=True)
    link = data / "labextensions" / "jupyter-carbon"
    if not link.exists():
        link.symlink_to(ROOT / "jupyter_carbon" / "labextension", target_is_directory=True)
    return data
