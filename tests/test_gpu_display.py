"""The load line and ``%carbon status`` name each GPU and how it is measured (real shell,
stub vendor libraries)."""

from __future__ import annotations

import sys
import time

import pytest
from fakes import stub_pynvml
from stubs import amdsmi as stub_amdsmi
from stubs.hwmon import FakeHwmon

from jupyter_carbon.display.text import format_load_line


@pytest.fixture
def mixed_gpus(monkeypatch, tmp_path, no_pynvml):
    """Two NVIDIA H100, one MI250X card (two dies), one Intel xe card: real time, no RAPL."""
    monkeypatch.setitem(
        sys.modules,
        "pynvml",
        stub_pynvml([{"name": "NVIDIA H100", "power_w": lambda t: 300.0}] * 2, time.monotonic),
    )
    stub_amdsmi.configure([
        {"name": "AMD Instinct MI250X", "power_w": lambda t: 90.0, "cap_uw": 560_000_000},
        {"name": "AMD Instinct MI250X", "power_w": lambda t: 90.0, "secondary_die": True},
    ], time.monotonic)  # fmt: skip
    monkeypatch.setitem(sys.modules, "amdsmi", stub_amdsmi)
    hwmon = FakeHwmon(tmp_path / "sys")
    hwmon.add("xe", "0000:03:00.0", {"energy1": "card"}, start_uj=10**9)
    monkeypatch.setenv("JUPYTER_CARBON_HWMON_ROOT", str(hwmon.root))
    monkeypatch.setenv("JUPYTER_CARBON_POWERCAP_ROOT", str(tmp_path / "no-rapl"))


def test_load_line_and_status_name_each_gpu_and_method(mixed_gpus, _shell, capfd):
    from jupyter_carbon.carbon_session import reset_session
    from jupyter_carbon.extension import get_extension

    reset_session()
    _shell.run_line_magic("load_ext", "jupyter_carbon")
    try:
        (line,) = capfd.readouterr().out.splitlines()
        assert "GPU 0-1 NVIDIA H100 (NVML energy counter, measured)" in line
        assert "GPU 0 AMD Instinct MI250X (both dies) (amdsmi energy counter, measured)" in line
        assert "GPU 0 Intel xe 0000:03:00.0 (card) (hwmon energy counter, measured)" in line
        _shell.run_line_magic("carbon", "status")
        status = capfd.readouterr().out
        assert "GPU  gpu1 NVIDIA H100 — nvml-energy (NVML energy counter, measured)" in status
        assert (
            "GPU  gpu0 AMD Instinct MI250X (both dies) — amd-energy (amdsmi energy counter, "
            "measured)" in status
        )
        assert "amdsmi gpu1 AMD Instinct MI250X: second die" in status
        assert format_load_line(get_extension(_shell).session) == line
    finally:
        _shell.run_line_magic("unload_ext", "jupyter_carbon")
        reset_session()


def test_named_parts_and_gaps_in_indices():
    from types import SimpleNamespace as S

    from jupyter_carbon.display.text import _sources_phrase

    sources = [
        S(component="cpu", device="Apple SoC CPU", method="apple-energy-model"),
        S(component="gpu", device="Apple SoC GPU", method="apple-energy-model"),
        S(
            component="gpu",
            device="gpu0 NVIDIA A100",
            index=0,
            model="NVIDIA A100",
            method="nvml-energy",
        ),
        S(
            component="gpu",
            device="gpu2 NVIDIA A100",
            index=2,
            model="NVIDIA A100",
            method="nvml-energy",
        ),
        S(
            component="gpu",
            device="gpu3 NVIDIA A100",
            index=3,
            model="NVIDIA A100",
            method="nvml-power",
        ),
    ]
    assert _sources_phrase(sources) == (
        "CPU (Apple SoC energy-model counter, measured), "
        "Apple SoC GPU (Apple SoC energy-model counter, measured), "
        "GPU 0,2 NVIDIA A100 (NVML energy counter, measured), "
        "GPU 3 NVIDIA A100 (NVML power samples, measured)"
    )
