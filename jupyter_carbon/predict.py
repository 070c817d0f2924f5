"""Loop footprint prediction: a pure predictor (no clock, no I/O, no state beyond its checkpoints).

Fed checkpoints ``(iterations done, elapsed s, energy so far with its band)`` it returns
an :class:`Estimate`: the rate (energy per iteration and per second) and, when the loop's total
number of iterations is known, the predicted total energy and CO2e with a range, and the time left.

The statistics
--------------
*Point estimate.* The loop's energy is a sum over iterations, so the natural estimator is the
ratio estimator of the mean energy per iteration, ``r = E_n / n`` (every joule so far divided by
every iteration so far), and the prediction is ``E_n + r · (N − n)``: the energy already spent is
known, only the ``R = N − n`` remaining iterations are extrapolated. Time left is
``elapsed / n · R``.

*Scatter (batch means).* Between consecutive checkpoints the loop did ``Δn`` iterations for
``ΔE`` joules. If iterations cost ``r`` on average with a per-iteration long-run variance ``σ²``,
a batch of ``Δn_b`` iterations has ``Var(ΔE_b) = σ² Δn_b`` and ``s² = Σ (ΔE_b − r Δn_b)² / Δn_b /
(b − 1)`` estimates ``σ²``. Power is autocorrelated (warm-up, data-loading phases, thermal
cycles), so the checkpoint intervals are grouped into ``b = ⌈√m⌉`` consecutive batches
(non-overlapping batch means, the standard estimator of a long-run variance in simulation
output analysis): correlation shorter than a batch is absorbed, at the price of fewer degrees of
freedom. Before that, intervals much shorter than usual (the early checkpoints after the first
iterations, which a counter's resolution makes noisy) are merged into the next one: less than a
quarter of the median interval duration.

*Few samples.* ``s²`` is pooled with a weak prior worth ``PRIOR_INTERVALS`` intervals that says
per-interval energy scatters by ``PRIOR_CV`` (a scaled-inverse-χ² prior), so that with one or
two intervals the range is wide instead of falsely zero, and the critical value is Student's
``t`` with ``b − 1 + PRIOR_INTERVALS`` degrees of freedom; both effects fade as intervals come in.

*Prediction variance.* The remaining energy ``Σ future e_j`` differs from ``r · R`` through the
error of ``r`` (variance ``R² σ²/n``) and the future iterations' own scatter (``R σ²``). The
half-width is ``t · sqrt(R² σ²/n + R σ²)``, plus a *drift allowance* ``|r_recent − r| · R`` where
``r_recent`` is the rate over the most recent half of the iterations: a warming GPU or a slower
second phase shows up there before the overall mean follows. The range narrows as ``n`` grows
and vanishes at the end (``R = 0``).

*The sources' own band.* Model sources report ``low_j``/``high_j`` (a systematic band, e.g. an
uncertain TDP). It applies to past and future alike: the low end is ``low_n + max(0, rR − h) ·
low_n/E_n``, the high end ``high_n + (rR + h) · high_n/E_n``. For measured sources the ratios are 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist, median
from typing import Any, NamedTuple

from .energy import Co2e, Energy
from .intensity.emissions import co2e_g
from .units import format_co2e, format_duration, format_energy, format_energy_band, format_power

__all__ = [
    "Checkpoint",
    "Estimate",
    "LoopPredictor",
    "t_quantile",
    "format_estimate",
    "CONFIDENCE",
    "PRIOR_CV",
    "PRIOR_INTERVALS",
]

#: Two-sided confidence of the statistical part of the range.
CONFIDENCE = 0.95
#: The weak prior: per-interval energy scatters by 30 %, worth 2 intervals of evidence.
PRIOR_CV = 0.3
PRIOR_INTERVALS = 2
#: Intervals shorter than this fraction of the median interval are merged into the next one.
SHORT_INTERVAL_FRACTION = 0.25
#: Checkpoints kept; beyond it every other interior checkpoint is dropped (intervals merge in
#: pairs).
MAX_CHECKPOINTS = 512


class Checkpoint(NamedTuple):
    iterations: int
    elapsed_s: float
    energy: Energy

    @property
    def energy_j(self) -> float:
        return self.energy.energy_j


@dataclass(frozen=True)
class Estimate:
    """What is known after ``iterations``; the ``predicted_*`` fields are None without a total."""

    iterations: int
    elapsed_s: float
    energy_j: float
    energy_per_iteration_j: float
    power_w: float
    seconds_per_iteration: float
    intervals: int
    total: int | None = None
    fraction: float | None = None
    predicted: Energy | None = None
    remaining_s: float | None = None
    co2e_per_iteration_g: float | None = None
    predicted_co2e: Co2e | None = None

    @property
    def is_prediction(self) -> bool:
        return self.predicted is not None

    @property
    def predicted_energy_j(self) -> float | None:
        return None if self.predicted is None else self.predicted.energy_j

    @property
    def predicted_low_j(self) -> float | None:
        return None if self.predicted is None else self.predicted.low_j

    @property
    def predicted_high_j(self) -> float | None:
        return None if self.predicted is None else self.predicted.high_j

    @property
    def predicted_co2e_g(self) -> float | None:
        return None if self.predicted_co2e is None else self.predicted_co2e.co2e_g

    @property
    def predicted_co2e_low_g(self) -> float | None:
        return None if self.predicted_co2e is None else self.predicted_co2e.low_g

    @property
    def predicted_co2e_high_g(self) -> float | None:
        return None if self.predicted_co2e is None else self.predicted_co2e.high_g


def t_quantile(p: float, df: int) -> float:
    """Student's t quantile (stdlib only): exact for 1 and 2 degrees of freedom, else the
    Cornish–Fisher expansion (Abramowitz & Stegun 26.7.5), within 0.2 % from 3 degrees on."""
    if not 0.0 < p < 1.0 or df < 1:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df >= 1, got p={p!r}, df={df!r}")
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = NormalDist().inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


class LoopPredictor:
    """Accumulates checkpoints of one loop and estimates its footprint; see the module docstring."""

    def __init__(self, total: int | None = None) -> None:
        if total is not None and (
            isinstance(total, bool) or not isinstance(total, int) or total < 0
        ):
            raise ValueError(
                f"total={total!r}: expected a whole number of iterations >= 0, or None"
            )
        self.total = total
        self._points: list[Checkpoint] = [Checkpoint(0, 0.0, Energy.ZERO)]

    @property
    def last(self) -> Checkpoint:
        return self._points[-1]

    @property
    def checkpoints(self) -> int:
        """Checkpoints kept after the start (at most ``MAX_CHECKPOINTS``)."""
        return len(self._points) - 1

    def add(self, iterations: int, elapsed_s: float, energy: Energy | float) -> None:
        """Record that ``iterations`` were done after ``elapsed_s`` for ``energy`` (cumulative;
        a number of joules is a measured energy, its own band)."""
        if not isinstance(energy, Energy):
            energy = Energy.exact(float(energy))
        point = Checkpoint(int(iterations), float(elapsed_s), energy)
        last = self._points[-1]
        if point.iterations < last.iterations or point.elapsed_s < last.elapsed_s:
            raise ValueError(f"checkpoints must not go backwards: {point} after {last}")
        if point.iterations == last.iterations and len(self._points) > 1:
            self._points[-1] = point  # no new iteration: a fresher reading of the same point
        elif point.iterations > last.iterations:
            self._points.append(point)
        if len(self._points) > MAX_CHECKPOINTS:
            self._points = self._points[:-1:2] + [self._points[-1]]

    def _intervals(self) -> list[tuple[int, float, float]]:
        """(Δn, Δt, ΔE) per batch: short intervals merged into the next one, then ⌈√m⌉ batches."""
        raw = [
            (b.iterations - a.iterations, b.elapsed_s - a.elapsed_s, b.energy_j - a.energy_j)
            for a, b in zip(self._points, self._points[1:])
        ]
        if len(raw) < 3:
            return raw
        threshold_s = SHORT_INTERVAL_FRACTION * median(dt for _, dt, _ in raw)
        merged: list[tuple[int, float, float]] = []
        dn_acc, dt_acc, de_acc = 0, 0.0, 0.0
        for dn, dt, de in raw:
            dn_acc, dt_acc, de_acc = dn_acc + dn, dt_acc + dt, de_acc + de
            if dt_acc >= threshold_s:
                merged.append((dn_acc, dt_acc, de_acc))
                dn_acc, dt_acc, de_acc = 0, 0.0, 0.0
        if dn_acc:
            if merged:
                dn, dt, de = merged.pop()
                merged.append((dn + dn_acc, dt + dt_acc, de + de_acc))
            else:
                merged.append((dn_acc, dt_acc, de_acc))
        m = len(merged)
        b = max(min(m, 3), math.ceil(math.sqrt(m)))
        if b >= m:
            return merged
        batches = []
        for k in range(b):
            chunk = merged[k * m // b : (k + 1) * m // b]
            batches.append(
                (sum(c[0] for c in chunk), sum(c[1] for c in chunk), sum(c[2] for c in chunk))
            )
        return batches

    def _drift_per_iteration_j(self, rate_j: float) -> float:
        """|rate over the most recent half of the iterations − overall rate| (0 with < 4
        checkpoints)."""
        if len(self._points) < 5:
            return 0.0
        last = self._points[-1]
        half = min(self._points[1:-1], key=lambda p: abs(p.iterations - last.iterations / 2))
        return abs((last.energy_j - half.energy_j) / (last.iterations - half.iterations) - rate_j)

    def estimate(self, g_per_kwh: float | None = None, pue: float = 1.0) -> Estimate | None:
        """The estimate after the last checkpoint, or None before any iteration was done."""
        last = self.last
        n = last.iterations
        if n <= 0:
            return None
        rate_j = last.energy_j / n
        power_w = last.energy_j / last.elapsed_s if last.elapsed_s > 0 else math.nan
        per_iter_g = co2e_g(max(rate_j, 0.0), g_per_kwh, pue) if g_per_kwh is not None else None
        intervals = self._intervals()
        base: dict[str, Any] = dict(
            iterations=n,
            elapsed_s=last.elapsed_s,
            energy_j=last.energy_j,
            energy_per_iteration_j=rate_j,
            power_w=power_w,
            seconds_per_iteration=last.elapsed_s / n,
            intervals=len(intervals),
            co2e_per_iteration_g=per_iter_g,
        )
        if self.total is None:
            return Estimate(**base)
        remaining = max(0, self.total - n)
        m = len(intervals)
        ss = sum((de - rate_j * dn) ** 2 / dn for dn, _, de in intervals)
        prior_var_j2 = (PRIOR_CV * rate_j) ** 2 * (n / m)
        df = m - 1 + PRIOR_INTERVALS
        var_j2 = (PRIOR_INTERVALS * prior_var_j2 + ss) / df
        sd_j = math.sqrt(var_j2 * (remaining**2 / n + remaining))
        half_j = (
            t_quantile(0.5 + CONFIDENCE / 2, df) * sd_j
            + self._drift_per_iteration_j(rate_j) * remaining
        )
        future_j = rate_j * remaining
        spent = last.energy
        low_ratio = spent.low_j / spent.energy_j if spent.energy_j > 0 else 1.0
        high_ratio = spent.high_j / spent.energy_j if spent.energy_j > 0 else 1.0
        predicted = Energy(
            spent.energy_j + future_j,
            spent.low_j + max(0.0, future_j - half_j) * low_ratio,
            spent.high_j + (future_j + half_j) * high_ratio,
        )
        predicted_co2e = None
        if g_per_kwh is not None:
            co2e = [
                co2e_g(max(e, 0.0), g_per_kwh, pue)
                for e in (predicted.energy_j, predicted.low_j, predicted.high_j)
            ]
            predicted_co2e = Co2e(*co2e)
        return Estimate(
            **base,
            total=self.total,
            fraction=min(1.0, n / self.total) if self.total else 1.0,
            predicted=predicted,
            remaining_s=last.elapsed_s / n * remaining,
            predicted_co2e=predicted_co2e,
        )


def format_estimate(estimate: Estimate) -> str:
    """``predicted total: 410 Wh (360–470 Wh), 190 g CO2e, ~12 min 3 s left`` or, without a
    total, ``rate: 1.2 Wh/iteration, 45 W, 0.5 g CO2e/iteration (120 iterations in 2 min 3 s)``."""
    e = estimate
    if e.predicted is not None and e.remaining_s is not None:  # a prediction
        p = e.predicted
        co2e = f", {format_co2e(e.predicted_co2e.co2e_g)}" if e.predicted_co2e is not None else ""
        return (
            f"predicted total: {format_energy_band(p.energy_j, p.low_j, p.high_j)}{co2e}, "
            f"~{format_duration(e.remaining_s)} left"
        )
    co2e = (
        f", {format_co2e(e.co2e_per_iteration_g)}/iteration"
        if e.co2e_per_iteration_g is not None
        else ""
    )
    power = f", {format_power(e.power_w)}" if math.isfinite(e.power_w) else ""
    return (
        f"rate: {format_energy(e.energy_per_iteration_j)}/iteration{power}{co2e} "
        f"({e.iterations} iterations in {format_duration(e.elapsed_s)})"
    )
