"""AMD GPUs through ``amdsmi``, the Python binding AMD ships with ROCm (extra ``amd``).

Two ways to measure, chosen per GPU at start-up:

``amd-energy``
    ``amdsmi_get_energy_count(h)`` returns ``{"energy_accumulator": ticks, "counter_resolution":
    µJ per tick, "timestamp": ...}`` (before amdsmi 6.2.1 the ticks were under ``"power"``).
    Energy = ticks × resolution, in µJ.
``amd-power``
    ``amdsmi_get_power_info(h)`` reports ``average_socket_power`` (Navi, MI200 and older) or
    ``current_socket_power`` (MI300 and newer), both in **W** (unsupported fields read ``"N/A"``
    or UINT32_MAX); the samples are integrated with the trapezoid rule, like NVML's power path.

The counter is trusted only after a check: two reads ``CHECK_S`` apart must agree with the power
sensor within a factor of 3 (or 20 W), and neither may exceed the board's power cap by much
(``amdsmi_get_power_cap_info``, µW) — a counter that implies megawatts is refused with the
figures, and power integration is used instead. Amdsmi's counter has been reported to be off on
some boards (ROCm/amdsmi#38); CodeCarbon's first AMD release printed "Total GPU Power: 12572969 W".

Dual-die parts (MI250/MI250X): each card shows as two GPUs (GCDs), but only one of them reports
power and energy, for the **whole card**; the other reads 0 W and a still counter. So the energy
is counted once: the reporting die's source is named "(both dies)", the silent die is listed as
skipped with the reason (make both visible to count a card whose work runs on the silent die). Were
a driver to report each die's own power, both dies would pass the check and be summed, which is then
also correct, and named without "(both dies)". Dies are told apart by what they report, not by
index parity, so nothing here assumes which die of a pair is the reporting one.

Visibility follows the ROCm runtime: ``ROCR_VISIBLE_DEVICES`` (indices or UUIDs) filters first,
then ``HIP_VISIBLE_DEVICES`` (or, when unset, ``CUDA_VISIBLE_DEVICES``) indexes into what is left.
GPUs are numbered by HIP index (``amdsmi_get_gpu_enumeration_info(h)["hip_id"]`` where the
binding has it, else amdsmi's own order), the numbers PyTorch shows as ``cuda:N``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TypeVar

from .base import PowerIntegral, Reading
from .counter import CounterTotal
from .discovery import DiscoveryContext, Found, Unavailable
from .visible import amd_visible_indices

__all__ = ["AmdSource", "AmdUnavailable", "discover", "power_w_from_info", "energy_uj_from_count"]

#: Seconds between the two reads of the start-up check.
CHECK_S = 0.25
#: Above this a reading is a unit or firmware error, whatever the board (MI355X: 1.4 kW).
MAX_POWER_W = 3000.0
#: Smallest window each method resolves (assumed, not yet measured on AMD hardware): the counter
#: is refreshed by the firmware every few ms on MI200/MI300 — 0.1 s is a safe bound; the average
#: power is a ~1 s average.
RESOLUTION_S = {"amd-energy": 0.1, "amd-power": 1.0}
_UNSUPPORTED = 0xFFFFFFFF  # what unsupported struct members hold
#: How the start-up check waits and reads time (module attributes, so that tests on a fake clock
#: can set them).
_sleep: Callable[[float], None] = time.sleep
_clock: Callable[[], float] = time.monotonic


T = TypeVar("T")


class AmdUnavailable(Unavailable):
    """Why amdsmi cannot be used, in one line that says what to do."""


def _number(value: object) -> float | None:
    """A reported figure, or None for "N/A", UINT32_MAX/UINT64_MAX and the like."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value < 0 or value >= _UNSUPPORTED:
        return None
    return float(value)


def power_w_from_info(info: Mapping[str, object]) -> float | None:
    """Socket power in W from ``amdsmi_get_power_info``'s dict (average, else current, else
    socket)."""
    for key in ("average_socket_power", "current_socket_power", "socket_power"):
        power_w = _number(info.get(key))
        if power_w is not None and power_w > 0:
            return power_w
    return None


def energy_uj_from_count(count: Mapping[str, object]) -> float | None:
    """Cumulative energy in µJ from ``amdsmi_get_energy_count``'s dict."""
    ticks = count.get("energy_accumulator", count.get("power"))  # "power" before amdsmi 6.2.1
    resolution_uj = _number(count.get("counter_resolution"))
    if not isinstance(ticks, int) or isinstance(ticks, bool) or ticks < 0 or not resolution_uj:
        return None
    return ticks * resolution_uj


