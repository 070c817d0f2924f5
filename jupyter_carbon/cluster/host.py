"""One energy meter per host of a Dask cluster, shared by all the workers on that host.

Several workers on one machine must not each count the machine's energy. Every worker opens
the host's lock file (``<lock folder>/jupyter_carbon-<host>.lock``) and tries ``flock``: the one
that holds it samples the host with the same sources as a local session (RAPL, NVML, models),
the others only report their tasks. When that worker dies the kernel releases its lock and the
next query makes another worker on the host the meter (a new meter ``id``: the client sees the
change and flags it).

Settings (environment variables of the worker processes):

``JUPYTER_CARBON_HOST``
    The host identity (default: the machine's host name). Workers with the same identity share
    one meter; giving workers on one machine different identities makes them pose as separate
    hosts (used by the tests).
``JUPYTER_CARBON_LOCK_DIR``
    Where the lock files go (default: the system's temporary folder). It must be local to the
    host: a shared network folder would make one meter for several hosts. The locks live in a
    folder of the user's own inside it, ``jupyter_carbon-<uid>`` (mode 0700, owner checked, never
    through a symlink): another user can neither hold our lock nor make us create a file of
    theirs. If that folder is someone else's, the user's cache folder
    (``~/.cache/jupyter_carbon/locks``) is used instead, and the meter says so.

The meter samples while a client uses it (one meter window per client, kept open by its rounds)
and keeps a short timeline of its readings (every snapshot its sampler takes, for
``TIMELINE_S``): :meth:`HostMeter.reading` can then give the host's energy at a moment already
past (a window's start or end, told by a round that came after the window), interpolated
linearly between the readings either side of it.

The local settings (``JUPYTER_CARBON_POWER``, ``JUPYTER_CARBON_POWERCAP_ROOT``, ``..._INTERVAL``)
apply on the workers too.
"""

from __future__ import annotations

import bisect
import fcntl
import os
import re
import socket
import stat
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from ..config import Config
from ..energy import Energy
from ..sampler import Sampler, Snapshot, Window
from ..sources import Detection, detect

__all__ = ["HOST_ENV", "LOCK_DIR_ENV", "HostMeter", "host_identity"]

HOST_ENV = "JUPYTER_CARBON_HOST"
LOCK_DIR_ENV = "JUPYTER_CARBON_LOCK_DIR"
#: A client's meter window is closed when the client has not asked for this long (s).
WINDOW_EXPIRY_S = 24 * 3600.0
#: How far back the meter's timeline of readings reaches (s): a window's end can be read this
#: long after it passed.
TIMELINE_S = 300.0


def host_identity(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return (environ.get(HOST_ENV) or "").strip() or socket.gethostname()


def _lock_name(host: str) -> str:
    return "jupyter_carbon-" + re.sub(r"[^A-Za-z0-9_.-]", "_", host) + ".lock"


def _lock_folders(environ: Mapping[str, str]) -> list[str]:
    """Where this user's lock files may go, first choice first (see the module's docstring)."""
    base = environ.get(LOCK_DIR_ENV) or tempfile.gettempdir()
    home = os.path.expanduser("~")
    return [
        os.path.join(base, f"jupyter_carbon-{os.geteuid()}"),
        os.path.join(home, ".cache", "jupyter_carbon", "locks"),
    ]


def _own_folder(path: str) -> str | None:
    """Make ``path`` (mode 0700) or check that it is ours: None if usable, else why not."""
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        info = os.lstat(path)  # a symlink is refused, not followed
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    if not stat.S_ISDIR(info.st_mode):
        return f"{path} is not a folder (a symlink or a file)"
    if info.st_uid != os.geteuid():
        return f"{path} belongs to user {info.st_uid}, not to us ({os.geteuid()})"
    if info.st_mode & 0o077:
        try:
            os.chmod(path, 0o700)  # ours, but opened to others (e.g. an old umask): close it
        except OSError as exc:
            return f"{path} is open to other users and cannot be closed: {exc.strerror}"
    return None


def _open_lock(folder: str, name: str) -> int:
    """Open (create, mode 0600) the lock file ``name`` in our ``folder``; never through a link.

    Raises OSError (with the reason) when the file is a symlink, not ours or not a plain file.
    """
    flags = os.O_RDWR | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0))
    try:
        try:
            fd = os.open(name, flags | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=dir_fd)
        except FileExistsError:
            fd = os.open(name, flags, dir_fd=dir_fd)  # O_NOFOLLOW: a symlink raises ELOOP
    finally:
        os.close(dir_fd)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
        os.close(fd)
        raise PermissionError(f"{os.path.join(folder, name)} is not our own plain file")
    return fd


