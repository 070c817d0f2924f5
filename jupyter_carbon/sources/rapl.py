"""Intel/AMD RAPL energy counters through the Linux powercap sysfs tree.

Layout (``root`` defaults to ``/sys/class/powercap``)::

    intel-rapl:0/name = package-0      -> cpu, socket 0
    intel-rapl:0/energy_uj             -> cumulative µJ, wraps at max_energy_range_uj
    intel-rapl:0:2/name = dram         -> ram, socket 0 (when the platform exposes it)
    intel-rapl:0:0/name = core         (subset of the package: skipped, it would double count)
    intel-rapl:1/name = psys           (whole platform, overlaps package: skipped)

Counters that lie (:class:`~.counter.CounterTotal`): a counter that goes backwards is a wrap
only if the wrapped step is plausible; far from its range it was reset (firmware, a driver
reload, a VM migration), and a forward jump larger than any package could draw in the time since
the previous read (``MAX_ZONE_POWER_W``) is a glitch. Such a step is dropped and replaced by the
last power × time, counted in ``glitches`` (``%carbon status``), and the sampler flags the open
windows.

A file that is not a regular file (a FIFO) is refused at once instead of blocking.

Since CVE-2020-8694 (Platypus) ``energy_uj`` is readable by root only on most distributions;
discovery then reports the command that grants read access and the CPU model is used instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .counter import MicrojouleFileSource
from .discovery import DiscoveryContext, Found, Unavailable
from .pread import read_small

__all__ = ["RaplSource", "discover", "RAPL_PERMISSION_FIX", "RaplUnavailable", "MAX_ZONE_POWER_W"]

#: No CPU package or DRAM zone draws this much (the largest server parts stay under 500 W):
#: energy faster than this between two reads is a counter glitch.
MAX_ZONE_POWER_W = 1000.0

RAPL_PERMISSION_FIX = (
    "sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj "
    "/sys/class/powercap/intel-rapl:*:*/energy_uj"
)
_ZONE = re.compile(r"^intel-rapl:(\d+)(?::(\d+))?$")


class RaplUnavailable(Unavailable):
    """Why RAPL cannot be used, in one line that says what to do; with ``fix`` when the counters
    are there but readable by root only."""


def _read_int(path: Path) -> int:
    return int(read_small(path, 32))


class RaplSource(MicrojouleFileSource):
    """One RAPL zone as a cumulative energy source, unwrapping the counter.

    The counter wraps at ``max_energy_range_uj`` (about 262 kJ, i.e. every ~20 min at 200 W; 2**32
    µJ when the file is missing or reads 0), so it must be read at least once per wrap period while
    a window is open: the sampler ticks at least every ``max_gap_s`` (the range at
    ``MAX_ZONE_POWER_W``, halved) then, whatever ``interval``. It parks between windows, so a gap
    longer than a wrap period loses whole wraps between two windows: no window's energy changes
    (each is the difference of reads within it), only the "recent power" used for very short
    windows just after such a gap.

    The file is kept open and re-read with one ``pread`` (:class:`MicrojouleFileSource`).
    """

    method = "rapl"

    def __init__(
        self, zone: Path, component: str, device: str, max_range_uj: int, now_s: float
    ) -> None:
        self.component = component
        self.device = device
        self._open_counter(
            zone / "energy_uj", now_s, max_power_w=MAX_ZONE_POWER_W, wrap_uj=max_range_uj
        )


def _zone_source(zone: Path, name: str, socket: int, now_s: float) -> RaplSource | None:
    if name.startswith("package"):
        component, device = "cpu", f"package-{socket}"
    elif name == "dram":
        component, device = "ram", f"dram-{socket}"
    else:  # core, uncore, psys, mmio: subsets of or overlaps with the package
        return None
    try:
        max_range_uj = _read_int(zone / "max_energy_range_uj")
    except (OSError, ValueError):
        max_range_uj = 0
    if max_range_uj <= 0:  # missing or 0: without a width a wrap would be taken as a reset
        max_range_uj = 2**32  # the smallest width seen on real hardware; only matters on a wrap
    return RaplSource(zone, component, device, max_range_uj, now_s)


def discover(context: DiscoveryContext) -> Found:
    """One source per package and dram zone under ``context.powercap_root`` whose component the
    user has not set a wattage for; raises ``RaplUnavailable``."""
    if "cpu" in context.power and "ram" in context.power:
        raise RaplUnavailable("CPU and RAM power set by the user")
    sources = _zone_sources(Path(context.powercap_root), context.now_s)
    found = Found()
    if not any(s.component == "ram" for s in sources):
        found.notes.append("RAPL has no dram domain here: RAM is modelled")
    for source in sources:
        if source.component in context.power:
            source.close()
        else:
            found.sources.append(source)
    return found


def _zone_sources(root: Path, now_s: float) -> list[RaplSource]:
    try:
        entries = sorted(os.listdir(root))
    except FileNotFoundError:
        raise RaplUnavailable(
            f"no powercap tree at {root} (not Linux, a VM, or the intel_rapl driver is not loaded)"
        ) from None
    except OSError as exc:
        raise RaplUnavailable(f"cannot list {root}: {exc.strerror}") from None
    sources: list[RaplSource] = []
    try:
        for entry in entries:
            match = _ZONE.match(entry)
            if not match:
                continue
            zone = root / entry
            try:
                name = read_small(zone / "name", 64).decode("ascii", "replace").strip()
                source = _zone_source(zone, name, int(match.group(1)), now_s)
            except PermissionError:
                why = (
                    "RAPL counters are readable by root only (CVE-2020-8694); "
                    f"to measure the CPU run: {RAPL_PERMISSION_FIX}"
                )
                raise RaplUnavailable(why, fix=why) from None
            except (OSError, ValueError) as exc:
                why = f"RAPL counter {zone / 'energy_uj'} is unreadable ({exc})"
                raise RaplUnavailable(why) from None
            if source is not None:
                sources.append(source)
    except RaplUnavailable:
        for source in sources:
            source.close()
        raise
    if not sources:
        raise RaplUnavailable(f"no RAPL package zone under {root}")
    return sources