class AmdSource:
    component = "gpu"
    measured = True

    def __init__(
        self,
        smi: ModuleType,
        handle: object,
        index: int,
        model: str,
        method: str,
        now_s: float,
        max_power_w: float,
    ) -> None:
        self._smi = smi
        self._handle = handle
        #: the GPU's index as amdsmi lists it and its model name (with "(both dies)" for a whole
        #: MI250)
        self.index, self.model = index, model
        self.device = f"gpu{index} {model}"
        self.method = method
        self.resolution_s = RESOLUTION_S[method]
        if method == "amd-energy":
            self._counter = CounterTotal(self._energy_uj(), now_s, max_power_w=max_power_w)
        else:
            self._power = PowerIntegral(now_s, self._power_w())

    def _energy_uj(self) -> float:
        energy_uj = energy_uj_from_count(self._smi.amdsmi_get_energy_count(self._handle))
        if energy_uj is None:
            raise RuntimeError("amdsmi_get_energy_count returned no energy accumulator")
        return energy_uj

    def _power_w(self) -> float:
        power_w = power_w_from_info(self._smi.amdsmi_get_power_info(self._handle))
        if power_w is None:
            raise RuntimeError("amdsmi_get_power_info returned no socket power")
        return power_w

    @property
    def glitches(self) -> int:
        """Counter steps dropped as implausible (jumps beyond the board's power)."""
        return self._counter.glitches if self.method == "amd-energy" else 0

    def read(self, now_s: float) -> Reading:
        if self.method == "amd-energy":
            energy_j = self._counter.step(self._energy_uj(), now_s) / 1e6
        else:
            energy_j = self._power.add(now_s, self._power_w())
        return Reading(energy_j, energy_j, energy_j)

    def close(self) -> None:
        pass  # amdsmi is shut down by the Found's close, after every source

    def __repr__(self) -> str:
        return f"<AmdSource {self.device!r} ({self.method})>"


def _driver_present() -> bool:
    """Cheap probe before importing amdsmi: the amdgpu kernel driver's compute node."""
    return "amdsmi" in sys.modules or os.path.exists("/dev/kfd")


def _import_amdsmi() -> ModuleType:
    try:
        with contextlib.redirect_stdout(None):  # amdsmi prints when libamd_smi.so is missing
            import amdsmi
    except ImportError:
        raise AmdUnavailable(
            "amdsmi is not installed (pip install 'jupyter-carbon[amd]', "
            "or use the one ROCm ships in /opt/rocm/share/amd_smi)"
        ) from None
    # OSError (no libamd_smi.so), KeyError/AttributeError (binding ≠ ROCm version)
    except Exception as exc:
        raise AmdUnavailable(
            f"amdsmi failed to import ({type(exc).__name__}: {exc}); "
            "install the amdsmi matching your ROCm version"
        ) from None
    return amdsmi


def _hip_order(smi: ModuleType, handles: list[object]) -> list[object]:
    enum = getattr(smi, "amdsmi_get_gpu_enumeration_info", None)
    if enum is None:
        return handles
    try:
        return sorted(handles, key=lambda h: enum(h)["hip_id"])
    except Exception:
        return handles


def _call(fn: Callable[..., T], *args: object) -> T | None:
    try:
        return fn(*args)
    except Exception:
        return None


def _name(smi: ModuleType, handle: object) -> str:
    info = _call(smi.amdsmi_get_gpu_asic_info, handle) or {}
    name = info.get("market_name") or info.get("name") or "AMD GPU"
    return str(name).strip()


def _cap_w(smi: ModuleType, handle: object) -> float | None:
    info = _call(getattr(smi, "amdsmi_get_power_cap_info", lambda h: None), handle) or {}
    cap = _number(info.get("power_cap")) or _number(info.get("max_power_cap"))
    if not cap:
        return None
    # documented as µW; a value under 10 kW can only be W
    return cap if cap < 10_000 else cap / 1e6


def _agree(counter_w: float, power_w: float) -> bool:
    return abs(counter_w - power_w) <= 20.0 or power_w / 3 <= counter_w <= power_w * 3


