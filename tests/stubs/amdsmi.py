"""A stand-in for AMD's ``amdsmi`` Python binding (ROCm 6.x names and units).

Units as in the real library: ``amdsmi_get_energy_count`` → ``energy_accumulator`` ticks ×
``counter_resolution`` µJ (before 6.2.1 the ticks were under ``"power"``), ``timestamp`` ns;
``amdsmi_get_power_info`` → ``average_socket_power``/``current_socket_power`` in W, ``"N/A"``
where unsupported; ``amdsmi_get_power_cap_info`` → µW.

``configure(gpus, clock)`` sets the hardware. Each GPU dict:
  name, uuid, hip_id, power_w (callable of time; the die's true power),
  power_field ("average" default, "current" as on MI300, None: both "N/A"),
  power_scale (1: W as specified; 1e3 or 1e6 reproduce a mW/µW mix-up),
  counter (True default; False: energy count raises NOT_SUPPORTED),
  resolution_uj (15.3 default), counter_scale (1: truthful; e.g. 1e6: reproduces a 12 MW counter),
  old_api (ticks under "power"), update_s (the firmware refreshes the counter this often;
  0: always), secondary_die (an MI250 GCD that reports 0 W and a still counter; its power is in
  its partner's), cap_uw (power cap), fail_at (time from which reads raise),
  backwards_at/jump_at (time after which the accumulator goes back to 0 / jumps by 10**12 ticks).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

AMDSMI_STATUS_NOT_SUPPORTED = 2
AMDSMI_STATUS_INIT_ERROR = 18


class AmdSmiException(Exception):
    pass


class AmdSmiLibraryException(AmdSmiException):
    def __init__(self, code: int, info: str = "") -> None:
        super().__init__(f"Error code:\n\t{code} | {info}")
        self._code = code
        self._info = info

    def get_error_code(self) -> int:
        return self._code

    def get_error_info(self) -> str:
        return self._info


class AmdSmiInitFlags(enum.IntFlag):
    INIT_ALL_PROCESSORS = 0xFFFFFFFF
    INIT_AMD_CPUS = 1 << 0
    INIT_AMD_GPUS = 1 << 1


class _Handle:
    """amdsmi handles are opaque ctypes pointers; only identity matters."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"<stub amdsmi handle {self.index}>"


gpus: list[dict] = []
clock: Callable[[], float] = lambda: 0.0
state: dict[str, Any] = {}


def configure(
    specs: list[dict], clock_fn: Callable[[], float], init_error: str | None = None
) -> None:
    global gpus, clock, state
    gpus = specs
    clock = clock_fn
    now = clock_fn()
    state = {
        "init": 0,
        "shutdown": 0,
        "init_error": init_error,
        "energy_uj": [0.0] * len(specs),
        "t": [now] * len(specs),
        "handles": [_Handle(i) for i in range(len(specs))],
        "refreshed_uj": [0.0] * len(specs),
        "refreshed_t": [now] * len(specs),
    }


def _gpu(handle: _Handle) -> dict:
    if not state["init"] or state["shutdown"] >= state["init"]:
        raise AmdSmiLibraryException(32, "AMDSMI_STATUS_NOT_INIT")
    gpu = gpus[handle.index]
    if gpu.get("fail_at") is not None and clock() >= gpu["fail_at"]:
        raise AmdSmiLibraryException(34, "AMDSMI_STATUS_DRIVER_NOT_LOADED")
    return gpu


def _true_power_w(gpu: dict, t: float) -> float:
    return 0.0 if gpu.get("secondary_die") else gpu["power_w"](t)


