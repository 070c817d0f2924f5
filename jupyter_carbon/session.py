"""One measuring session: configuration, detected sources, the sampler and the ledger.

``CarbonSession`` is what the magics, the hooks and ``track()`` talk to. It never lets an
internal failure escape into user code paths that the caller marks as protected, and it keeps
every closed record in memory (and hands it to ``on_record`` callbacks such as the log).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, NamedTuple

from .config import Config, ConfigError
from .ledger import Ledger
from .record import CellRecord, SessionTotals
from .sampler import LiveStatus, LiveWindow, Sampler, utc_now

__all__ = ["CarbonSession", "Measurement", "IntensityValue", "get_session", "reset_session"]

#: Settings whose change means probing the hardware again.
_REDETECT = ("scope", "powercap_root", "power")
WORLD_AVERAGE_G_PER_KWH = 475.0


class IntensityValue(NamedTuple):
    g_per_kwh: float
    source: str
    obtained_utc: datetime | None
    note: str | None = None


class Measurement:
    """An open (then closed) window; a context manager for scripts: ``with track("x") as m: ...``."""

    __slots__ = ("session", "wid", "window", "record", "label", "_meta")

    def __init__(self, session: "CarbonSession", label: str | None = None, **meta: Any) -> None:
        self.session = session
        self.label = label
        self._meta = meta
        self.wid: int | None = None
        self.window: LiveWindow | None = None
        self.record: CellRecord | None = None

    @property
    def live(self) -> dict[str, float]:
        """Energy so far per component (J), without waiting for a tick."""
        return self.session.live_energy_j(self)

    def __enter__(self) -> "Measurement":
        if self.wid is None:
            self.session.start(self)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        status = "ok" if exc_type is None else ("interrupted" if issubclass(exc_type, KeyboardInterrupt) else "error")
        self.session.stop(self, status=status)


class CarbonSession:
    def __init__(self, config: Config | None = None, *, clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], datetime] = utc_now, threaded: bool = True, detect: Callable[..., Any] | None = None) -> None:
        self.problems: list[str] = []  # one line each, reported once by the front end
        self.config = config or Config.from_env(problems=self.problems)
        self._clock = clock
        self._wall_clock = wall_clock
        self._threaded = threaded
        self._detect_fn = detect
        self.on_record: list[Callable[[CellRecord], Any]] = []
        self.baseline_w: dict[str, float] | None = None
        self._lock = threading.RLock()
        self._pending_redetect = False
        self._intensity_cache: tuple[tuple, IntensityValue] | None = None
        self.records: list[CellRecord] = []
        self._setup()

    # --- sources -----------------------------------------------------------------------------

    def _setup(self) -> None:
        from .sources import detect

        detect_fn = self._detect_fn or detect
        self.detection = detect_fn(self.config, now_s=self._clock())
        self.sampler = Sampler(self.detection.sources, self.config.interval, clock=self._clock, wall_clock=self._wall_clock, threaded=self._threaded)
        self.ledger = Ledger(self.detection.sources, records=self.records)

    def configure(self, **values: Any) -> Config:
        """Apply settings (strings or values); raises ConfigError. Re-probes hardware when needed."""
        new = self.config.updated(**values)
        with self._lock:
            old, self.config = self.config, new
            self.sampler.interval_s = new.interval
            self._intensity_cache = None
            if any(getattr(old, k) != getattr(new, k) for k in _REDETECT):
                if self.sampler.open_windows:
                    self._pending_redetect = True  # applied once the running cells have closed
                else:
                    self._redetect()
        return new

    def _redetect(self) -> None:
        self._pending_redetect = False
        self.sampler.stop()
        self.detection.close()
        totals = self.ledger
        self._setup()
        self.ledger._ids = totals._ids  # record ids stay unique across re-detection
        self.ledger._union = totals._union

    # --- intensity ---------------------------------------------------------------------------

    def intensity(self) -> IntensityValue:
        """The carbon intensity in force now; never blocks on the network."""
        cfg = self.config
        if cfg.intensity is not None:
            return IntensityValue(cfg.intensity, "user-set intensity", None)
        return IntensityValue(WORLD_AVERAGE_G_PER_KWH, "world average (IEA 2019) — no region set", None, "no region set: using the world average")

    # --- windows -----------------------------------------------------------------------------

    def open(self, label: str | None = None, *, listener: Callable[[LiveStatus], Any] | None = None, **meta: Any) -> Measurement:
        measurement = Measurement(self, label, **meta)
        self.start(measurement, listener=listener)
        return measurement

    def start(self, m: Measurement, listener: Callable[[LiveStatus], Any] | None = None) -> None:
        with self._lock:
            if self._pending_redetect and not self.sampler.open_windows:
                self._redetect()
            m.window = self.sampler.open(listener)
            m.wid = self.ledger.open(m.window.start, label=m.label, scope=self.config.scope, **m._meta)

    def stop(self, m: Measurement, status: str = "ok", extra: dict[str, Any] | None = None, flags: tuple[str, ...] = ()) -> CellRecord:
        with self._lock:
            if m.record is not None:
                return m.record
            end, timeline, window_flags = self.sampler.close(m.window)
            intensity = self.intensity()
            notes = (intensity.note,) if intensity.note and intensity.note not in window_flags else ()
            m.record = self.ledger.close(
                m.wid,
                end,
                g_per_kwh=intensity.g_per_kwh,
                intensity_source=intensity.source,
                intensity_utc=intensity.obtained_utc,
                pue=self.config.pue,
                status=status,
                flags=window_flags + tuple(flags) + notes,
                timeline=timeline,
                baseline_w=self.baseline_w,
                extra=extra,
            )
        for callback in list(self.on_record):
            try:
                callback(m.record)
            except Exception as exc:
                self.problem(f"could not hand the record on ({getattr(callback, '__qualname__', callback)}): {exc}")
        return m.record

    def discard(self, m: Measurement) -> None:
        """Close ``m`` without a record (another window covers the same cell)."""
        with self._lock:
            if m.record is None and m.wid is not None and self.ledger.is_open(m.wid):
                end, _, _ = self.sampler.close(m.window)
                intensity = self.intensity()
                self.ledger.discard(m.wid, end, intensity.g_per_kwh, self.config.pue)

    def live_energy_j(self, m: Measurement) -> dict[str, float]:
        snap = self.sampler.snapshot()
        out: dict[str, float] = {}
        for source, a, b in zip(self.detection.sources, m.window.start.readings, snap.readings):
            out[source.component] = out.get(source.component, 0.0) + b.energy_j - a.energy_j
        return out

    def totals(self) -> SessionTotals:
        intensity = self.intensity()
        now = self.sampler.snapshot() if self.sampler.open_windows else None
        return self.ledger.totals(now, intensity.g_per_kwh, self.config.pue)

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def reset(self) -> None:
        with self._lock:
            self.ledger.reset()
            self.records = self.ledger.records

    def shutdown(self) -> None:
        self.sampler.stop()
        self.detection.close()


_default: CarbonSession | None = None
_default_lock = threading.Lock()


def get_session() -> CarbonSession:
    """The process-wide session used by the magics and ``track()``, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = CarbonSession()
        return _default


def reset_session() -> None:
    global _default
    with _default_lock:
        if _default is not None:
            _default.shutdown()
        _default = None
