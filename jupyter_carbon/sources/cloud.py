"""Which public cloud this VM runs on, from DMI (SMBIOS) files: no network, no metadata server.

Inside a VM the CPU model name is the host's (often masked) and its TDP cannot be split among
guests, so the CPU model uses the provider's per-vCPU minimum and maximum watts and its PUE as
published in the Cloud Carbon Footprint coefficients (``data/cloud_cpu.csv``, sources in
``data/NOTICE.md``). Recognised from ``/sys/class/dmi/id`` (``root`` is a setting for tests):

* AWS: ``sys_vendor`` or ``bios_vendor`` is ``Amazon EC2`` (Nitro), or ``bios_version``
  contains ``amazon`` (older Xen instances).
* GCP: ``sys_vendor`` is ``Google`` or ``product_name`` is ``Google Compute Engine``.
* Azure: ``chassis_asset_tag`` is ``7783-7084-3265-9085-8269-3286-77``, the tag every Azure VM
  carries (``sys_vendor`` ``Microsoft Corporation`` alone is any Hyper-V guest, not Azure).
"""

from __future__ import annotations

import csv
import functools
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .cpu_model import CpuCurve
from .paths import DMI_ROOT
from .pread import read_small

__all__ = ["CloudProvider", "detect_cloud", "AZURE_ASSET_TAG"]

AZURE_ASSET_TAG = "7783-7084-3265-9085-8269-3286-77"


@dataclass(frozen=True)
class CloudProvider:
    key: str  # aws, gcp, azure
    name: str
    min_w_per_vcpu: float
    max_w_per_vcpu: float
    pue: float

    @property
    def curve(self) -> CpuCurve:
        """CCF's line per vCPU as fractions of ``max_w_per_vcpu``; the band is ±50 % (CCF gives
        averages)."""
        idle = self.min_w_per_vcpu / self.max_w_per_vcpu
        return CpuCurve(
            idle=idle,
            full=1.0,
            low_idle=idle * 0.5,
            low_full=0.5,
            high_idle=idle * 1.5,
            high_full=1.5,
        )

    def note(self, vcpus: int) -> str:
        return (
            f"{self.name} VM (DMI): {self.min_w_per_vcpu:g}–{self.max_w_per_vcpu:g} W per vCPU "
            f"× {vcpus} vCPUs and PUE {self.pue:g} "
            "from the Cloud Carbon Footprint coefficients"
        )


@functools.lru_cache(maxsize=1)
def _providers() -> dict[str, CloudProvider]:
    with (
        resources.files("jupyter_carbon").joinpath("data/cloud_cpu.csv").open(encoding="utf-8") as f
    ):
        return {
            row["provider"]: CloudProvider(
                row["provider"],
                row["name"],
                float(row["min_w_per_vcpu"]),
                float(row["max_w_per_vcpu"]),
                float(row["pue"]),
            )
            for row in csv.DictReader(f)
        }


def _dmi(root: Path, name: str) -> str:
    path = root / name
    try:
        return (
            read_small(path).decode("ascii", "replace").strip()
        )  # a FIFO or a folder: OSError, never a block
    except OSError:
        return ""  # product_serial and a few others are root-only


def detect_cloud(root: str | os.PathLike[str] = DMI_ROOT) -> CloudProvider | None:
    """The cloud provider named by the DMI files under ``root``, or ``None``."""
    root = Path(root)
    sys_vendor, bios_vendor = _dmi(root, "sys_vendor").lower(), _dmi(root, "bios_vendor").lower()
    if "amazon ec2" in (sys_vendor, bios_vendor) or "amazon" in _dmi(root, "bios_version").lower():
        return _providers()["aws"]
    if sys_vendor == "google" or _dmi(root, "product_name") == "Google Compute Engine":
        return _providers()["gcp"]
    if _dmi(root, "chassis_asset_tag") == AZURE_ASSET_TAG:
        return _providers()["azure"]
    return None
