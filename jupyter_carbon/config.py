"""Settings: one table of names, types, defaults, environment variables and help.

The same settings are reachable from ``%carbon config key=value``, the ``Carbon`` traitlets
(``%config Carbon.interval = 0.5``, ``ipython_config.py``) and ``JUPYTER_CARBON_*`` variables.
Parsing errors raise :class:`ConfigError` with a one-line message that names the value and the
valid choices.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .intensity.emissions import MAX_G_PER_KWH, MAX_PUE
from .sources.base import COMPONENTS
from .sources.paths import CGROUP_ROOT, DMI_ROOT, HWMON_ROOT, POWERCAP_ROOT
from .units import finite_number

__all__ = ["Config", "ConfigError", "SETTINGS", "Setting", "parse_budget"]


#: Where a window's energy is attributed: auto (container in a limiting cgroup, else machine), the
#: whole machine, this kernel and its children, or the kernel's cgroup (container, pod, SLURM job).
SCOPES = ("auto", "machine", "process", "container")


class ConfigError(ValueError):
    """A setting has a bad value; the message says which values are valid."""


def _number(name: str, low: float, high: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        try:
            number = float(value)  # settings arrive as text too
        except (TypeError, ValueError):
            number = value
        try:
            return finite_number(number, name, low, high)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    return parse


def _whole(name: str, low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        number = _number(name, low, high)(value)
        if number != int(number):
            raise ConfigError(
                f"{name}={value!r} is not valid; give a whole number ({low}–{high:,})"
            )
        return int(number)

    return parse


def _choice(name: str, choices: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ConfigError(f"{name}={value!r} is not valid; choose one of: {', '.join(choices)}")
        return text

    return parse


def _optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def wrapped(value: Any) -> Any:
        if value is None or str(value).strip().lower() in ("", "none", "default"):
            return None
        return parse(value)

    return wrapped


def _text(value: Any) -> str:
    return str(value).strip()


def _flag(name: str) -> Callable[[Any], bool]:
    def parse(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}={value!r} is not valid; choose one of: true, false")

    return parse


def _power_overrides(value: Any) -> dict[str, float]:
    """``cpu=15,gpu=250`` → {'cpu': 15.0, 'gpu': 250.0} (a fixed wattage per component)."""
    items: list[Any]
    if isinstance(value, Mapping):
        items = list(value.items())
    else:
        text = str(value).strip()
        items = (
            [
                part.split(":", 1) if ":" in part else part.split("=", 1)
                for part in text.split(",")
                if part.strip()
            ]
            if text
            else []
        )
    result: dict[str, float] = {}
    for item in items:
        if len(item) != 2:
            raise ConfigError(
                f"power={value!r} is not valid; write component:watts pairs, "
                "e.g. power=cpu:15,ram:3"
            )
        component, watts = str(item[0]).strip().lower(), item[1]
        if component not in COMPONENTS:
            raise ConfigError(f"power: unknown component {component!r}; choose cpu, gpu or ram")
        result[component] = _number(f"power {component}", 0, 100_000)(watts)
    return result


def _embodied(value: Any) -> str:
    """``auto``, ``none``, kg CO2e (> 0) or a key of data/embodied.csv (checked where it is
    used)."""
    text = str(value).strip().lower()
    try:
        kg = float(text)
    except ValueError:
        kg = None
    if kg is not None:
        return str(_number("embodied", 1e-9, 1e9)(kg))
    if text in ("auto", "none") or (text and all(c.isalnum() or c == "-" for c in text)):
        return text
    raise ConfigError(
        f"embodied={value!r} is not valid; give auto, none, kg CO2e (e.g. 1200) or a key of "
        "jupyter_carbon/data/embodied.csv (e.g. dell-poweredge-r740)"
    )


#: The largest session budget accepted: 1,000 t CO2e.
MAX_BUDGET_G = 1e9
_GRAMS = {"g": 1.0, "kg": 1000.0}


def parse_budget(value: Any) -> float | None:
    """A session budget in grams CO2e: ``20g``, ``20 g``, ``1.5kg``, ``20`` (grams); ``off`` or
    ``none``: no budget. Raises ConfigError naming the value and the form expected."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number, unit = float(value), "g"
    else:
        text = str(value).strip().lower().replace(" ", "")
        if text in ("off", "none", ""):
            return None
        for name in ("kg", "g", ""):
            if text.endswith(name):
                number_text, unit = text[: len(text) - len(name)], name or "g"
                break
        try:
            number = float(number_text)
        except ValueError:
            number = math.nan
    grams = number * _GRAMS[unit]
    if not (math.isfinite(grams) and 0 < grams <= MAX_BUDGET_G):
        raise ConfigError(
            f"budget {value!r} is not valid; give grams or kilograms of CO2e above 0, "
            "e.g. 20g or 1.5kg (off: no budget)"
        )
    return grams


