"""MLflow and Weights & Biases: a real tracking server and an offline W&B run, each fed by a
script that measures a ``track()`` block inside a run; the run holds the record's figures."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from storage_helpers import ROOT

pytestmark = pytest.mark.slow

SCRIPT = """
import json, sys, jupyter_carbon
import {lib}
{start}
with jupyter_carbon.track("train step") as m:
    sum(i * i for i in range(300_000))
with jupyter_carbon.track():  # no label: only the session total
    pass
{finish}
print(json.dumps({{"run": run_id, "record": m.record.to_dict(), \
"totals": jupyter_carbon.session().records[-1].totals.to_dict()}}))
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JUPYTER_CARBON_", "MLFLOW_", "WANDB_"))
    }
    env.update(PYTHONPATH=str(ROOT), JUPYTER_CARBON_LOG_DIR="none", HOME=str(tmp_path), **extra)
    return env


def _run(script: str, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _read_run_file(path: Path) -> tuple[list[dict], dict]:
    """(history rows, summary) of an offline W&B run file: a LevelDB-style log of 32 KiB blocks
    (7-byte header ``:W&B``, magic, version; records: crc32 u32, length u16, type u8 with
    1 full, 2 first, 3 middle, 4 last) holding ``wandb_internal_pb2.Record`` messages."""
    import struct

    from wandb.proto import wandb_internal_pb2

    raw = path.read_bytes()
    assert raw[:4] == b":W&B"
    block, pos, chunk, history, summary = 32 * 1024, 7, b"", [], {}
    while pos + 7 <= len(raw):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", raw[pos : pos + 7])
        if kind == 0:
            break
        chunk += raw[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunk)
            chunk = b""
            which = record.WhichOneof("record_type")
            items = (
                record.history.item
                if which == "history"
                else record.summary.update
                if which == "summary"
                else ()
            )
            values = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in items}
            if which == "history":
                history.append(values)
            elif which == "summary":
                summary.update(values)
    return history, summary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    pytest.importorskip("mlflow")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
         "--default-artifact-root", str(tmp_path / "artifacts")],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "server.log", "wb"), env=_env(tmp_path),
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if urllib.request.urlopen(f"{url}/health", timeout=2).status == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "mlflow server did not start in 120 s"
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def test_mlflow_run_metrics_equal_the_record(mlflow_server, tmp_path) -> None:
    import mlflow

    script = SCRIPT.format(
        lib="mlflow",
        start="run = mlflow.start_run(); run_id = run.info.run_id",
        finish="mlflow.end_run()",
    )
    out = _run(script, _env(tmp_path, MLFLOW_TRACKING_URI=mlflow_server))
    record, totals = out["record"], out["totals"]
    data = mlflow.tracking.MlflowClient(mlflow_server).get_run(out["run"]).data
    low, high = (sum(d[k] for d in record["devices"]) for k in ("low_j", "high_j"))
    factor = record["co2e_g"] / record["energy_j"]
    assert data.metrics["carbon/train step/co2e_g"] == pytest.approx(record["co2e_g"], rel=1e-12)
    assert data.metrics["carbon/train step/energy_j"] == pytest.approx(
        record["energy_j"], rel=1e-12
    )
    assert data.metrics["carbon/train step/duration_s"] == pytest.approx(
        record["duration_s"], rel=1e-12
    )
    assert data.metrics["carbon/train step/co2e_low_g"] == pytest.approx(low * factor, rel=1e-9)
    assert data.metrics["carbon/train step/co2e_high_g"] == pytest.approx(high * factor, rel=1e-9)
    assert data.metrics["carbon/session/co2e_g"] == pytest.approx(
        totals["co2e_g"], rel=1e-12
    )  # the last value: the end
    assert data.metrics["carbon/session/energy_j"] == pytest.approx(totals["energy_j"], rel=1e-12)
    assert data.tags["carbon/train step/energy_how"].startswith(("measured", "estimated ("))
    off = _run(
        script, _env(tmp_path, MLFLOW_TRACKING_URI=mlflow_server, JUPYTER_CARBON_MLFLOW="off")
    )
    assert not any(
        k.startswith("carbon/")
        for k in mlflow.tracking.MlflowClient(mlflow_server).get_run(off["run"]).data.metrics
    )


def test_wandb_offline_run_files_hold_the_figures(tmp_path) -> None:
    pytest.importorskip("wandb")
    script = SCRIPT.format(
        lib="wandb",
        start="run = wandb.init(project='carbon-test'); run_id = run.id",
        finish="run.finish()",
    )
    env = _env(tmp_path, WANDB_MODE="offline", WANDB_DIR=str(tmp_path), WANDB_SILENT="true",
               WANDB_CONFIG_DIR=str(tmp_path / "cfg"), WANDB_CACHE_DIR=str(tmp_path / "cache"),
               WANDB_DATA_DIR=str(tmp_path / "data"))  # fmt: skip
    out = _run(script, env)
    record, totals = out["record"], out["totals"]
    [run_file] = (tmp_path / "wandb").glob(f"offline-run-*-{out['run']}/run-{out['run']}.wandb")
    history, summary = _read_run_file(run_file)
    assert (
        len(history) == 1
    )  # one row: the labelled window (the unlabelled one only moves the session total)
    assert history[0]["carbon/train step/co2e_g"] == pytest.approx(record["co2e_g"], rel=1e-12)
    assert summary["carbon/train step/co2e_g"] == pytest.approx(record["co2e_g"], rel=1e-12)
    assert summary["carbon/train step/energy_j"] == pytest.approx(record["energy_j"], rel=1e-12)
    assert summary["carbon/session/co2e_g"] == pytest.approx(totals["co2e_g"], rel=1e-12)
    assert summary["carbon/session/duration_s"] == pytest.approx(totals["duration_s"], rel=1e-12)
    assert summary["carbon/train step/energy_how"].startswith(("measured", "estimated ("))
