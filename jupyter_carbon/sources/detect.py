"""Probe every backend once; never raise.

Order per component: a user-set wattage wins, then hardware counters (RAPL for CPU and DRAM;
NVML, amdsmi and Intel's hwmon for GPUs; Apple Silicon's SoC counters), then the models (CPU model,
RAM model; on AWS/GCP/Azure VMs the CPU model uses the provider's per-vCPU watts). Then the
kernel's cgroup is probed for the container scope. Every backend not used gets a reason.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .base import EnergySource

__all__ = ["Detection", "detect", "POWERCAP_ROOT", "HWMON_ROOT", "CGROUP_ROOT", "DMI_ROOT"]


@dataclass
class Detection:
    sources: list[EnergySource]
    #: backend name → why it is not used, with the fix where there is one
    skipped: dict[str, str] = field(default_factory=dict)
    #: backend name → what the user can do to use it (present but locked, e.g. RAPL readable by
    #: root only): told once, unlike the other skips which only ``%carbon status`` lists
    fixes: dict[str, str] = field(default_factory=dict)
    #: facts worth showing (e.g. where the CPU's TDP came from)
    notes: list[str] = field(default_factory=list)
    nvml: Any = None
    #: the kernel's cgroup (:class:`.cgroup.Cgroup`), its container-scope sources, the cloud (DMI)
    cgroup: Any = None
    scoped: list[EnergySource] = field(default_factory=list)
    cloud: Any = None

    def resolve(self, requested: str | None) -> tuple[str, str]:
        """(scope used, why) for a requested scope (``auto``/None picks container in a limiting cgroup)."""
        from .scope import resolve_scope

        return resolve_scope(requested, self.cgroup, bool(self.scoped))

    def close(self) -> None:
        for source in [*self.sources, *self.scoped]:
            try:
                source.close()
            except Exception:
                pass
        if self.nvml is not None:
            try:
                self.nvml.nvmlShutdown()
            except Exception:
                pass
            self.nvml = None


#: Where Linux exposes what detection reads (each a setting: tests and containers point elsewhere).
POWERCAP_ROOT = "/sys/class/powercap"
HWMON_ROOT = "/sys/class/hwmon"
CGROUP_ROOT = "/sys/fs/cgroup"
DMI_ROOT = "/sys/class/dmi/id"


def detect(
    *,
    power: Mapping[str, float] | None = None,
    powercap_root: str = POWERCAP_ROOT,
    hwmon_root: str = HWMON_ROOT,
    cgroup_root: str = CGROUP_ROOT,
    dmi_root: str = DMI_ROOT,
    scope: str = "auto",
    refresh_s: float = 1.0,
    now_s: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> Detection:
    """Return the working sources, and why each backend not used is not.

    ``power``: fixed wattage per component (``{"gpu": 20.0}``), which replaces measuring it; the
    roots: where the powercap (RAPL), hwmon (Intel GPUs), cgroup and DMI (cloud) trees are;
    ``scope``: the scope asked for (``container`` probes the cgroup's counters even without a
    limit); ``refresh_s``: how often the models re-read their inputs; ``environ``: the process
    environment (``CUDA_VISIBLE_DEVICES``, ``HIP_VISIBLE_DEVICES``); ``now_s``: the monotonic
    time of the first reading. ``Config.detection_arguments()`` gives these from the settings.
    """
    environ = os.environ if environ is None else environ
    now_s = time.monotonic() if now_s is None else now_s
    found = Detection(sources=[])
    overrides = dict(power or {})

    for component, power_w in overrides.items():
        from .constant import ConstantPowerSource

        found.sources.append(ConstantPowerSource(component, power_w, now_s))

    _try_rapl(found, powercap_root, overrides, now_s)
    if "gpu" in overrides:
        found.skipped["nvml"] = "GPU power set by the user (power=gpu:…)"
    else:
        _try_nvml(found, environ, now_s)
        _try_gpu_backend(found, "amdsmi", lambda: _amd(environ, now_s))
        _try_gpu_backend(found, "intel-gpu", lambda: _intel_gpu(hwmon_root, now_s))
    _try_gpu_backend(found, "apple", lambda: _apple(found, overrides, now_s))

    have = {s.component for s in found.sources}
    if "cpu" not in have:
        _add_cpu_model(found, now_s, dmi_root)
    if "ram" not in have:
        from .ram_model import RamModelSource

        found.sources.append(RamModelSource(now_s, refresh_s=refresh_s))
    from .scope import probe_container

    probe_container(found, cgroup_root, scope, refresh_s, now_s)
    return found


def _try_rapl(found: Detection, powercap_root: str, overrides: dict, now_s: float) -> None:
    from .rapl import RaplUnavailable, discover_rapl

    if "cpu" in overrides and "ram" in overrides:
        found.skipped["rapl"] = "CPU and RAM power set by the user"
        return
    try:
        sources = discover_rapl(powercap_root, now_s)
    except RaplUnavailable as exc:
        found.skipped["rapl"] = str(exc)
        if exc.locked:
            found.fixes["rapl"] = str(exc)
        return
    except Exception as exc:  # never raise from detection
        found.skipped["rapl"] = f"RAPL probe failed: {exc}"
        return
    found.sources.extend(s for s in sources if s.component not in overrides)
    if not any(s.component == "ram" for s in sources):
        found.notes.append("RAPL has no dram domain here: RAM is modelled")


def _try_nvml(found: Detection, environ: Any, now_s: float) -> None:
    from .nvml import NvmlUnavailable, discover_nvml

    try:
        sources, nvml = discover_nvml(environ.get("CUDA_VISIBLE_DEVICES"), now_s)
    except NvmlUnavailable as exc:
        found.skipped["nvml"] = str(exc)
        return
    except Exception as exc:
        found.skipped["nvml"] = f"NVML probe failed: {exc}"
        return
    found.sources.extend(sources)
    found.nvml = nvml


def _try_gpu_backend(found: Detection, name: str, discover: Any) -> None:
    """Run one backend's factory: ``discover()`` returns (sources, {device: why not measured})."""
    try:
        sources, skipped = discover()
    except Exception as exc:  # each backend's *Unavailable carries the reason; anything else too
        found.skipped[name] = str(exc) or type(exc).__name__
        return
    found.sources.extend(sources)
    found.skipped.update((f"{name} {device}", why) for device, why in skipped.items())


