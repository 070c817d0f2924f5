"""Validate the CPU power model against measured RAPL load profiles; prints the figures of
docs/cpu-model-validation.md.

Data: tools/cpu_load_profiles.csv, measured RAPL package power (W) over 30 s steps at 0-100 %
CPU load on four real CPUs (CodeCarbon's published load profiles; see
jupyter_carbon/data/NOTICE.md). Each step lasts the same time, so weighting by measured power is
weighting by energy.

Models compared, all with the machine's total TDP from jupyter_carbon's table (× sockets):

* ``teads``: the previous model, Teads/SPECpower curve 12/32/75/102 % of TDP at 0/10/50/100 % load,
  band 3/15/50/80 % to 35/55/95/125 %.
* ``codecarbon``: CodeCarbon's CPU-load mode, TDP × load.
* ``line``: the current model, jupyter_carbon.sources.cpu_model.TDP_CURVE.

Figures: energy-weighted error = Σ|estimate − measured| / Σ measured, over all points and per
CPU; band coverage = share of measured points inside the model's [low, high] band.

The band is calibrated, not fitted by eye (``calibrated_band``): the narrowest pair of lines, on a
grid of 5 % of TDP, that holds every measured point, widened by ``BAND_MARGIN``. Leave-one-CPU-out
(``leave_one_cpu_out``): calibrated on three CPUs, the band is judged on the fourth's points; the
margin is the smallest on the grid that makes that coverage at least 80 %.

Run: python tools/cpu_model_validation.py
"""

from __future__ import annotations

import csv
import math
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


#: Fractions of TDP: the grid of the band's ends, and how far the calibrated band is widened
#: beyond the points it was calibrated on (for a CPU it has not seen).
BAND_STEP = 0.05
BAND_MARGIN = 0.05


def calibrated_band(points, margin: float = BAND_MARGIN) -> tuple[float, float, float, float]:
    """(low_idle, low_full, high_idle, high_full) fractions of TDP: the narrowest lines (mean
    width) on the ``BAND_STEP`` grid with every point between them, then ``margin`` wider."""
    ratios = [(u, w / tdp) for _, u, w, tdp in points]
    at_zero = [r for u, r in ratios if u == 0]
    loaded = [(u, r) for u, r in ratios if u > 0]
    best = None
    for i in range(11):
        low_idle = i * BAND_STEP
        if any(r < low_idle for r in at_zero):
            continue
        # the highest low line through (0, low_idle) that stays under every point
        low_full = min(low_idle + (r - low_idle) / u for u, r in loaded)
        low_full = math.floor(low_full / BAND_STEP + 1e-9) * BAND_STEP
        for j in range(21):
            high_idle = j * BAND_STEP
            if any(r > high_idle for r in at_zero):
                continue
            high_full = max(high_idle + (r - high_idle) / u for u, r in loaded)
            high_full = math.ceil(high_full / BAND_STEP - 1e-9) * BAND_STEP
            width = (high_idle - low_idle + high_full - low_full) / 2
            if best is None or width < best[0] - 1e-12:
                best = (width, low_idle, low_full, high_idle, high_full)
    assert best is not None
    _, low_idle, low_full, high_idle, high_full = best
    return (
        round(max(0.0, low_idle - margin), 4),
        round(max(0.0, low_full - margin), 4),
        round(high_idle + margin, 4),
        round(high_full + margin, 4),
    )


def inside_band(point, band) -> bool:
    _, u, w, tdp = point
    low_idle, low_full, high_idle, high_full = band
    low = low_idle + (low_full - low_idle) * u
    high = high_idle + (high_full - high_idle) * u
    return low * tdp <= w <= high * tdp


def leave_one_cpu_out(points, margin: float = BAND_MARGIN) -> dict[str, tuple[int, int]]:
    """CPU → (its points inside the band calibrated on the other CPUs, its points)."""
    out = {}
    for cpu in sorted({p[0] for p in points}):
        band = calibrated_band([p for p in points if p[0] != cpu], margin)
        held_out = [p for p in points if p[0] == cpu]
        out[cpu] = (sum(inside_band(p, band) for p in held_out), len(held_out))
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
            f"  {cpu[:44]:<44} TDP {sub[0][3]:>4g} W  "
            f"full load {min(full):.0%}–{max(full):.0%} of TDP  "
            f"{f['teads']['error']:.2f} / {f['codecarbon']['error']:.2f} / "
            f"{f['line']['error']:.2f}; {f['line']['coverage']:.0%}"
        )

    print("\nband calibration (fractions of TDP: low idle, low full, high idle, high full)")
    print(f"  on all points, margin {BAND_MARGIN:g}: {calibrated_band(points)}")
    print(f"  shipped (TDP_CURVE): {_shipped_band()}")
    for margin in (0.0, BAND_MARGIN, 2 * BAND_MARGIN):
        held = leave_one_cpu_out(points, margin)
        inside = sum(k for k, _ in held.values())
        per = ", ".join(f"{cpu.split()[1]} {k}/{n}" for cpu, (k, n) in held.items())
        print(f"  leave-one-CPU-out, margin {margin:g}: {inside / len(points):.1%} ({per})")


def _shipped_band() -> tuple[float, float, float, float]:
    c = TDP_CURVE
    return (c.low_idle, c.low_full, c.high_idle, c.high_full)


if __name__ == "__main__":
    main()