def _advance(i: int) -> None:
    gpu = gpus[i]
    t0, t1 = state["t"][i], clock()
    steps = max(1, int((t1 - t0) / 0.001))
    h = (t1 - t0) / steps
    state["energy_uj"][i] += (
        sum(_true_power_w(gpu, t0 + (k + 0.5) * h) for k in range(steps)) * h * 1e6
    )
    state["t"][i] = t1
    update_s = gpu.get("update_s", 0.0)
    if not update_s or t1 - state["refreshed_t"][i] >= update_s:
        state["refreshed_uj"][i] = state["energy_uj"][i]
        state["refreshed_t"][i] = (
            t1 if not update_s else t1 - (t1 - state["refreshed_t"][i]) % update_s
        )


def amdsmi_init(flag: int = AmdSmiInitFlags.INIT_AMD_GPUS) -> None:
    if state.get("init_error"):
        raise AmdSmiLibraryException(AMDSMI_STATUS_INIT_ERROR, state["init_error"])
    state["init"] += 1


def amdsmi_shut_down() -> None:
    state["shutdown"] += 1


def amdsmi_get_processor_handles() -> list:
    if not state["init"]:
        raise AmdSmiLibraryException(32, "AMDSMI_STATUS_NOT_INIT")
    return list(state["handles"])


def amdsmi_get_gpu_enumeration_info(handle: _Handle) -> dict:
    gpu = _gpu(handle)
    return {
        "drm_render": 128 + handle.index,
        "drm_card": handle.index,
        "hsa_id": handle.index + 1,
        "hip_id": gpu.get("hip_id", handle.index),
        "hip_uuid": gpu.get("uuid", ""),
    }


def amdsmi_get_gpu_device_uuid(handle: _Handle) -> str:
    return _gpu(handle).get("uuid", f"{handle.index:08x}-0000-1000-80ff-ffffffffffff")


def amdsmi_get_gpu_asic_info(handle: _Handle) -> dict:
    gpu = _gpu(handle)
    return {
        "market_name": gpu.get("name", "AMD Instinct MI210"),
        "vendor_id": "0x1002",
        "device_id": "0x740f",
        "rev_id": "0x02",
        "asic_serial": "0x0",
        "oam_id": "N/A",
    }


def amdsmi_get_energy_count(handle: _Handle) -> dict:
    gpu = _gpu(handle)
    if not gpu.get("counter", True):
        raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED, "AMDSMI_STATUS_NOT_SUPPORTED")
    i = handle.index
    _advance(i)
    energy_uj = state["refreshed_uj"][i]
    resolution_uj = gpu.get("resolution_uj", 15.3)
    ticks = int(energy_uj / resolution_uj * gpu.get("counter_scale", 1.0))
    if gpu.get("backwards_at") is not None and clock() >= gpu["backwards_at"]:
        ticks = int(
            (energy_uj - state.setdefault("energy_at_reset", {}).setdefault(i, energy_uj))
            / resolution_uj
        )
    if gpu.get("jump_at") is not None and clock() >= gpu["jump_at"]:
        ticks += 10**12
    key = "power" if gpu.get("old_api") else "energy_accumulator"
    return {key: ticks, "counter_resolution": resolution_uj, "timestamp": int(clock() * 1e9)}


def amdsmi_get_power_info(handle: _Handle) -> dict:
    gpu = _gpu(handle)
    field = gpu.get("power_field", "average")
    power = round(_true_power_w(gpu, clock()) * gpu.get("power_scale", 1.0))
    return {
        "socket_power": power if field else "N/A",
        "current_socket_power": power if field == "current" else "N/A",
        "average_socket_power": power if field == "average" else "N/A",
        "gfx_voltage": 800,
        "soc_voltage": 900,
        "mem_voltage": 1200,
        "power_limit": gpu.get("cap_uw", 300_000_000) // 1_000_000,
    }


def amdsmi_get_power_cap_info(handle: _Handle) -> dict:
    cap_uw = _gpu(handle).get("cap_uw", 300_000_000)
    return {
        "power_cap": cap_uw,
        "default_power_cap": cap_uw,
        "dpm_cap": 0,
        "min_power_cap": 0,
        "max_power_cap": cap_uw,
    }
