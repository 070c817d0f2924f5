"""Validate the CPU power model against measured RAPL load profiles; prints the figures of
docs/cpu-model-validation.md.

Data: tools/cpu_load_profiles.csv, measured RAPL package power (W) over 30 s steps at 0-100 %
CPU load on four real CPUs (CodeCarbon's published load profiles; see jupyter_carbon/data/NOTICE.md).
Each step lasts the same time, so weighting by measured power is weighting by energy.

Models compared, all with the machine's total TDP from jupyter_carbon's table (× sockets):

* ``teads``: the previous model, Teads/SPECpower curve 12/32/75/102 % of TDP at 0/10/50/100 % load,
  band 3/15/50/80 % to 35/55/95/125 %.
* ``codecarbon``: CodeCarbon's CPU-load mode, TDP × load.
* ``line``: the current model, jupyter_carbon.sources.cpu_model.TDP_CURVE.

Figures: energy-weighted error = Σ|estimate − measured| / Σ measured, over all points and per CPU;
band coverage = share of measured points inside the model's [low, high] band.

Run: python tools/cpu_model_validation.py
"""

from __future__ import annotations

import csv
from bisect import bisect_right
from collections.abc import Callable
from pathlib import Path

from jupyter_carbon.sources.cpu_model import TDP_CURVE, lookup_tdp_w

DATA = Path(__file__).with_name("cpu_load_profiles.csv")

_TEADS_U = (0.0, 0.10, 0.50, 1.00)
_TEADS = {
    "central": (0.12, 0.32, 0.75, 1.02),
    "low": (0.03, 0.15, 0.50, 0.80),
    "high": (0.35, 0.55, 0.95, 1.25),
}


def _teads(u: float, which: str) -> float:
    i = min(bisect_right(_TEADS_U, u), len(_TEADS_U) - 1)
    x0, x1 = _TEADS_U[i - 1], _TEADS_U[i]
    ys = _TEADS[which]
    return ys[i - 1] + (ys[i] - ys[i - 1]) * (u - x0) / (x1 - x0)


#: name → (central fraction of TDP, band as (low, high) fractions or None)
MODELS: dict[
    str, tuple[Callable[[float], float], Callable[[float], tuple[float, float]] | None]
] = {
    "teads": (lambda u: _teads(u, "central"), lambda u: (_teads(u, "low"), _teads(u, "high"))),
    "codecarbon": (lambda u: u, None),
    "line": (lambda u: TDP_CURVE.fractions(u)[0], lambda u: TDP_CURVE.fractions(u)[1:]),
}


def load_points(path: Path = DATA) -> list[tuple[str, float, float, float]]:
    """(cpu name, load 0..1, measured W, machine TDP W) per measured step."""
    points = []
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            found = lookup_tdp_w(row["cpu_name"])
            if found is None:
                raise SystemExit(f"{row['cpu_name']!r} is not in the TDP table")
            points.append(
                (
                    row["cpu_name"],
                    float(row["cpu_load_pct"]) / 100,
                    float(row["rapl_package_w"]),
                    found[0] * int(row["sockets"]),
                )
            )
    return points


def error(points, central) -> float:
    return sum(abs(central(u) * tdp - w) for _, u, w, tdp in points) / sum(
        w for _, _, w, _ in points
    )


def coverage(points, band) -> float:
    inside = 0
    for _, u, w, tdp in points:
        low, high = band(u)
        inside += low * tdp <= w <= high * tdp
    return inside / len(points)


def figures(points) -> dict[str, dict[str, float]]:
    out = {}
    for name, (central, band) in MODELS.items():
        out[name] = {"error": error(points, central)}
        if band is not None:
            out[name]["coverage"] = coverage(points, band)
    return out


def main() -> None:
    points = load_points()
    cpus = sorted({p[0] for p in points})
    print(f"{len(points)} measured points on {len(cpus)} CPUs\n")
    print("energy-weighted error (lower is better) and band coverage")
    for label, subset in [
        ("all points", points),
        ("without idle points (load < 6 %)", [p for p in points if p[1] >= 0.06]),
    ]:
        print(f"  {label}:")
        for name, f in figures(subset).items():
            extra = f", band covers {f['coverage']:.0%}" if "coverage" in f else ""
            print(f"    {name:<11} error {f['error']:.3f}{extra}")
    print("\nper CPU (error: teads / codecarbon / line; line band coverage)")
    for cpu in cpus:
        sub = [p for p in points if p[0] == cpu]
        f = figures(sub)
        full = [w / tdp for _, u, w, tdp in sub if u >= 0.99]
        print(
            f"  {cpu[:44]:<44} TDP {sub[0][3]:>4g} W  full load {min(full):.0%}–{max(full):.0%} of TDP  "
            f"{f['teads']['error']:.2f} / {f['codecarbon']['error']:.2f} / {f['line']['error']:.2f}; {f['line']['coverage']:.0%}"
        )


if __name__ == "__main__":
    main()