@dataclass(frozen=True)
class Setting:
    """How to parse and explain one setting (its default is the field's default in ``Config``)."""

    name: str
    parse: Callable[[Any], Any]
    help: str

    @property
    def env(self) -> str:
        return "JUPYTER_CARBON_" + self.name.upper()


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "interval", _number("interval", 0.05, 60), "sampling interval in seconds (0.05–60)"
        ),
        Setting(
            "scope",
            _choice("scope", SCOPES),
            "auto (container inside a CPU- or memory-limited cgroup, else machine), machine, "
            "process (this kernel and its children) or container (the kernel's cgroup)",
        ),
        Setting(
            "region",
            _optional(_text),
            "electricity region: FR, US-CA, CA-QC, gcp:europe-west1 … (default: world average)",
        ),
        Setting(
            "intensity",
            _optional(_number("intensity", 0, MAX_G_PER_KWH)),
            "explicit carbon intensity in gCO2e/kWh (overrides region)",
        ),
        Setting(
            "pue",
            _number("pue", 1.0, MAX_PUE),
            f"power usage effectiveness of the data centre (1.0–{MAX_PUE:g})",
        ),
        Setting(
            "live",
            _optional(_choice("live", ("electricitymaps", "uk"))),
            "live intensity provider: electricitymaps (token in ELECTRICITYMAPS_TOKEN) or uk",
        ),
        Setting(
            "zone",
            _optional(_text),
            "Electricity Maps zone for live=electricitymaps, e.g. US-CAL-CISO "
            "(default: the region's code)",
        ),
        Setting("powercap_root", _text, "folder of the Linux powercap tree (RAPL)"),
        Setting(
            "cgroup_root",
            _text,
            "folder where the Linux cgroup hierarchies are mounted (container scope)",
        ),
        Setting(
            "dmi_root",
            _text,
            "folder of the DMI files that name a cloud provider (AWS, GCP, Azure)",
        ),
        Setting("hwmon_root", _text, "folder of the Linux hwmon tree (Intel GPUs: i915, xe)"),
        Setting(
            "power",
            _power_overrides,
            "fixed wattage per component instead of measuring, e.g. cpu:15,ram:3",
        ),
        Setting(
            "log_dir",
            _optional(_text),
            "folder of the session logs (JSON lines); none: keep records in memory only",
        ),
        Setting(
            "memory_records",
            _whole("memory_records", 1, 10_000_000),
            "records kept in memory, the newest (the log holds them all; the totals are exact)",
        ),
        Setting(
            "store_source",
            _flag("store_source"),
            "also store each cell's source in the log (off: cells often hold secrets)",
        ),
        Setting(
            "dask",
            _choice("dask", ("auto", "on", "off")),
            "measure the Dask cluster of this kernel's distributed.Client: "
            "auto (when there is one), on, off",
        ),
        Setting(
            "mlflow",
            _choice("mlflow", ("auto", "off")),
            "log labelled windows and the session total to the active MLflow run: "
            "auto (when mlflow is imported and a run is active) or off",
        ),
        Setting(
            "wandb",
            _choice("wandb", ("auto", "off")),
            "log labelled windows and the session total to the active Weights & Biases run: "
            "auto (when wandb is imported and a run is active) or off",
        ),
        Setting(
            "embodied",
            _embodied,
            "embodied emissions for SCI: auto (this machine's row of data/embodied.csv, "
            "by DMI maker and model), none, kg CO2e or a table key",
        ),
        Setting(
            "budget_g",
            parse_budget,
            "session budget in g CO2e (20g, 1.5kg; off: none): one note at 80 % and one at "
            "100 % in the cell's report, the summary and %carbon status",
        ),
        Setting(
            "lifetime_years",
            _number("lifetime_years", 0.1, 50),
            "hardware lifetime over which embodied emissions are amortised in SCI "
            "(years; default 4)",
        ),
    )
}


@dataclass(frozen=True)
class Config:
    interval: float = 1.0
    scope: str = "auto"
    region: str | None = None
    intensity: float | None = None
    pue: float = 1.0
    live: str | None = None
    zone: str | None = None
    powercap_root: str = POWERCAP_ROOT
    cgroup_root: str = CGROUP_ROOT
    dmi_root: str = DMI_ROOT
    hwmon_root: str = HWMON_ROOT
    power: dict = field(default_factory=dict)
    log_dir: str | None = ".jupyter_carbon"
    memory_records: int = 10_000
    store_source: bool = False
    dask: str = "auto"
    mlflow: str = "auto"
    wandb: str = "auto"
    embodied: str = "auto"
    lifetime_years: float = 4.0
    budget_g: float | None = None

    def updated(self, **values: Any) -> Config:
        """A copy with ``values`` parsed and validated; raises ConfigError naming a bad key or
        value."""
        parsed = {}
        for key, value in values.items():
            setting = SETTINGS.get(key)
            if setting is None:
                raise ConfigError(f"unknown setting {key!r}; valid settings: {', '.join(SETTINGS)}")
            parsed[key] = setting.parse(value)
        return dataclasses.replace(self, **parsed)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, problems: list[str] | None = None
    ) -> Config:
        """Defaults overridden by ``JUPYTER_CARBON_*`` variables.

        With ``problems`` given, a bad variable is reported there and ignored instead of raising.
        """
        environ = os.environ if environ is None else environ
        config = cls()
        for name, setting in SETTINGS.items():
            if setting.env in environ:
                try:
                    config = config.updated(**{name: environ[setting.env]})
                except ConfigError as exc:
                    if problems is None:
                        raise
                    problems.append(f"ignored {setting.env}: {exc}")
        return config

    def detection_arguments(self) -> dict[str, Any]:
        """The settings hardware detection takes: ``detect(**config.detection_arguments())``."""
        return {
            "power": dict(self.power),
            "powercap_root": self.powercap_root,
            "hwmon_root": self.hwmon_root,
            "cgroup_root": self.cgroup_root,
            "dmi_root": self.dmi_root,
            "scope": self.scope,
            "refresh_s": self.interval,
        }

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