def _amd(environ: Any, now_s: float) -> tuple[list, dict]:
    from .amd import discover_amd

    return discover_amd(environ, now_s)


def _intel_gpu(hwmon_root: str, now_s: float) -> tuple[list, dict]:
    from .intel_gpu import discover_intel_gpu

    return discover_intel_gpu(hwmon_root, now_s)


def _apple(found: Detection, overrides: dict, now_s: float) -> tuple[list, dict]:
    from .apple import discover_apple

    have = {s.component for s in found.sources}  # RAPL or a user-set wattage wins
    return discover_apple(now_s, {"cpu", "gpu", "ram"} - have - set(overrides)), {}


def _add_cpu_model(found: Detection, now_s: float, dmi_root: str) -> None:
    from .cloud import detect_cloud
    from .cpu_model import CpuModelSource, read_cpu_info, tdp_for

    try:
        info = read_cpu_info()
        found.cloud = cloud = detect_cloud(dmi_root)
        if cloud is not None:  # the provider's per-vCPU watts, not the host's TDP
            tdp_w, note, curve = cloud.max_w_per_vcpu * info.threads, cloud.note(info.threads), cloud.curve
            found.sources.append(CpuModelSource(tdp_w, now_s, device=f"{info.model_name} ({cloud.name} vCPUs)", curve=curve))
        else:
            tdp_w, note = tdp_for(info)
            found.sources.append(CpuModelSource(tdp_w, now_s, device=info.model_name))
        found.notes.append(f"CPU model: {note}")
    except Exception as exc:
        found.skipped["cpu-model"] = f"CPU model unavailable: {exc}"
