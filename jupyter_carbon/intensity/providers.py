"""Opt-in live carbon intensity, refreshed in the background, never blocking the caller.

``LiveIntensity(provider, fallback).current()`` returns at once: the cached live value while
it is fresh, otherwise the fallback (usually the table value) with a one-line note, while a
single daemon thread fetches a new value. Network failures of any kind become that note.

Providers (stdlib ``urllib`` only):

* :class:`ElectricityMapsProvider` - ``GET {base}/v3/carbon-intensity/latest?zone=Z`` with an
  ``auth-token`` header read from an environment variable (lifecycle gCO2e/kWh).
* :class:`UKCarbonIntensityProvider` - NESO Carbon Intensity API for Great Britain,
  ``GET {base}/intensity`` or ``GET {base}/regional/regionid/{id}`` (no token; operational,
  i.e. combustion-only, gCO2/kWh).

Both also give a forecast of the next 24 h (:meth:`IntensityProvider.fetch_forecast`:
``{base}/intensity/{from}/fw24h``, ``{base}/regional/intensity/{from}/fw24h/regionid/{id}``,
``{base}/v3/carbon-intensity/forecast?zone=Z``), fetched by the same background thread at most
once per ``LiveIntensity.forecast_ttl_s`` and read with :meth:`LiveIntensity.forecast`, which
never waits either.

API tokens are read from the environment at fetch time and never stored, logged or shown.
Replies are checked, not stored: only the number, a short plain zone or region name holding no
secret and an ISO 8601 time stamp are taken from them (a server may echo the request's headers,
the token included, into any string it returns); anything else is dropped.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from .emissions import MAX_G_PER_KWH
from .value import Intensity

__all__ = [
    "ElectricityMapsProvider",
    "Forecast",
    "ForecastSlot",
    "Intensity",
    "IntensityProvider",
    "LiveIntensity",
    "ProviderError",
    "UKCarbonIntensityProvider",
]

log = logging.getLogger(__name__)

_MAX_REPLY_BYTES = 1 << 20
#: Forecast slots kept (a 24 h forecast has 48 half hours or 24 hours).
_MAX_SLOTS = 200
_USER_AGENT = "jupyter_carbon (https://pypi.org/project/jupyter-carbon/)"


class ProviderError(RuntimeError):
    """A live provider could not deliver a value; the message is one line and holds no secret."""


@dataclass(frozen=True, slots=True)
class ForecastSlot:
    """The forecast intensity of one interval. Units: gCO2e/kWh."""

    start_utc: datetime
    end_utc: datetime
    g_per_kwh: float


@dataclass(frozen=True, slots=True)
class Forecast:
    """A provider's forecast from now on: its slots in time order, who said so and when."""

    source: str
    slots: tuple[ForecastSlot, ...]
    fetched_utc: datetime


