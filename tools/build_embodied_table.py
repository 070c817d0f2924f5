"""Build ``jupyter_carbon/data/embodied.csv`` from Boavizta's environmental-footprint-data.

    python tools/build_embodied_table.py path/to/boavizta-data-us.csv \
        > jupyter_carbon/data/embodied.csv

Source: https://github.com/Boavizta/environmental-footprint-data (``boavizta-data-us.csv``),
Open Database License 1.0 (contents: Database Contents License 1.0); each row there is taken
from a manufacturer's product carbon footprint (PCF) sheet, whose address is kept per row.
Rows kept: servers (Datacenter/Server) and workstations, desktops and laptops (Workplace), with a
life-cycle total and a use-phase share. The embodied figure is the life-cycle total without its
use phase: ``embodied_kg = gwp_total × (1 − gwp_use_ratio)`` (manufacturing, transport and end of
life), rounded to 0.1 kg; both inputs are kept in the row so the figure can be checked.
"""

from __future__ import annotations

import csv
import re
import sys

KEEP = {
    ("Datacenter", "Server"),
    ("Workplace", "Workstation"),
    ("Workplace", "Desktop"),
    ("Workplace", "Laptop"),
}
COLUMNS = (
    "key", "hardware_class", "manufacturer", "model", "embodied_kg", "gwp_total_kg",
    "gwp_use_ratio", "pcf_lifetime_years", "year", "source_url", "via", "licence",
)  # fmt: skip
VIA = "Boavizta environmental-footprint-data"
LICENCE = "ODbL-1.0"


def _key(manufacturer: str, name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", f"{manufacturer} {name}".lower()).strip("-")


def _year(text: str) -> str:
    found = re.findall(r"(?:19|20)\d\d", text)
    return found[-1] if found else ""


def main(path: str) -> None:
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(COLUMNS)
    seen: set[str] = set()
    for row in rows:
        if (row["category"], row["subcategory"]) not in KEEP:
            continue
        try:
            total, use = float(row["gwp_total"]), float(row["gwp_use_ratio"])
        except ValueError:
            continue
        if not (total > 0 and 0 <= use < 1):
            continue
        key = _key(row["manufacturer"], row["name"])
        if key in seen:
            continue
        seen.add(key)
        out.writerow((
            key, row["subcategory"].lower(), row["manufacturer"], row["name"].strip(),
            f"{total * (1 - use):.1f}", row["gwp_total"], row["gwp_use_ratio"], row["lifetime"],
            _year(row["report_date"]), row["sources"], VIA, LICENCE,
        ))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1])
