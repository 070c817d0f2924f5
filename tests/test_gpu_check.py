"""benchmarks/gpu_check.py runs end to end against the stub pynvml (``--dry-run``),
in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_dry_run_measures_the_stub_refresh_period_and_agreement(tmp_path):
    out_json = tmp_path / "gpu.json"
    env_path = str(ROOT)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--dry-run",
         "--json", str(out_json)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={"PYTHONPATH": env_path, "JUPYTER_CARBON_LOG_DIR": str(tmp_path / "logs"),
             "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DRY RUN" in proc.stdout and "smallest window the counter resolves" in proc.stdout
    figures = json.loads(out_json.read_text())
    assert figures["machine"]["dry_run"] is True
    # the stub's counter refreshes every 100 ms: the script must find that, not the polling rate
    assert 80 <= figures["refresh"]["energy"]["median_ms"] <= 130
    assert figures["assumed_resolution_ms"] == 100
    for row in figures["agreement"]:
        # power ≤ 300 W; the counter is at most one 100 ms step behind or ahead
        assert abs(row["counter_j"] - row["power_j"]) <= 300 * 0.1 + 1
        assert row["counter_j"] > 0
    assert {row["window_s"] >= 1.0 for row in figures["agreement"]} == {True, False}
    cells = figures["cell_overhead"]
    assert cells["bare_us"] > 0 and cells["measured_us"] > 0
    assert any(s.startswith("gpu gpu0 Stub GPU") and "nvml-energy" in s for s in cells["sources"])


def test_without_a_gpu_it_says_so_in_one_line(tmp_path):
    import ctypes

    try:
        ctypes.CDLL("libnvidia-ml.so.1")
        pytest.skip("this machine has an NVIDIA driver")
    except OSError:
        pass
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.count("\n") == 1
        and "no NVIDIA GPU reachable" in proc.stderr
        and "--dry-run" in proc.stderr
    )