class IntensityProvider:
    """Base class: subclasses set ``name`` and implement :meth:`fetch` (and, when the provider
    forecasts, set ``forecasts`` and implement :meth:`fetch_forecast`)."""

    name = "provider"
    timeout_s: float = 3.0
    forecasts = False

    def fetch(self) -> Intensity:  # pragma: no cover - abstract
        raise NotImplementedError

    def fetch_forecast(self, now_utc: datetime) -> Forecast:  # pragma: no cover - abstract
        raise ProviderError(f"{self.name} gives no forecast")

    def _secrets(self) -> tuple[str, ...]:
        return ()

    def redact(self, text: str) -> str:
        for secret in self._secrets():
            if secret:
                text = text.replace(secret, "***")
        return text


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Never forward request headers (the auth token) to another location.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _get_json(name: str, url: str, headers: dict[str, str], timeout_s: float, hint_401: str = ""):
    """GET ``url`` and parse JSON within about ``timeout_s``; every failure is a ProviderError."""
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": _USER_AGENT, **headers}
    )
    deadline = time.monotonic() + timeout_s
    try:
        # A fresh opener per call so proxy environment variables are read at fetch time.
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=timeout_s) as reply:
            chunks: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise ProviderError(f"{name} failed: no complete reply within {timeout_s:g} s")
                chunk = reply.read1(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > _MAX_REPLY_BYTES:
                    raise ProviderError(
                        f"{name} failed: reply larger than {_MAX_REPLY_BYTES} bytes"
                    )
                chunks.append(chunk)
    except ProviderError:
        raise
    except urllib.error.HTTPError as exc:
        hint = ""
        if exc.code in (401, 403) and hint_401:
            hint = f" — {hint_401}"
        elif exc.code == 429:
            hint = " — rate limited, will retry later"
        elif 300 <= exc.code < 400:
            hint = " — redirects are not followed; check base_url"
        raise ProviderError(f"{name} failed: HTTP {exc.code}{hint}") from None
    except TimeoutError:
        raise ProviderError(f"{name} failed: timed out after {timeout_s:g} s") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise ProviderError(f"{name} failed: timed out after {timeout_s:g} s") from None
        detail = (
            reason.strerror
            if isinstance(reason, OSError) and reason.strerror
            else type(reason).__name__
        )
        raise ProviderError(f"{name} failed: cannot connect ({detail})") from None
    except (http.client.HTTPException, ConnectionError) as exc:
        raise ProviderError(f"{name} failed: invalid HTTP reply ({type(exc).__name__})") from None
    except OSError as exc:
        raise ProviderError(f"{name} failed: network error ({type(exc).__name__})") from None
    try:
        return json.loads(b"".join(chunks).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProviderError(f"{name} failed: malformed JSON reply") from None


def _short(value: object) -> str:
    # Reply strings are never echoed: a server may reflect request headers into them.
    if not isinstance(value, (int, float, type(None))):
        return f"a {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


#: What a zone or region name in a reply may look like ('FR', 'US-CAL-CISO', 'North West England').
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.()-]{0,39}")
#: What a reply's time stamp may look like (ISO 8601, at most seconds and a zone).
_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,6})?)?(Z|[+-]\d\d:?\d\d)?")


def _name(value: object, secrets: tuple[str, ...] = ()) -> str | None:
    """A reply's zone or region name when it is a short plain name holding no secret; else None
    (a server may echo request headers — the auth token — into any string it returns)."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        return None
    return None if any(s and (s in value or value in s) for s in secrets) else value


def _stamp(value: object) -> str | None:
    """A reply's time stamp when it is one (ISO 8601); else None."""
    return value if isinstance(value, str) and _STAMP.fullmatch(value) else None


