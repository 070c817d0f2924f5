"""RAM power model: a fixed power per GB of memory in use.

0.375 W/GB is 3 W per 8 GB DDR4 module (Crucial, "How much power does memory use?", the figure
CodeCarbon used up to 2.x). The band, 0.19–0.75 W/GB, spans low-voltage DDR5/LPDDR (about half)
to registered server DIMMs (about double). Memory in use is re-read at most once per
``refresh_s`` (the sampler interval) so that opening and closing a window stays cheap: RAM in
use changes slowly compared to the accuracy of the model.
"""

from __future__ import annotations

from collections.abc import Callable

from .base import IntegratingSource

__all__ = ["RamModelSource", "RAM_W_PER_GB", "RAM_W_PER_GB_BAND", "machine_ram_used_gb"]

RAM_W_PER_GB = 0.375
RAM_W_PER_GB_BAND = (0.1875, 0.75)
BYTES_PER_GB = 1024**3


def machine_ram_used_gb() -> float:
    """Memory in use (total − available) in GB: /proc/meminfo on Linux, psutil elsewhere.

    Same figure as ``psutil.virtual_memory()``, without importing psutil (~10 ms) at %load_ext.
    """
    try:
        fields = {}
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                key, _, rest = line.partition(b":")
                if key in (b"MemTotal", b"MemAvailable"):
                    fields[key] = int(rest.split()[0]) * 1024
                    if len(fields) == 2:
                        return (fields[b"MemTotal"] - fields[b"MemAvailable"]) / BYTES_PER_GB
    except (OSError, ValueError, IndexError):
        pass
    import psutil  # ~10 ms: only where /proc/meminfo cannot be read

    vm = psutil.virtual_memory()
    return (vm.total - vm.available) / BYTES_PER_GB


class RamModelSource(IntegratingSource):
    component = "ram"
    method = "ram-model"
    measured = False
    device = "ram"

    def __init__(
        self,
        now_s: float,
        used_gb: Callable[[], float] = machine_ram_used_gb,
        refresh_s: float = 1.0,
    ) -> None:
        super().__init__(now_s)
        self._used_gb_fn = used_gb
        self.refresh_s = refresh_s
        self.used_gb = used_gb()
        self._refreshed_s = now_s

    def _power_band_w(self, now_s: float) -> tuple[float, float, float]:
        if now_s - self._refreshed_s >= self.refresh_s:
            self.used_gb = self._used_gb_fn()
            self._refreshed_s = now_s
        gb = self.used_gb
        return RAM_W_PER_GB * gb, RAM_W_PER_GB_BAND[0] * gb, RAM_W_PER_GB_BAND[1] * gb
