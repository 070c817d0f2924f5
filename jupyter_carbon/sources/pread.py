"""A small kernel-rendered file (sysfs, procfs) kept open and re-read from its start.

``/sys/class/powercap/*/energy_uj`` and ``/proc/uptime`` render their value again at each read
from offset 0, so one ``pread`` on a descriptor opened once replaces open, read and close: one
system call per read instead of three, on the window path of every cell.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["PreadFile", "open_regular", "read_small"]


def open_regular(path: str | os.PathLike) -> int:
    """A read-only descriptor for ``path``, which must be a regular file (sysfs and procfs files
    are).

    Opened non-blocking, so that a FIFO or a device planted where a counter should be cannot hang
    the caller (``%load_ext``, ``report``): it raises ``OSError`` instead.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, f"{os.fspath(path)} is not a regular file")
    return fd


def read_small(path: str | os.PathLike, size: int = 4096) -> bytes:
    """Up to ``size`` bytes of a small regular file (see :func:`open_regular`)."""
    fd = open_regular(path)
    try:
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)


class PreadFile:
    _fd = -1  # until opened: a file that failed to open has nothing to close

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = path
        self._fd = open_regular(path)

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes from the start of the file."""
        return os.pread(self._fd, size, 0)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()