def _g_per_kwh(name: str, value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProviderError(
            f"{name} failed: malformed reply ({what} is {_short(value)}, expected a number)"
        )
    number = float(value)
    if not math.isfinite(number) or not 0 <= number <= MAX_G_PER_KWH:
        raise ProviderError(f"{name} failed: implausible {what} {_short(value)} gCO2e/kWh")
    return number


def _first(name: str, data: object, what: str) -> dict:
    if isinstance(data, dict):
        items = data.get("data")
        if isinstance(items, list) and items and isinstance(items[0], dict):
            return items[0]
    raise ProviderError(f"{name} failed: malformed reply (no {what})")


def _utc(name: str, value: object) -> datetime:
    if not isinstance(value, str):
        raise ProviderError(f"{name} failed: malformed forecast (a time is {_short(value)})")
    try:
        when = datetime.fromisoformat(value[:40].replace("Z", "+00:00"))
    except ValueError:
        raise ProviderError(f"{name} failed: malformed forecast (a time is not ISO 8601)") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def _slots(name: str, entries: object, parse: Callable[[dict], ForecastSlot]) -> list[ForecastSlot]:
    if not isinstance(entries, list) or not entries:
        raise ProviderError(f"{name} failed: malformed forecast (no entries)")
    slots = [parse(e) for e in entries[:_MAX_SLOTS] if isinstance(e, dict)]
    if not slots:
        raise ProviderError(f"{name} failed: malformed forecast (no entries)")
    return sorted(slots, key=lambda slot: slot.start_utc)


class ElectricityMapsProvider(IntensityProvider):
    """Latest lifecycle intensity of an Electricity Maps zone (needs an API token)."""

    name = "electricitymaps"
    forecasts = True

    def __init__(
        self,
        zone: str,
        token_env: str = "ELECTRICITYMAPS_TOKEN",
        base_url: str = "https://api.electricitymap.org",
        timeout_s: float = 3.0,
    ):
        if not isinstance(zone, str) or not zone.strip():
            raise ValueError(
                f"zone must be an Electricity Maps zone such as 'FR' or 'US-CAL-CISO', got {zone!r}"
            )
        self.zone = zone.strip()
        self.token_env = token_env
        self.base_url = base_url.rstrip("/")
        self.timeout_s = float(timeout_s)

    def __repr__(self) -> str:
        return (
            f"ElectricityMapsProvider(zone={self.zone!r}, token_env={self.token_env!r}, "
            f"base_url={self.base_url!r}, timeout_s={self.timeout_s:g})"
        )

    def _secrets(self) -> tuple[str, ...]:
        token = os.environ.get(self.token_env, "").strip()
        return (token,) if token else ()

    def fetch(self) -> Intensity:
        try:
            return self._fetch()
        except ProviderError as exc:
            message = str(exc)
        # Raised outside the handler so the new error keeps no __context__ (which could hold
        # an HTTPError whose body echoes the token).
        raise ProviderError(self.redact(message))

    def _token(self) -> str:
        token = os.environ.get(self.token_env, "").strip()
        if not token:
            fix = f"set the {self.token_env} environment variable"
            raise ProviderError(f"{self.name} failed: no API token — {fix}")
        return token

    def _get(self, what: str, token: str) -> object:
        """The JSON reply of ``/v3/carbon-intensity/<what>`` for the zone."""
        url = f"{self.base_url}/v3/carbon-intensity/{what}?zone={urllib.parse.quote(self.zone)}"
        return _get_json(
            self.name,
            url,
            {"auth-token": token},
            self.timeout_s,
            hint_401=f"check {self.token_env}",
        )

    def _fetch(self) -> Intensity:
        token = self._token()
        data = self._get("latest", token)
        if not isinstance(data, dict):
            raise ProviderError(f"{self.name} failed: malformed reply (not a JSON object)")
        value = _g_per_kwh(self.name, data.get("carbonIntensity"), "carbonIntensity")
        zone = _name(data.get("zone"), (token,)) or self.zone
        note = None
        stamp = _stamp(data.get("datetime"))
        if stamp is not None:
            note = f"reading for {stamp}"
            if data.get("isEstimated") is True:
                note += " (estimated)"
        return Intensity(value, f"{self.name}:{zone}", zone, note=note)

    def fetch_forecast(self, now_utc: datetime) -> Forecast:
        try:
            return self._fetch_forecast(now_utc)
        except ProviderError as exc:
            message = str(exc)
        raise ProviderError(self.redact(message))

    def _fetch_forecast(self, now_utc: datetime) -> Forecast:
        token = self._token()
        data = self._get("forecast", token)
        entries = data.get("forecast") if isinstance(data, dict) else None
        name = self.name

        def parse(entry: dict) -> ForecastSlot:  # hourly: each slot ends an hour later
            start = _utc(name, entry.get("datetime"))
            value = _g_per_kwh(name, entry.get("carbonIntensity"), "carbonIntensity")
            return ForecastSlot(start, start + timedelta(hours=1), value)

        slots = _slots(name, entries, parse)
        return Forecast(f"{self.name}:{self.zone} forecast", tuple(slots), now_utc)


class UKCarbonIntensityProvider(IntensityProvider):
    """Great Britain's current intensity from the NESO Carbon Intensity API (no token).

    National (``region_id=None``): ``actual`` if published, else ``forecast``. Regional
    (``region_id`` 1-17, see the API's region list): the regional ``forecast``.
    """

    name = "uk-carbon-intensity"
    forecasts = True

    def __init__(
        self,
        base_url: str = "https://api.carbonintensity.org.uk",
        timeout_s: float = 3.0,
        region_id: int | None = None,
    ):
        if region_id is not None and (
            isinstance(region_id, bool)
            or not isinstance(region_id, int)
            or not 1 <= region_id <= 17
        ):
            raise ValueError(
                "region_id must be an int from 1 to 17 (Carbon Intensity API regions) or None, "
                f"got {region_id!r}"
            )
        self.base_url = base_url.rstrip("/")
        self.timeout_s = float(timeout_s)
        self.region_id = region_id

    def __repr__(self) -> str:
        return (
            f"UKCarbonIntensityProvider(base_url={self.base_url!r}, timeout_s={self.timeout_s:g}, "
            f"region_id={self.region_id!r})"
        )

    def fetch(self) -> Intensity:
        if self.region_id is None:
            data = _get_json(self.name, f"{self.base_url}/intensity", {}, self.timeout_s)
            entry = _first(self.name, data, "data entry")
            intensity = entry.get("intensity")
            if not isinstance(intensity, dict):
                raise ProviderError(f"{self.name} failed: malformed reply (no intensity)")
            kind = "actual" if intensity.get("actual") is not None else "forecast"
            value = _g_per_kwh(self.name, intensity.get(kind), kind)
            return Intensity(value, self.name, "GB", note=f"{kind} for {_span(entry)}")
        data = _get_json(
            self.name, f"{self.base_url}/regional/regionid/{self.region_id}", {}, self.timeout_s
        )
        region = _first(self.name, data, "region")
        entry = _first(self.name, region, "regional data entry")
        intensity = entry.get("intensity")
        if not isinstance(intensity, dict):
            raise ProviderError(f"{self.name} failed: malformed reply (no intensity)")
        value = _g_per_kwh(self.name, intensity.get("forecast"), "forecast")
        label = _name(region.get("shortname")) or f"region {self.region_id}"
        return Intensity(
            value, f"{self.name}:{self.region_id}", label, note=f"forecast for {_span(entry)}"
        )

    def fetch_forecast(self, now_utc: datetime) -> Forecast:
        start = now_utc.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
        if self.region_id is None:
            url = f"{self.base_url}/intensity/{start}/fw24h"
        else:
            url = f"{self.base_url}/regional/intensity/{start}/fw24h/regionid/{self.region_id}"
        data = _get_json(self.name, url, {}, self.timeout_s)
        entries = data.get("data") if isinstance(data, dict) else None
        if self.region_id is not None:  # {"data": {"regionid": …, "data": [entries]}}
            region = entries[0] if isinstance(entries, list) and entries else entries
            entries = region.get("data") if isinstance(region, dict) else None
        name = self.name

        def parse(entry: dict) -> ForecastSlot:
            intensity = entry.get("intensity")
            if not isinstance(intensity, dict):
                raise ProviderError(f"{name} failed: malformed forecast (no intensity)")
            value = _g_per_kwh(name, intensity.get("forecast"), "forecast")
            return ForecastSlot(_utc(name, entry.get("from")), _utc(name, entry.get("to")), value)

        slots = _slots(name, entries, parse)
        where = "GB" if self.region_id is None else f"region {self.region_id}"
        return Forecast(f"{self.name} forecast ({where})", tuple(slots), now_utc)


def _span(entry: dict) -> str:
    start, end = _stamp(entry.get("from")), _stamp(entry.get("to"))
    if start is not None and end is not None:
        return f"{start}–{end}"
    return "the current half hour"


class LiveIntensity:
    """Live intensity with a table fallback; :meth:`current` never waits for the network.

    One daemon thread (started on first use) performs fetches, one at a time. A live value
    is used for ``ttl_s`` seconds; after a failure no new fetch starts for ``retry_s``
    seconds unless :meth:`refresh` is called. A provider that forecasts has its forecast
    fetched by the same thread with its first value, then again when :meth:`forecast` finds it
    older than ``forecast_ttl_s`` (after a failure, not before ``retry_s``).
    """

    forecast_ttl_s = 3600.0

    def __init__(
        self,
        provider: IntensityProvider,
        fallback: Intensity,
        ttl_s: float = 900.0,
        retry_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not isinstance(fallback, Intensity):
            raise TypeError(
                "fallback must be an Intensity (e.g. Intensity.from_region(lookup_region('FR'))), "
                f"got {type(fallback).__name__}"
            )
        self.provider = provider
        self.fallback = fallback
        self.ttl_s = float(ttl_s)
        self.retry_s = float(retry_s)
        self._clock = clock
        self._cond = threading.Condition()
        self._wake = False
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._value: Intensity | None = None
        self._value_at = 0.0
        self._error: str | None = None
        self._error_at: float | None = None
        self._want_value = False
        self._want_forecast = bool(getattr(provider, "forecasts", False))
        self._forecast: Forecast | None = None
        self._forecast_at = 0.0
        self._forecast_error_at: float | None = None

    def __repr__(self) -> str:
        return (
            f"LiveIntensity(provider={self.provider!r}, fallback={self.fallback.source!r}, "
            f"ttl_s={self.ttl_s:g})"
        )

    def __enter__(self) -> LiveIntensity:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- public API ---------------------------------------------------------------------
    def current(self) -> Intensity:
        """The fresh live value, or the fallback with a note (and a background refresh kicked)."""
        with self._cond:
            now = self._clock()
            if self._value is not None and now - self._value_at < self.ttl_s:
                return self._value
            self._kick_locked(force=False, now=now)
            if self._error is not None:
                note = f"{self._error}; using {self._fallback_name()}"
            elif self._value is not None:
                note = f"live intensity expired, refreshing: using {self._fallback_name()}"
            else:
                note = f"live intensity not yet available: using {self._fallback_name()}"
        return replace(self.fallback, note=note)

    def forecast(self) -> Forecast | None:
        """The forecast that has arrived (None before, or for a provider without one); a fetch
        starts in the background when it is missing or older than ``forecast_ttl_s``."""
        if not getattr(self.provider, "forecasts", False):
            return None
        with self._cond:
            now = self._clock()
            fresh = self._forecast is not None and now - self._forecast_at < self.forecast_ttl_s
            failed = self._forecast_error_at
            if not fresh and not self._closed and (failed is None or now - failed >= self.retry_s):
                self._want_forecast = True
                if not self._busy:
                    self._start_locked()
            return self._forecast

    def refresh(self) -> bool:
        """Start a background fetch now unless one is in flight or closed; never blocks."""
        with self._cond:
            return self._kick_locked(force=True, now=self._clock())

    def wait(self, timeout_s: float) -> bool:
        """Block until no fetch is pending (for scripts and tests); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy, timeout=timeout_s)

    def close(self) -> None:
        """Stop the background thread (after any fetch in flight); never blocks."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def last_error(self) -> str | None:
        with self._cond:
            return self._error

    # -- internals ----------------------------------------------------------------------
    def _fallback_name(self) -> str:
        return "table value" if self.fallback.from_table else self.fallback.source

    def _kick_locked(self, force: bool, now: float) -> bool:
        if self._closed or self._busy:
            return False
        if not force and self._error_at is not None and now - self._error_at < self.retry_s:
            return False
        self._want_value = True
        self._start_locked()
        return True

    def _start_locked(self) -> None:
        self._busy = True
        self._wake = True
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="jupyter_carbon-intensity-refresh", daemon=True
            )
            self._thread.start()
        self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._wake or self._closed)
                if self._closed:
                    self._busy = False
                    self._cond.notify_all()
                    return
                self._wake = False
                want_value, self._want_value = self._want_value, False
            if want_value:
                value, error = self._fetch_once()
                with self._cond:
                    if value is not None:
                        self._value, self._value_at = value, self._clock()
                        self._error, self._error_at = None, None
                    else:
                        self._error, self._error_at = error, self._clock()
            with self._cond:
                want_forecast, self._want_forecast = self._want_forecast, False
            if want_forecast:
                self._fetch_forecast_once()
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _fetch_forecast_once(self) -> None:
        try:
            forecast = self.provider.fetch_forecast(datetime.now(timezone.utc))
            if not isinstance(forecast, Forecast):
                raise ProviderError("forecast: provider returned no Forecast")
        except Exception as exc:  # a failed forecast only means no advice: never the caller's
            log.debug("forecast fetch failed: %s", type(exc).__name__)
            with self._cond:
                self._forecast_error_at = self._clock()
            return
        with self._cond:
            self._forecast, self._forecast_at = forecast, self._clock()
            self._forecast_error_at = None

    def _fetch_once(self) -> tuple[Intensity | None, str | None]:
        name = getattr(self.provider, "name", "provider")
        try:
            value = self.provider.fetch()
            if not isinstance(value, Intensity):
                raise ProviderError(
                    f"{name} failed: provider returned {type(value).__name__}, not Intensity"
                )
            return value, None
        except ProviderError as exc:
            error = str(exc)
        except Exception as exc:  # a provider bug must never reach the caller
            error = f"{name} failed: unexpected {type(exc).__name__}"
        redact = getattr(self.provider, "redact", None)
        if callable(redact):
            error = redact(error)
        error = " ".join(error.split())
        log.debug("live intensity refresh failed: %s", error)
        return None, error