class HostMeter:
    """The host's meter if this process holds the host's lock, else a bystander that retries."""

    def __init__(
        self,
        host: str,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self._environ = os.environ if environ is None else environ
        self._clock = clock
        self.lock_path = ""  # the lock file in use (set by the first try_lead)
        self.lock_refused: tuple[str, ...] = ()
        self.id: str | None = None  # set while leading
        self.started_s = float("-inf")  # when this process started leading (its clock)
        self.sampler: Sampler | None = None
        self.detection: Detection | None = None
        self.problems: list[str] = []
        self.scope = "machine"
        self._fd: int | None = None
        self._windows: dict[str, tuple[Window, float]] = {}  # client -> (window, last asked)
        self._lock = threading.Lock()
        #: (time, readings of the scope's sources) of every snapshot within TIMELINE_S, by time
        self._timeline: list[tuple[float, tuple[Energy, ...]]] = []
        self._timeline_lock = threading.Lock()
        self._indices: tuple[int, ...] = ()  # the sources of the meter's scope

    @property
    def leading(self) -> bool:
        return self.sampler is not None

    def try_lead(self) -> bool:
        """Take the host's lock if it is free and start sampling; True while this process leads."""
        if self.sampler is not None:
            return True
        fd = self._open_lock()
        if fd is None:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        try:
            self._start()
        except Exception as exc:  # never break the worker: report, release the lock
            self.problems.append(f"could not start the meter: {type(exc).__name__}: {exc}")
            self._release()
            return False
        return True

    def _open_lock(self) -> int | None:
        """Our lock file's descriptor, or None (a problem line says why): never raises."""
        name = _lock_name(self.host)
        reasons: list[str] = []
        for folder in _lock_folders(self._environ):
            why = _own_folder(folder)
            if why is None:
                try:
                    fd = _open_lock(folder, name)
                except OSError as exc:
                    why = f"{os.path.join(folder, name)}: {exc.strerror or exc}"
                else:
                    self.lock_path = os.path.join(folder, name)
                    self.lock_refused = tuple(reasons)  # the folders passed over, and why
                    return fd
            reasons.append(why)
        line = f"no usable lock folder, this worker cannot meter the host: {'; '.join(reasons)}"
        if line not in self.problems:  # tried on every round: said once
            self.problems.append(line)
        return None

    def _start(self) -> None:
        config = Config.from_env(self._environ, problems=self.problems)
        self.detection = detection = detect(
            **config.detection_arguments(), now_s=self._clock(), environ=self._environ
        )
        # the meter stands for every worker on the host: never one process's share ("process"
        # scope); "auto" resolves as locally (a worker in a limiting cgroup: its container)
        scope, _ = detection.resolve("machine" if config.scope == "process" else config.scope)
        self.scope = scope
        self.sampler = Sampler(
            detection.sources,
            config.interval,
            clock=self._clock,
            threaded=True,
            totals_scope=scope,
            scoped=getattr(detection, "scoped", ()),
        )
        self._indices = self.sampler.indices(scope)
        with self._timeline_lock:
            self._timeline = []
        self.sampler.on_snapshot = self._remember
        self.id = uuid.uuid4().hex
        self.started_s = self._clock()

    def _remember(self, snap: Snapshot) -> None:
        """Keep ``snap`` in the timeline (snapshots of several threads may come out of order)."""
        entry = (snap.time_s, tuple(snap.readings[i] for i in self._indices))
        with self._timeline_lock:
            line = self._timeline
            if not line or line[-1][0] <= entry[0]:
                line.append(entry)
            else:
                bisect.insort(line, entry, key=_time)
            old = bisect.bisect_left(line, entry[0] - TIMELINE_S, key=_time)
            if old > 1:  # one reading before the horizon stays: a moment after it is bracketed
                del line[: old - 1]

    def _at(self, at_s: float) -> tuple[float, tuple[Energy, ...], str | None]:
        """The readings at ``at_s`` (interpolated in the timeline), and a note when they could
        not be: the nearest reading is used."""
        with self._timeline_lock:
            line = self._timeline
            i = bisect.bisect_right(line, at_s, key=_time)
            before = line[i - 1] if i > 0 else None
            after = line[i] if i < len(line) else None
        if before is not None and after is not None and after[0] > before[0]:
            f = (at_s - before[0]) / (after[0] - before[0])
            return at_s, tuple(b + (a - b) * f for b, a in zip(before[1], after[1])), None
        if before is not None:
            return before[0], before[1], None
        if after is None:
            return at_s, (), "the meter has no reading yet"
        if at_s < self.started_s:  # the meter started after it: the caller flags that
            return after[0], after[1], None
        return (
            after[0],
            after[1],
            f"energy asked for {after[0] - at_s:.1f} s before the meter's oldest reading "
            f"(it keeps {TIMELINE_S:g} s): read that much later",
        )

    def open(self, token: str) -> None:
        """Keep sampling (ticking) for the client ``token`` until it closes, or until it has not
        asked (opened again) for ``WINDOW_EXPIRY_S``."""
        if self.sampler is None:
            return
        with self._lock:
            now = self._clock()
            for old, (window, asked) in list(self._windows.items()):
                if now - asked > WINDOW_EXPIRY_S:
                    self.sampler.close(window)
                    del self._windows[old]
            entry = self._windows.get(token)
            window = entry[0] if entry is not None else self.sampler.open(scope=self.scope)
            self._windows[token] = (window, now)

    def close(self, token: str) -> None:
        if self.sampler is None:
            return
        with self._lock:
            entry = self._windows.pop(token, None)
            if entry is not None:
                self.sampler.close(entry[0])

    def reading(self, at_s: float | None = None) -> dict[str, Any] | None:
        """The host's cumulative energy per source (plain data), or None when not leading.

        ``at_s``: a moment already past (this process's monotonic clock): the energy then,
        interpolated between the readings either side of it (see the module's docstring).
        """
        sampler = self.sampler
        if sampler is None:
            return None
        snap = sampler.snapshot()  # also kept in the timeline: the reading after ``at_s``
        indices = self._indices
        t_s = snap.time_s
        readings: tuple[Energy, ...] = tuple(snap.readings[i] for i in indices)
        notes: list[str] = []
        if at_s is not None and at_s < t_s:
            t_s, past, note = self._at(at_s)
            readings = past or readings
            notes += [note] if note else []
        sources = [sampler.sources[i] for i in indices]
        return {
            "id": self.id,
            "started_s": self.started_s,
            "t_s": t_s,
            "scope": self.scope,
            "sources": [[s.component, s.device, s.method, bool(s.measured)] for s in sources],
            "readings": [[r.energy_j, r.low_j, r.high_j] for r in readings],
            "errors": list(sampler.errors) + list(self.problems) + notes,
            "skipped": dict(self.detection.skipped) if self.detection is not None else {},
        }

    def shutdown(self) -> None:
        with self._lock:
            self._windows.clear()
        if self.sampler is not None:
            try:
                self.sampler.stop()
                if self.detection is not None:
                    self.detection.close()
            except Exception:
                pass
            self.sampler = self.detection = self.id = None
        with self._timeline_lock:
            self._timeline = []
        self._release()

    def _release(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)  # closing the descriptor releases the flock
            except OSError:
                pass
            self._fd = None


def _time(entry: tuple[float, tuple[Energy, ...]]) -> float:
    return entry[0]
