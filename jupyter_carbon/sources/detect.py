"""Probe every backend once; never raise.

Order per component: a user-set wattage wins, then hardware counters (RAPL for CPU and DRAM;
NVML, amdsmi and Intel's hwmon for GPUs; Apple Silicon's SoC counters), then the models (CPU model,
RAM model; on AWS/GCP/Azure VMs the CPU model uses the provider's per-vCPU watts). Then the
kernel's cgroup is probed for the container scope. Every backend not used gets a reason.

The hardware backends all follow one contract (:mod:`.discovery`): ``discover(context)``
returns a ``Found`` or raises ``Unavailable``; :data:`BACKENDS` lists them in order.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from . import amd, apple, intel_gpu, nvml, rapl
from .base import EnergySource
from .cgroup import Cgroup
from .cloud import CloudProvider, detect_cloud
from .constant import ConstantPowerSource
from .cpu_model import CpuModelSource, read_cpu_info, tdp_for
from .discovery import DiscoveryContext, Found, Unavailable
from .paths import CGROUP_ROOT, DMI_ROOT, HWMON_ROOT, POWERCAP_ROOT
from .ram_model import RamModelSource
from .scope import probe_container, resolve_scope

__all__ = [
    "Backend",
    "BACKENDS",
    "Detection",
    "detect",
]


@dataclass(frozen=True)
class Backend:
    #: its key in ``Detection.skipped`` (devices it does not measure: ``"<name> <device>"``)
    name: str
    #: how an unexpected failure names it ("RAPL probe failed: …")
    title: str
    discover: Callable[[DiscoveryContext], Found]


#: The hardware counters, in the order they are tried: a later backend sees what the earlier ones
#: measure (``DiscoveryContext.measured``); the CPU and RAM models then fill in what none measures.
BACKENDS = (
    Backend("rapl", "RAPL", rapl.discover),
    Backend("nvml", "NVML", nvml.discover),
    Backend("amdsmi", "amdsmi", amd.discover),
    Backend("intel-gpu", "Intel GPU", intel_gpu.discover),
    Backend("apple", "Apple Silicon", apple.discover),
)


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
    #: the kernel's cgroup, its container-scope sources, the cloud (DMI)
    cgroup: Cgroup | None = None
    scoped: list[EnergySource] = field(default_factory=list)
    cloud: CloudProvider | None = None
    #: each backend's ``Found.close`` (releases its library), called after every source is closed
    releases: list[Callable[[], None]] = field(default_factory=list)

    def resolve(self, requested: str | None) -> tuple[str, str]:
        """(scope used, why) for a requested scope (``auto``/None picks container in a limiting
        cgroup)."""
        return resolve_scope(requested, self.cgroup, bool(self.scoped))

    def add(self, backend: Backend, found: Found) -> None:
        self.sources.extend(found.sources)
        for device, why in found.skipped.items():
            self.skipped[f"{backend.name} {device}"] = why
        self.notes.extend(found.notes)
        self.releases.append(found.close)

    def close(self) -> None:
        for source in [*self.sources, *self.scoped]:
            try:
                source.close()
            except Exception:
                pass
        while self.releases:
            try:
                self.releases.pop()()
            except Exception:
                pass


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
    now_s = time.monotonic() if now_s is None else now_s
    power = dict(power or {})
    found = Detection(
        sources=[ConstantPowerSource(c, power_w, now_s) for c, power_w in power.items()]
    )
    context = DiscoveryContext(
        now_s=now_s,
        environ=os.environ if environ is None else environ,
        power=power,
        powercap_root=powercap_root,
        hwmon_root=hwmon_root,
    )
    for backend in BACKENDS:
        context = replace(context, measured=frozenset(s.component for s in found.sources))
        _try(found, backend, context)

    have = {s.component for s in found.sources}
    if "cpu" not in have:
        _add_cpu_model(found, now_s, dmi_root)
    if "ram" not in have:
        found.sources.append(RamModelSource(now_s, refresh_s=refresh_s))
    probe_container(found, cgroup_root, scope, refresh_s, now_s)
    return found


def _try(found: Detection, backend: Backend, context: DiscoveryContext) -> None:
    """Run one backend; what it cannot measure becomes a reason, never an exception."""
    try:
        result = backend.discover(context)
    except Unavailable as exc:
        found.skipped[backend.name] = str(exc)
        if exc.fix is not None:
            found.fixes[backend.name] = exc.fix
        return
    except Exception as exc:  # never raise from detection
        why = str(exc) or type(exc).__name__
        found.skipped[backend.name] = f"{backend.title} probe failed: {why}"
        return
    found.add(backend, result)


def _add_cpu_model(found: Detection, now_s: float, dmi_root: str) -> None:
    try:
        info = read_cpu_info()
        found.cloud = cloud = detect_cloud(dmi_root)
        if cloud is not None:  # the provider's per-vCPU watts, not the host's TDP
            tdp_w, note, curve = (
                cloud.max_w_per_vcpu * info.threads,
                cloud.note(info.threads),
                cloud.curve,
            )
            found.sources.append(
                CpuModelSource(
                    tdp_w, now_s, device=f"{info.model_name} ({cloud.name} vCPUs)", curve=curve
                )
            )
        else:
            tdp_w, note = tdp_for(info)
            found.sources.append(CpuModelSource(tdp_w, now_s, device=info.model_name))
        found.notes.append(f"CPU model: {note}")
    except Exception as exc:
        found.skipped["cpu-model"] = f"CPU model unavailable: {exc}"
