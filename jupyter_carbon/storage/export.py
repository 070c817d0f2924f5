"""Exports: CodeCarbon-compatible CSV, full-fidelity JSON, and a pandas DataFrame.

CSV: the columns of CodeCarbon's ``emissions.csv`` first, in CodeCarbon's order and units
(emissions in kg, emissions_rate in kg/s, powers in W, energies in kWh, ram_total_size in GB),
so CodeCarbon's carbonboard and existing scripts read it; one row per record; then our own
columns. JSON: ``{"format": "jupyter_carbon", "schema": 3, "records": [record.to_dict() …]}``,
read back exactly by :func:`load_records` (which also reads session logs, ``.jsonl``).
"""

from __future__ import annotations

import csv
import json
import os
import platform
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..record import RECORD_SCHEMA, CellRecord
from ..sources.base import COMPONENTS
from ..textsafe import csv_cell
from ..units import J_PER_KWH
from .reader import skip_reason, skipped_note

__all__ = ["CODECARBON_COLUMNS", "OUR_COLUMNS", "export_records", "load_records", "read_export", "record_row", "to_dataframe", "check_output_path"]

#: CodeCarbon's emissions.csv, in order: the ``EmissionsData`` dataclass of CodeCarbon 2.5–2.8
#: (codecarbon/output_methods/emissions_data.py); units from https://mlco2.github.io/codecarbon/output.html
CODECARBON_COLUMNS = (
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate",
    "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed",
    "country_name", "country_iso_code", "region", "cloud_provider", "cloud_region", "os", "python_version",
    "codecarbon_version", "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude", "latitude",
    "ram_total_size", "tracking_mode", "on_cloud", "pue",
)  # fmt: skip
#: Ours, after CodeCarbon's; units in the names.
OUR_COLUMNS = (
    "record_id", "cell", "label", "kind", "status", "methods", "measured", "energy_j", "energy_low_j",
    "energy_high_j", "co2e_g", "co2e_low_g", "co2e_high_g", "intensity_g_per_kwh", "intensity_source",
    "items", "task", "start_utc", "end_utc", "flags", "scope_reason", "cluster_energy_j", "cluster_low_j",
    "cluster_high_j", "cluster_co2e_g", "cluster_idle_j", "cluster_measured", "cluster_hosts",
)  # fmt: skip
PROJECT_NAME = "jupyter_carbon"
#: One experiment for every jupyter_carbon export (CodeCarbon groups runs by experiment).
EXPERIMENT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "https://pypi.org/project/jupyter-carbon/"))
_FORMATS = (".csv", ".json")


# --- paths ---------------------------------------------------------------------------------------


def check_output_path(path: str | os.PathLike, suffixes: Iterable[str] = _FORMATS) -> Path:
    """``path`` as a Path when a file can be written there; else ValueError saying what to do."""
    suffixes = tuple(suffixes)
    text = str(path).strip()
    if not text:
        raise ValueError(f"no output path given: write e.g. results{suffixes[0]}")
    target = Path(text).expanduser()
    if target.is_dir():
        raise ValueError(f"{text} is a folder: give a file name inside it, e.g. {target / ('carbon' + suffixes[0])}")
    if target.suffix.lower() not in suffixes:
        raise ValueError(f"unknown file type {target.suffix or '(none)'!r} in {text}: use a path ending in {' or '.join(suffixes)}")
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise ValueError(f"{parent} is a file, not a folder: choose another path")
    if not parent.is_dir():
        raise ValueError(f"folder {parent} does not exist: create it first or choose another path")
    try:  # the real test (file modes do not stop root; read-only mounts do)
        probe = tempfile.NamedTemporaryFile(dir=parent, prefix=".jupyter_carbon-", delete=True)
        probe.close()
    except OSError as exc:
        raise ValueError(f"cannot write in {parent} ({exc.strerror or exc}): choose a writable folder") from None
    return target


def _write_atomic(target: Path, write: Any) -> Path:
    """Write through a temporary file in the same folder, then rename: no half-written export."""
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                write(handle)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise ValueError(f"cannot write {target} ({exc.strerror or exc}): choose a writable path") from None
    return target


# --- rows ----------------------------------------------------------------------------------------


def _host() -> dict[str, Any]:
    try:
        ram_gb: Any = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3  # CodeCarbon: bytes / 1024**3
    except (ValueError, OSError, AttributeError):
        ram_gb = ""
    from .. import __version__

    return {
        "os": platform.platform(),
        "python_version": platform.python_version(),
        "codecarbon_version": f"jupyter_carbon {__version__}",  # written by us, not by CodeCarbon
        "cpu_count": os.cpu_count() or "",
        "ram_total_size": ram_gb,
    }


def _location(record: CellRecord) -> dict[str, Any]:
    """CodeCarbon's location columns from the intensity's region, when it came from our table."""
    return dict(_location_of(record.region))


@lru_cache(maxsize=256)  # one lookup per region, not per record (exports of 100,000 records)
def _location_of(region_key: str | None) -> dict[str, Any]:
    out = dict.fromkeys(("country_name", "country_iso_code", "region", "cloud_provider", "cloud_region"), "")
    out["on_cloud"] = "N"
    if region_key is None:
        return out
    try:
        from ..intensity import lookup_region

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


