#!/usr/bin/env python3
"""Rebuild ``jupyter_carbon/data/intensity.csv`` from the CodeCarbon data files.

Usage::

    python tools/build_intensity_table.py [SOURCE_DIR] [--output PATH]

SOURCE_DIR defaults to ``../shared/data/codecarbon`` relative to the repository
root; the output defaults to ``jupyter_carbon/data/intensity.csv``. The output is
deterministic (sorted rows, fixed rounding, ``\n`` line endings) so a rebuild from
the same sources reproduces the committed file byte for byte.

Inputs (units):
  global_energy_mix.json            countries, ISO alpha-3, ``carbon_intensity`` gCO2e/kWh
  usa_emissions.json                US states, ``emissions`` lbs CO2/MWh (/ 2.20462 -> g/kWh)
  canada_energy_mix.json            Canadian provinces, generation mix in percent
  carbon_intensity_per_source.json  lifecycle gCO2e/kWh per source, world average
  impact.csv                        cloud regions, ``impact`` gCO2e/kWh (UTF-8 with BOM)

Stdlib only.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

__all__ = [
    "ALPHA3_TO_ALPHA2",
    "CANADA_PROVINCE_CODES",
    "CANADA_EXTRA_FACTORS_G_PER_KWH",
    "COLUMNS",
    "LBS_PER_KG",
    "build_rows",
    "canada_g_per_kwh",
    "main",
    "render_csv",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE_DIR = REPO_ROOT.parent / "shared" / "data" / "codecarbon"
DEFAULT_OUTPUT = REPO_ROOT / "jupyter_carbon" / "data" / "intensity.csv"

COLUMNS = ("key", "kind", "name", "aliases", "g_per_kwh", "year", "source", "licence")
ALIAS_SEPARATOR = "|"
LBS_PER_KG = 2.20462  # lbs CO2/MWh / 2.20462 = kg/MWh = g/kWh
DECIMALS = 1  # 0.1 gCO2e/kWh is far below the uncertainty of any of these figures

# ISO 3166-1 alpha-3 -> alpha-2 (all officially assigned codes), written out so the
# build needs no third-party package.
ALPHA3_TO_ALPHA2 = {
    "ABW": "AW",
    "AFG": "AF",
    "AGO": "AO",
    "AIA": "AI",
    "ALA": "AX",
    "ALB": "AL",
    "AND": "AD",
    "ARE": "AE",
    "ARG": "AR",
    "ARM": "AM",
    "ASM": "AS",
    "ATA": "AQ",
    "ATF": "TF",
    "ATG": "AG",
    "AUS": "AU",
    "AUT": "AT",
    "AZE": "AZ",
    "BDI": "BI",
    "BEL": "BE",
    "BEN": "BJ",
    "BES": "BQ",
    "BFA": "BF",
    "BGD": "BD",
    "BGR": "BG",
    "BHR": "BH",
    "BHS": "BS",
    "BIH": "BA",
    "BLM": "BL",
    "BLR": "BY",
    "BLZ": "BZ",
    "BMU": "BM",
    "BOL": "BO",
    "BRA": "BR",
    "BRB": "BB",
    "BRN": "BN",
    "BTN": "BT",
    "BVT": "BV",
    "BWA": "BW",
    "CAF": "CF",
    "CAN": "CA",
    "CCK": "CC",
    "CHE": "CH",
    "CHL": "CL",
    "CHN": "CN",
    "CIV": "CI",
    "CMR": "CM",
    "COD": "CD",
    "COG": "CG",
    "COK": "CK",
    "COL": "CO",
    "COM": "KM",
    "CPV": "CV",
    "CRI": "CR",
    "CUB": "CU",
    "CUW": "CW",
    "CXR": "CX",
    "CYM": "KY",
    "CYP": "CY",
    "CZE": "CZ",
    "DEU": "DE",
    "DJI": "DJ",
    "DMA": "DM",
    "DNK": "DK",
    "DOM": "DO",
    "DZA": "DZ",
    "ECU": "EC",
    "EGY": "EG",
    "ERI": "ER",
    "ESH": "EH",
    "ESP": "ES",
    "EST": "EE",
    "ETH": "ET",
    "FIN": "FI",
    "FJI": "FJ",
    "FLK": "FK",
    "FRA": "FR",
    "FRO": "FO",
    "FSM": "FM",
    "GAB": "GA",
    "GBR": "GB",
    "GEO": "GE",
    "GGY": "GG",
    "GHA": "GH",
    "GIB": "GI",
    "GIN": "GN",
    "GLP": "GP",
    "GMB": "GM",
    "GNB": "GW",
    "GNQ": "GQ",
    "GRC": "GR",
    "GRD": "GD",
    "GRL": "GL",
    "GTM": "GT",
    "GUF": "GF",
    "GUM": "GU",
    "GUY": "GY",
    "HKG": "HK",
    "HMD": "HM",
    "HND": "HN",
    "HRV": "HR",
    "HTI": "HT",
    "HUN": "HU",
    "IDN": "ID",
    "IMN": "IM",
    "IND": "IN",
    "IOT": "IO",
    "IRL": "IE",
    "IRN": "IR",
    "IRQ": "IQ",
    "ISL": "IS",
    "ISR": "IL",
    "ITA": "IT",
    "JAM": "JM",
    "JEY": "JE",
    "JOR": "JO",
    "JPN": "JP",
    "KAZ": "KZ",
    "KEN": "KE",
    "KGZ": "KG",
    "KHM": "KH",
    "KIR": "KI",
    "KNA": "KN",
    "KOR": "KR",
    "KWT": "KW",
    "LAO": "LA",
    "LBN": "LB",
    "LBR": "LR",
    "LBY": "LY",
    "LCA": "LC",
    "LIE": "LI",
    "LKA": "LK",
    "LSO": "LS",
    "LTU": "LT",
    "LUX": "LU",
    "LVA": "LV",
    "MAC": "MO",
    "MAF": "MF",
    "MAR": "MA",
    "MCO": "MC",
    "MDA": "MD",
    "MDG": "MG",
    "MDV": "MV",
    "MEX": "MX",
    "MHL": "MH",
    "MKD": "MK",
    "MLI": "ML",
    "MLT": "MT",
    "MMR": "MM",
    "MNE": "ME",
    "MNG": "MN",
    "MNP": "MP",
    "MOZ": "MZ",
    "MRT": "MR",
    "MSR": "MS",
    "MTQ": "MQ",
    "MUS": "MU",
    "MWI": "MW",
    "MYS": "MY",
    "MYT": "YT",
    "NAM": "NA",
    "NCL": "NC",
    "NER": "NE",
    "NFK": "NF",
    "NGA": "NG",
    "NIC": "NI",
    "NIU": "NU",
    "NLD": "NL",
    "NOR": "NO",
    "NPL": "NP",
    "NRU": "NR",
    "NZL": "NZ",
    "OMN": "OM",
    "PAK": "PK",
    "PAN": "PA",
    "PCN": "PN",
    "PER": "PE",
    "PHL": "PH",
    "PLW": "PW",
    "PNG": "PG",
    "POL": "PL",
    "PRI": "PR",
    "PRK": "KP",
    "PRT": "PT",
    "PRY": "PY",
    "PSE": "PS",
    "PYF": "PF",
    "QAT": "QA",
    "REU": "RE",
    "ROU": "RO",
    "RUS": "RU",
    "RWA": "RW",
    "SAU": "SA",
    "SDN": "SD",
    "SEN": "SN",
    "SGP": "SG",
    "SGS": "GS",
    "SHN": "SH",
    "SJM": "SJ",
    "SLB": "SB",
    "SLE": "SL",
    "SLV": "SV",
    "SMR": "SM",
    "SOM": "SO",
    "SPM": "PM",
    "SRB": "RS",
    "SSD": "SS",
    "STP": "ST",
    "SUR": "SR",
    "SVK": "SK",
    "SVN": "SI",
    "SWE": "SE",
    "SWZ": "SZ",
    "SXM": "SX",
    "SYC": "SC",
    "SYR": "SY",
    "TCA": "TC",
    "TCD": "TD",
    "TGO": "TG",
    "THA": "TH",
    "TJK": "TJ",
    "TKL": "TK",
    "TKM": "TM",
    "TLS": "TL",
    "TON": "TO",
    "TTO": "TT",
    "TUN": "TN",
    "TUR": "TR",
    "TUV": "TV",
    "TWN": "TW",
    "TZA": "TZ",
    "UGA": "UG",
    "UKR": "UA",
    "UMI": "UM",
    "URY": "UY",
    "USA": "US",
    "UZB": "UZ",
    "VAT": "VA",
    "VCT": "VC",
    "VEN": "VE",
    "VGB": "VG",
    "VIR": "VI",
    "VNM": "VN",
    "VUT": "VU",
    "WLF": "WF",
    "WSM": "WS",
    "YEM": "YE",
    "ZAF": "ZA",
    "ZMB": "ZM",
    "ZWE": "ZW",
}

# Extra, commonly typed names for a few countries (all lower case).
EXTRA_COUNTRY_ALIASES = {
    "GB": ("uk", "great britain", "britain"),
    "US": ("united states of america", "america"),
    "CZ": ("czech republic",),
    "KR": ("korea",),
    "NL": ("holland",),
}

CANADA_PROVINCE_CODES = {
    "alberta": "AB",
    "british columbia": "BC",
    "manitoba": "MB",
    "new brunswick": "NB",
    "newfoundland and labrador": "NL",
    "nova scotia": "NS",
    "northwest territories": "NT",
    "nunavut": "NU",
    "ontario": "ON",
    "prince edward island": "PE",
    "quebec": "QC",
    "saskatchewan": "SK",
    "yukon": "YT",
}

EXTRA_PROVINCE_ALIASES = {"QC": ("québec",)}

# canada_energy_mix.json field -> carbon_intensity_per_source.json field
CANADA_SOURCE_FIELDS = {
    "coal": "coal",
    "petroleum": "petroleum",
    "naturalGas": "natural_gas",
    "nuclear": "nuclear",
    "hydro": "hydroelectricity",
    "wind": "wind",
    "solar": "solar",
}
# Sources the CodeCarbon factor file does not cover (lifecycle gCO2e/kWh).
CANADA_EXTRA_FACTORS_G_PER_KWH = {
    # IPCC AR5 WGIII (2014), Annex III, Table A.III.2, "Biomass - dedicated", median.
    "biomass": 230.0,
    # IPCC AR5 WGIII (2014), Annex III, Table A.III.2, "Ocean (tidal and wave)", median.
    "tidal": 17.0,
}
# "other" (unknown technology) is charged at the world average from the factor file.
CANADA_OTHER_FIELD = "other"
CANADA_IGNORED_FIELDS = {"total"}

CLOUD_SOURCE_LABELS = {"gcp": "Google Cloud", "aws": "AWS", "azure": "Azure"}
# Known typos in upstream region names: upstream -> corrected (upstream kept as alias).
CLOUD_REGION_FIXES = {("gcp", "me-cenrtal1"): "me-central1"}

KIND_ORDER = ("world", "country", "us-state", "ca-province", "cloud")


def _fmt(value: float) -> str:
    text = f"{round(float(value), DECIMALS):.{DECIMALS}f}"
    return "0.0" if text == "-0.0" else text


def _title(name: str) -> str:
    small = {"of", "and", "the"}
    words = name.split()
    return " ".join(w if (i and w in small) else w[:1].upper() + w[1:] for i, w in enumerate(words))


def _load_json(path: Path):
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def canada_g_per_kwh(mix_percent: dict, factors: dict) -> float:
    """Lifecycle intensity of a generation mix: share-weighted mean of per-source factors.

    Shares are normalised by their own sum (the upstream ``total`` is 99.8-100.2).
    """
    weighted = 0.0
    share_sum = 0.0
    for field, share in mix_percent.items():
        if field in CANADA_IGNORED_FIELDS:
            continue
        if field in CANADA_SOURCE_FIELDS:
            factor = float(factors[CANADA_SOURCE_FIELDS[field]])
        elif field in CANADA_EXTRA_FACTORS_G_PER_KWH:
            factor = CANADA_EXTRA_FACTORS_G_PER_KWH[field]
        elif field == CANADA_OTHER_FIELD:
            factor = float(factors["world_average"])
        else:
            raise ValueError(
                f"canada_energy_mix.json: no lifecycle factor for source {field!r}; "
                "add one to the build script"
            )
        weighted += float(share) * factor
        share_sum += float(share)
    if share_sum <= 0:
        raise ValueError("canada_energy_mix.json: a province has an empty generation mix")
    return weighted / share_sum


def _country_rows(source_dir: Path) -> list[dict]:
    data = _load_json(source_dir / "global_energy_mix.json")
    rows = []
    for alpha3, entry in data.items():
        alpha2 = ALPHA3_TO_ALPHA2.get(alpha3.upper())
        if alpha2 is None:
            raise ValueError(
                f"global_energy_mix.json: no alpha-2 code for {alpha3!r}; "
                "add it to ALPHA3_TO_ALPHA2"
            )
        name = str(entry["country_name"])
        aliases = [alpha3.lower(), name.lower(), *EXTRA_COUNTRY_ALIASES.get(alpha2, ())]
        rows.append(
            {
                "key": alpha2,
                "kind": "country",
                "name": name,
                "aliases": aliases,
                "g_per_kwh": float(entry["carbon_intensity"]),
                "year": str(entry.get("year", "")),
                "source": "OWID/Ember",
                "licence": "CC-BY-4.0",
            }
        )
    return rows


def _us_rows(source_dir: Path) -> list[dict]:
    data = _load_json(source_dir / "usa_emissions.json")
    rows = []
    for state, entry in data.items():
        code = str(entry.get("regionCode", ""))
        if len(code) != 2 or not code.isalpha():
            # "_unit" header entry and the "usa" national total (the country row covers it)
            continue
        rows.append(
            {
                "key": f"US-{code.upper()}",
                "kind": "us-state",
                "name": _title(state),
                "aliases": [state.lower()],
                "g_per_kwh": float(entry["emissions"]) / LBS_PER_KG,
                "year": "",
                "source": "EPA eGRID",
                "licence": "MIT",
            }
        )
    return rows


def _canada_rows(source_dir: Path, factors: dict) -> list[dict]:
    data = _load_json(source_dir / "canada_energy_mix.json")
    rows = []
    for province, mix in data.items():
        code = CANADA_PROVINCE_CODES.get(province.lower())
        if code is None:
            raise ValueError(
                f"canada_energy_mix.json: unknown province {province!r}; "
                "add it to CANADA_PROVINCE_CODES"
            )
        rows.append(
            {
                "key": f"CA-{code}",
                "kind": "ca-province",
                "name": _title(province),
                "aliases": [province.lower(), *EXTRA_PROVINCE_ALIASES.get(code, ())],
                "g_per_kwh": canada_g_per_kwh(mix, factors),
                "year": "",
                "source": "mix x lifecycle factors",
                "licence": "MIT",
            }
        )
    return rows


def _cloud_rows(source_dir: Path) -> list[dict]:
    rows = []
    with (source_dir / "impact.csv").open(encoding="utf-8-sig", newline="") as fh:
        for rec in csv.DictReader(fh):
            provider = rec["provider"].strip().lower()
            region = rec["region"].strip()
            fixed = CLOUD_REGION_FIXES.get((provider, region), region)
            aliases = [f"{provider}:{region}".lower()] if fixed != region else []
            place = ", ".join(
                p for p in (rec.get("city", "").strip(), rec.get("country_name", "").strip()) if p
            )
            rows.append(
                {
                    "key": f"{provider}:{fixed}",
                    "kind": "cloud",
                    "name": f"{rec['providerName'].strip()} {fixed}"
                    + (f" ({place})" if place else ""),
                    "aliases": aliases,
                    "g_per_kwh": float(rec["impact"]),
                    "year": "",
                    "source": CLOUD_SOURCE_LABELS.get(provider, rec["providerName"].strip()),
                    "licence": "MIT",
                }
            )
    return rows


def _world_row(factors: dict) -> dict:
    return {
        "key": "WORLD",
        "kind": "world",
        "name": "World average",
        "aliases": ["world", "global", "world average"],
        "g_per_kwh": float(factors["world_average"]),
        "year": "2019",
        "source": "IEA",
        "licence": "MIT",
    }


def build_rows(source_dir: Path, warn=None) -> list[dict]:
    """All table rows, sorted, with alias collisions resolved (earlier kinds win)."""
    source_dir = Path(source_dir)
    factors = _load_json(source_dir / "carbon_intensity_per_source.json")
    rows = [
        _world_row(factors),
        *_country_rows(source_dir),
        *_us_rows(source_dir),
        *_canada_rows(source_dir, factors),
        *_cloud_rows(source_dir),
    ]
    rows.sort(key=lambda r: (KIND_ORDER.index(r["kind"]), r["key"]))
    taken: dict[str, str] = {}
    for row in rows:
        norm = row["key"].casefold()
        if norm in taken:
            raise ValueError(
                f"duplicate key {row['key']!r} (also {taken[norm]!r}); "
                "fix the source data or the build script"
            )
        taken[norm] = row["key"]
    for row in rows:
        kept = []
        for alias in row["aliases"]:
            norm = alias.casefold()
            if norm in taken and taken[norm] != row["key"]:
                if warn is not None:
                    warn(f"alias {alias!r} of {row['key']} dropped: already names {taken[norm]}")
                continue
            if norm not in taken:
                taken[norm] = row["key"]
                kept.append(norm)
        row["aliases"] = kept
    return rows


def render_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row["key"],
                row["kind"],
                row["name"],
                ALIAS_SEPARATOR.join(row["aliases"]),
                _fmt(row["g_per_kwh"]),
                row["year"],
                row["source"],
                row["licence"],
            ]
        )
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "source_dir",
        nargs="?",
        default=str(DEFAULT_SOURCE_DIR),
        help="folder with the CodeCarbon data files (default: %(default)s)",
    )
    parser.add_argument(
        "--output", default=str(DEFAULT_OUTPUT), help="CSV to write (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    source_dir = Path(args.source_dir)
    if not (source_dir / "global_energy_mix.json").is_file():
        print(
            f"error: {source_dir} has no global_energy_mix.json; "
            "pass the CodeCarbon data folder as the first argument",
            file=sys.stderr,
        )
        return 2
    rows = build_rows(source_dir, warn=lambda msg: print(f"note: {msg}", file=sys.stderr))
    text = render_csv(rows)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    print(f"wrote {output} ({len(rows)} rows, {len(text.encode('utf-8'))} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
