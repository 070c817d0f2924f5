"""A record as one flat row: CodeCarbon's ``emissions.csv`` columns, then ours.

CodeCarbon's columns come first, in its order and units (emissions in kg, emissions_rate in kg/s,
powers in W, energies in kWh, ram_total_size in GB), so CodeCarbon's carbonboard and existing
scripts read the rows; ours follow, with units in their names. The CSV export writes these rows;
:func:`to_dataframe` gives them to pandas.
"""

from __future__ import annotations

import os
import platform
import uuid
from collections.abc import Iterable
from datetime import timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .intensity import lookup_region
from .record import WindowRecord
from .sources.base import COMPONENTS
from .units import J_PER_KWH

if TYPE_CHECKING:
    import pandas

__all__ = ["CODECARBON_COLUMNS", "OUR_COLUMNS", "record_row", "host_columns", "to_dataframe"]

#: CodeCarbon's emissions.csv, in order: the ``EmissionsData`` dataclass of CodeCarbon 2.5–2.8
#: (codecarbon/output_methods/emissions_data.py); units from
#: https://mlco2.github.io/codecarbon/output.html
CODECARBON_COLUMNS = (
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions",
    "emissions_rate", "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy",
    "ram_energy", "energy_consumed", "country_name", "country_iso_code", "region",
    "cloud_provider", "cloud_region", "os", "python_version", "codecarbon_version", "cpu_count",
    "cpu_model", "gpu_count", "gpu_model", "longitude", "latitude", "ram_total_size",
    "tracking_mode", "on_cloud", "pue",
)  # fmt: skip
#: Ours, after CodeCarbon's; units in the names.
OUR_COLUMNS = (
    "record_id", "cell", "label", "kind", "status", "methods", "measured", "energy_j",
    "energy_low_j", "energy_high_j", "co2e_g", "co2e_low_g", "co2e_high_g", "intensity_g_per_kwh",
    "intensity_source", "items", "task", "start_utc", "end_utc", "flags", "scope_reason",
    "cluster_energy_j", "cluster_low_j", "cluster_high_j", "cluster_co2e_g", "cluster_idle_j",
    "cluster_measured", "cluster_hosts",
)  # fmt: skip
PROJECT_NAME = "jupyter_carbon"
#: One experiment for every jupyter_carbon export (CodeCarbon groups runs by experiment).
EXPERIMENT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "https://pypi.org/project/jupyter-carbon/"))


def host_columns() -> dict[str, Any]:
    """CodeCarbon's columns about this machine and Python, the same for every row."""
    try:
        # CodeCarbon: bytes / 1024**3
        ram_gb: float | str = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    except (ValueError, OSError, AttributeError):
        ram_gb = ""
    return {
        "os": platform.platform(),
        "python_version": platform.python_version(),
        "codecarbon_version": f"jupyter_carbon {__version__}",  # written by us, not by CodeCarbon
        "cpu_count": os.cpu_count() or "",
        "ram_total_size": ram_gb,
    }


def _location(record: WindowRecord) -> dict[str, Any]:
    """CodeCarbon's location columns from the intensity's region, when it came from our table."""
    return dict(_location_of(record.region))


@lru_cache(maxsize=256)  # one lookup per region, not per record (exports of 100,000 records)
def _location_of(region_key: str | None) -> dict[str, Any]:
    out = dict.fromkeys(
        ("country_name", "country_iso_code", "region", "cloud_provider", "cloud_region"), ""
    )
    out["on_cloud"] = "N"
    if region_key is None:
        return out
    try:
        region = lookup_region(region_key)
    except Exception:  # an old log naming a region the table no longer has
        return out
    if region.kind == "cloud":
        provider, _, name = region.key.partition(":")
        out.update(cloud_provider=provider, cloud_region=name, on_cloud="Y")
    elif region.kind == "country":
        iso3 = next((a.upper() for a in region.aliases if len(a) == 3 and a.isalpha()), "")
        out.update(country_name=region.name, country_iso_code=iso3)
    else:  # a US state or Canadian province
        country = ("United States", "USA") if region.key.startswith("US-") else ("Canada", "CAN")
        out.update(country_name=country[0], country_iso_code=country[1], region=region.name)
    return out


