"""Intel GPUs through the kernel's hwmon files (drivers ``i915`` and ``xe``).

Layout (``root`` defaults to ``/sys/class/hwmon``; the setting ``hwmon_root`` changes it)::

    hwmon3/name            = xe                  (or i915)
    hwmon3/device          -> ../../0000:03:00.0 (link to the PCI device)
    hwmon3/energy1_input   = 123456789           cumulative µJ
                                                 (Documentation/ABI: sysfs-driver-intel-*-hwmon)
    hwmon3/energy1_label   = card                (xe: "card" = whole board,
                                                 energy2 "pkg" = GPU package)

The drivers register hwmon for discrete GPUs; an integrated GPU (PCI 0000:00:02.0) is part of the
CPU package that RAPL already measures, so it is skipped rather than counted twice. Of several
energy files the board-level one (label ``card``) is preferred, else ``pkg``, else ``energy1``.

The i915 ABI warns that the 32-bit hardware register can wrap; the driver accounts one wrap per
read and reports 64 bits. A value that still goes backwards is taken as a wrap at 2**32 µJ when the
previous value was below that, else as a reset; a jump beyond ``MAX_POWER_W`` is dropped
(:class:`~jupyter_carbon.sources.counter.CounterTotal`).
"""

from __future__ import annotations

import os
from pathlib import Path

from .counter import MicrojouleFileSource
from .discovery import DiscoveryContext, Found, Unavailable
from .pread import read_small

__all__ = ["IntelGpuSource", "IntelGpuUnavailable", "discover", "DRIVERS"]

DRIVERS = ("xe", "i915")
#: No Intel GPU draws more (Data Center GPU Max 1550: 600 W).
MAX_POWER_W = 1500.0
#: Smallest window the counter resolves (assumed: the register is refreshed every ~1 ms).
RESOLUTION_S = 0.01
_INTEGRATED_PCI = "0000:00:02.0"
_LABEL_ORDER = {"card": 0, "pkg": 1}


class IntelGpuUnavailable(Unavailable):
    """Why no Intel GPU can be measured, in one line."""


class IntelGpuSource(MicrojouleFileSource):
    component = "gpu"
    method = "intel-hwmon"
    resolution_s = RESOLUTION_S

    def __init__(self, path: Path, index: int, model: str, now_s: float) -> None:
        #: the GPU's place among the Intel GPUs measured, and what it is (driver, PCI address,
        #: counter)
        self.index, self.model = index, model
        self.device = f"gpu{index} {model}"
        self._open_counter(path, now_s, max_power_w=MAX_POWER_W, wrap_uj=2**32)


def _text(path: Path) -> str:
    try:
        return read_small(path).decode("utf-8", "replace").strip()  # never blocks on a FIFO
    except OSError:
        return ""


def _energy_file(hwmon: Path) -> tuple[Path, str] | None:
    """The board-level energy file of one hwmon folder and its label."""
    found = []
    for entry in os.listdir(hwmon):
        if entry.startswith("energy") and entry.endswith("_input"):
            label = _text(hwmon / entry.replace("_input", "_label"))
            found.append((_LABEL_ORDER.get(label, 2), entry, label))
    if not found:
        return None
    _, entry, label = min(found)
    return hwmon / entry, label


def discover(context: DiscoveryContext) -> Found:
    """One source per discrete Intel GPU with an energy counter under ``context.hwmon_root``, and
    the reasons for the Intel GPUs not measured; raises ``IntelGpuUnavailable`` when there is none
    to measure."""
    if "gpu" in context.power:
        return Found()  # the user's wattage replaces every GPU (NVML's reason says so)
    root, now_s = Path(context.hwmon_root), context.now_s
    try:
        entries = sorted(os.listdir(root), key=lambda e: (len(e), e))
    except OSError:
        raise IntelGpuUnavailable(f"no hwmon tree at {root}") from None
    sources: list[IntelGpuSource] = []
    skipped: dict[str, str] = {}
    for entry in entries:
        hwmon = root / entry
        driver = _text(hwmon / "name")
        if driver not in DRIVERS:
            continue
        pci = (
            os.path.basename(os.path.realpath(hwmon / "device"))
            if (hwmon / "device").exists()
            else entry
        )
        model = f"Intel {driver} {pci}"
        if pci == _INTEGRATED_PCI:
            skipped[f"{driver} {pci}"] = (
                "integrated GPU: its energy is part of the CPU package (RAPL)"
            )
            continue
        path = hwmon
        try:
            found = _energy_file(hwmon)
            if found is None:
                skipped[f"{driver} {pci}"] = (
                    f"{driver} exposes no energy counter for this GPU "
                    "(needs Linux ≥ 5.14 for i915, ≥ 6.5 for xe)"
                )
                continue
            path, label = found
            sources.append(
                IntelGpuSource(path, len(sources), model + (f" ({label})" if label else ""), now_s)
            )
        except PermissionError:
            skipped[f"{driver} {pci}"] = (
                f"{path} is readable by root only; to measure this GPU run: sudo chmod a+r {path}"
            )
        except (OSError, ValueError) as exc:
            skipped[f"{driver} {pci}"] = f"energy counter unreadable ({exc})"
    if not sources:
        if skipped:
            raise IntelGpuUnavailable("; ".join(f"{d}: {why}" for d, why in skipped.items()))
        raise IntelGpuUnavailable(f"no i915/xe hwmon device under {root}")
    return Found(list(sources), skipped)