def discover(context: DiscoveryContext) -> Found:
    """One source per visible AMD GPU and the reasons for those not measured (by device);
    ``close`` shuts amdsmi down. Raises ``AmdUnavailable`` when none can be measured."""
    if "gpu" in context.power:
        return Found()  # the user's wattage replaces every GPU (NVML's reason says so)
    if not _driver_present():
        raise AmdUnavailable("no AMD GPU driver (/dev/kfd not found)")
    smi = _import_amdsmi()
    try:
        flags = getattr(getattr(smi, "AmdSmiInitFlags", None), "INIT_AMD_GPUS", None)
        smi.amdsmi_init(flags) if flags is not None else smi.amdsmi_init()
    except Exception as exc:
        raise AmdUnavailable(f"amdsmi could not initialise: {exc}") from None
    try:
        handles = _hip_order(smi, list(smi.amdsmi_get_processor_handles()))
        uuids = [
            str(_call(getattr(smi, "amdsmi_get_gpu_device_uuid", lambda h: ""), h) or "")
            for h in handles
        ]
        visible = amd_visible_indices(context.environ, uuids)
        found = _checked_sources(smi, handles, visible, context.now_s)
    except Exception as exc:
        _shut_down(smi)
        raise AmdUnavailable(f"amdsmi error while listing GPUs: {exc}") from None
    if not found.sources:
        _shut_down(smi)
        if found.skipped:
            raise AmdUnavailable("; ".join(f"{d}: {why}" for d, why in found.skipped.items()))
        raise AmdUnavailable(
            "HIP_VISIBLE_DEVICES/ROCR_VISIBLE_DEVICES hide every GPU"
            if handles
            else "amdsmi reports no GPU"
        )
    found.close = lambda: _shut_down(smi)
    return found


def _shut_down(smi: ModuleType) -> None:
    with contextlib.suppress(Exception):
        smi.amdsmi_shut_down()


def _checked_sources(
    smi: ModuleType, handles: list[object], visible: list[int], now_s: float
) -> Found:
    """Read counter and power twice, ``CHECK_S`` apart; keep the methods that are plausible."""
    names = {i: _name(smi, handles[i]) for i in visible}
    devices = {i: f"gpu{i} {names[i]}" for i in visible}
    caps = {i: _cap_w(smi, handles[i]) for i in visible}

    def read(i: int) -> tuple[float | None, float | None]:
        count = _call(smi.amdsmi_get_energy_count, handles[i])
        info = _call(smi.amdsmi_get_power_info, handles[i])
        return (
            energy_uj_from_count(count) if isinstance(count, dict) else None,
            power_w_from_info(info) if isinstance(info, dict) else None,
        )

    t0 = _clock()
    first = {i: read(i) for i in visible}
    _sleep(CHECK_S)
    t1 = _clock()
    second = {i: read(i) for i in visible}
    dt = max(t1 - t0, 1e-6)

    chosen: dict[int, str] = {}
    skipped: dict[str, str] = {}
    ceilings: dict[int, float] = {}
    for i in visible:
        (e0, p0), (e1, p1) = first[i], second[i]
        cap_w = caps[i]
        ceiling_w = min(MAX_POWER_W, 1.5 * cap_w + 50) if cap_w else MAX_POWER_W
        ceilings[i] = ceiling_w
        power_w = (p0 + p1) / 2 if p0 is not None and p1 is not None else None
        if power_w is not None and power_w > ceiling_w:
            skipped[devices[i] + " power"] = (
                f"power sensor reads {power_w:.4g} W, "
                f"above the plausible {ceiling_w:.4g} W: not used"
            )
            power_w = None
        counter_w = (e1 - e0) / 1e6 / dt if e0 is not None and e1 is not None else None
        if counter_w is not None and counter_w <= 0 and power_w is None:
            if "MI250" in names[i]:
                skipped[devices[i]] = (
                    "second die of a dual-die MI250/MI250X: its energy is reported by the other "
                    "die of the same card (make both visible to count the card)"
                )
            else:
                skipped[devices[i]] = "reports neither power nor a moving energy counter"
            continue
        if counter_w is not None:
            why = None
            if counter_w < 0 or counter_w > ceiling_w:
                why = (
                    f"energy counter implies {counter_w:.4g} W over {dt:.2g} s, "
                    f"beyond the plausible {ceiling_w:.4g} W"
                )
            elif power_w is not None and not _agree(counter_w, power_w):
                why = (
                    f"energy counter implies {counter_w:.4g} W "
                    f"while the power sensor reads {power_w:.4g} W"
                )
            elif power_w is None and counter_w == 0:
                why = "energy counter did not move"
            if why is None:
                chosen[i] = "amd-energy"
                continue
            skipped[devices[i] + " energy counter"] = why + (
                "; integrating power instead" if power_w is not None else ""
            )
        if power_w is not None:
            chosen[i] = "amd-power"
        elif devices[i] not in skipped and devices[i] + " energy counter" not in skipped:
            skipped[devices[i]] = "no energy counter or power sensor readable through amdsmi"

    # the reporting die speaks for its card when a partner die is silent or hidden (an odd count)
    mi250 = [i for i in visible if "MI250" in names[i]]
    whole_card = len([i for i in mi250 if i in chosen]) < len(mi250) or len(mi250) % 2 == 1
    found = Found(skipped=skipped)
    for i, method in chosen.items():
        model = names[i] + (" (both dies)" if whole_card and i in mi250 else "")
        found.sources.append(AmdSource(smi, handles[i], i, model, method, now_s, ceilings[i]))
    return found
