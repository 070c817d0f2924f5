"""A small kernel-rendered file (sysfs, procfs) kept open and re-read from its start.

``/sys/class/powercap/*/energy_uj`` and ``/proc/uptime`` render their value again at each read
from offset 0, so one ``pread`` on a descriptor opened once replaces open, read and close: one
system call per read instead of three, on the window path of every cell.
"""

from __future__ import annotations

import os

__all__ = ["PreadFile"]


class PreadFile:
    _fd = -1  # until opened: a file that failed to open has nothing to close

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes from the start of the file."""
        return os.pread(self._fd, size, 0)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()