def record_row(
    record: WindowRecord, *, run_id: str = "", host: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One CSV/DataFrame row: CodeCarbon's columns then ours."""
    duration_s = record.duration_s
    comps = record.components
    energy_kwh = {
        name: (comps[name].energy_j / J_PER_KWH if name in comps else 0.0) for name in COMPONENTS
    }
    power_w = {
        name: (comps[name].energy_j / duration_s if name in comps and duration_s > 0 else 0.0)
        for name in COMPONENTS
    }
    emissions_kg = record.co2e_g / 1000.0
    gpus = [d.device for d in record.devices if d.component == "gpu"]
    cpus = list(dict.fromkeys(d.device for d in record.devices if d.component == "cpu"))
    energy = record.energy
    co2e = energy.co2e(record.intensity_g_per_kwh, record.pue)
    row: dict[str, Any] = {
        "timestamp": record.end_utc.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        "project_name": PROJECT_NAME,
        "run_id": run_id,
        "experiment_id": EXPERIMENT_ID,
        "duration": duration_s,
        "emissions": emissions_kg,
        "emissions_rate": emissions_kg / duration_s if duration_s > 0 else 0.0,
        "cpu_power": power_w["cpu"],
        "gpu_power": power_w["gpu"],
        "ram_power": power_w["ram"],
        "cpu_energy": energy_kwh["cpu"],
        "gpu_energy": energy_kwh["gpu"],
        "ram_energy": energy_kwh["ram"],
        "energy_consumed": sum(energy_kwh.values()),
        **_location(record),
        **(host if host is not None else host_columns()),
        "cpu_model": ", ".join(cpus),
        "gpu_count": len(gpus),
        "gpu_model": f"{len(gpus)} x {gpus[0]}" if gpus else "",
        "longitude": None,  # never stored (privacy)
        "latitude": None,
        "tracking_mode": record.scope,
        "pue": record.pue,
        "record_id": record.id,
        "cell": record.cell,  # None: an empty CSV field, NaN in pandas
        "label": record.label or "",
        "kind": record.kind,
        "status": record.status,
        "methods": ";".join(f"{c.component}:{'/'.join(c.methods)}" for c in comps.values()),
        "measured": "measured" if record.measured else "estimated",
        "energy_j": energy.energy_j,
        "energy_low_j": energy.low_j,
        "energy_high_j": energy.high_j,
        "co2e_g": co2e.co2e_g,
        "co2e_low_g": co2e.low_g,
        "co2e_high_g": co2e.high_g,
        "intensity_g_per_kwh": record.intensity_g_per_kwh,
        "intensity_source": record.intensity_source,
        "items": record.items,
        "task": record.task or "",
        "start_utc": record.start_utc.isoformat(),
        "end_utc": record.end_utc.isoformat(),
        "flags": " | ".join(record.flags),
        "scope_reason": record.scope_reason or "",
        **_cluster_columns(record),
    }
    return {name: row[name] for name in CODECARBON_COLUMNS + OUR_COLUMNS}


def _cluster_columns(record: WindowRecord) -> dict[str, Any]:
    """The Dask cluster part: charged energy (not in ``energy_j``), its CO2e at the record's
    intensity, the idle threads' energy (not charged) and the hosts; empty without a cluster."""
    part = record.cluster
    if part is None:
        return dict.fromkeys(
            (
                "cluster_energy_j",
                "cluster_low_j",
                "cluster_high_j",
                "cluster_co2e_g",
                "cluster_idle_j",
                "cluster_measured",
                "cluster_hosts",
            ),
            "",
        )
    return {
        "cluster_energy_j": part.energy_j,
        "cluster_low_j": part.low_j,
        "cluster_high_j": part.high_j,
        "cluster_co2e_g": record.co2e_g_of(part.energy_j),
        "cluster_idle_j": part.idle_j,
        "cluster_measured": "measured" if part.measured else "estimated",
        "cluster_hosts": ";".join(h.host for h in part.hosts),
    }


def to_dataframe(records: Iterable[WindowRecord]) -> pandas.DataFrame:
    """A pandas DataFrame, one row per record (the CSV's columns); needs pandas."""
    try:
        import pandas
    except ImportError:
        raise ImportError(
            "to_dataframe() needs pandas, which jupyter_carbon does not install: pip install pandas"
        ) from None
    host = host_columns()
    rows = [record_row(r, host=host) for r in records]
    return pandas.DataFrame(rows, columns=list(CODECARBON_COLUMNS + OUR_COLUMNS))