def record_row(record: CellRecord, *, run_id: str = "", host: dict[str, Any] | None = None) -> dict[str, Any]:
    """One CSV/DataFrame row: CodeCarbon's columns then ours."""
    duration_s = record.duration_s
    comps = record.components
    energy_kwh = {name: (comps[name].energy_j / J_PER_KWH if name in comps else 0.0) for name in COMPONENTS}
    power_w = {name: (comps[name].energy_j / duration_s if name in comps and duration_s > 0 else 0.0) for name in COMPONENTS}
    emissions_kg = record.co2e_g / 1000.0
    gpus = [d.device for d in record.devices if d.component == "gpu"]
    cpus = list(dict.fromkeys(d.device for d in record.devices if d.component == "cpu"))
    low_j, high_j = record.energy_band_j
    low_g, high_g = record.co2e_band_g
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
        **(host if host is not None else _host()),
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
        "energy_j": record.energy_j,
        "energy_low_j": low_j,
        "energy_high_j": high_j,
        "co2e_g": record.co2e_g,
        "co2e_low_g": low_g,
        "co2e_high_g": high_g,
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


def _cluster_columns(record: CellRecord) -> dict[str, Any]:
    """The Dask cluster part: charged energy (not in ``energy_j``), its CO2e at the record's
    intensity, the idle threads' energy (not charged) and the hosts; empty without a cluster."""
    part = record.cluster
    if part is None:
        return dict.fromkeys(("cluster_energy_j", "cluster_low_j", "cluster_high_j", "cluster_co2e_g", "cluster_idle_j", "cluster_measured", "cluster_hosts"), "")
    return {
        "cluster_energy_j": part.energy_j,
        "cluster_low_j": part.low_j,
        "cluster_high_j": part.high_j,
        "cluster_co2e_g": record.co2e_g_of(part.energy_j),
        "cluster_idle_j": part.idle_j,
        "cluster_measured": "measured" if part.measured else "estimated",
        "cluster_hosts": ";".join(h.host for h in part.hosts),
    }


# --- formats -------------------------------------------------------------------------------------


def export_records(records: Iterable[CellRecord], path: str | os.PathLike, *, run_id: str | None = None) -> Path:
    """Write ``records`` to ``path`` (.csv or .json) and return the path written. ``records`` is
    read once, as it goes (a generator of 100,000 logged records is never held whole).

    CSV text cells that a spreadsheet would run as a formula get a leading apostrophe
    (``textsafe.csv_cell``). Raises ValueError with a one-line message for an unknown extension
    or an unusable path.
    """
    target = check_output_path(path)
    if target.suffix.lower() == ".csv":
        run = run_id or str(uuid.uuid4())
        host = _host()

        def write(handle: Any) -> None:
            writer = csv.DictWriter(handle, fieldnames=CODECARBON_COLUMNS + OUR_COLUMNS)
            writer.writeheader()
            for record in records:
                writer.writerow({name: csv_cell(value) for name, value in record_row(record, run_id=run, host=host).items()})

    else:
        head = {"format": "jupyter_carbon", "schema": RECORD_SCHEMA, "exported_utc": datetime.now(timezone.utc).isoformat()}

        def write(handle: Any) -> None:
            handle.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "records": [')
            for i, record in enumerate(records):
                handle.write(("\n " if i == 0 else ",\n ") + json.dumps(record.to_dict(), ensure_ascii=False))
            handle.write("\n]}\n")

    return _write_atomic(target, write)


def load_records(path: str | os.PathLike) -> list[CellRecord]:
    """Records of a JSON export or of a session log (``.jsonl``); ValueError when unreadable."""
    source = Path(path).expanduser()
    if source.suffix.lower() == ".jsonl":
        from .reader import read_log

        try:
            return read_log(source).records
        except OSError as exc:
            raise ValueError(f"cannot read {source} ({exc.strerror or exc}): check the path") from None
    document = _export_document(source)
    try:
        return [CellRecord.from_dict(r) for r in document.get("records", [])]
    except (TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"{source}: a record is malformed ({type(exc).__name__}: {exc})") from None


def _export_document(source: Path) -> dict[str, Any]:
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {source} ({exc.strerror or exc}): check the path") from None
    except (ValueError, RecursionError):
        raise ValueError(f"{source} is not JSON: give a file written by %carbon export PATH.json") from None
    if not isinstance(document, dict) or document.get("format") != "jupyter_carbon":
        raise ValueError(f"{source} is not a jupyter_carbon export: give a file written by %carbon export PATH.json")
    if not isinstance(document.get("records", []), list):
        raise ValueError(f"{source}: its records are not a list: give a file written by %carbon export PATH.json")
    return document


def read_export(path: str | os.PathLike) -> tuple[list[CellRecord], list[str]]:
    """The records of a JSON export that can be read, and at most one note saying how many were
    skipped and why (as the log readers do); ValueError when the file itself is unusable."""
    source = Path(path).expanduser()
    records: list[CellRecord] = []
    skipped: Counter[str] = Counter()
    for item in _export_document(source).get("records", []):
        try:
            records.append(CellRecord.from_dict(item))
        except (TypeError, KeyError, ValueError, OverflowError, RecursionError) as exc:
            skipped[skip_reason(exc)] += 1
    return records, [skipped_note(source.name, skipped, "record")] if skipped else []


def to_dataframe(records: Iterable[CellRecord]) -> Any:
    """A pandas DataFrame, one row per record (the CSV's columns); needs pandas."""
    try:
        import pandas
    except ImportError:
        raise ImportError("to_dataframe() needs pandas, which jupyter_carbon does not install: pip install pandas") from None
    host = _host()
    rows = [record_row(r, host=host) for r in records]
    return pandas.DataFrame(rows, columns=list(CODECARBON_COLUMNS + OUR_COLUMNS))
