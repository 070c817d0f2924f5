"""Energy with its band as one value (jupyter_carbon.energy), and the band arithmetic built on it:
a source integrating a banded power, the ledger's devices, session totals and short windows.

Every expected figure is written out: low, high and CO2e are asserted, not only the energy; time
steps are not 1 s (so power × dt and power / dt differ), windows do not start at zero, and
factors are neither 1 nor their own inverse.
"""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from jupyter_carbon.energy import Co2e, Energy, EnergyFields
from jupyter_carbon.ledger import SHORT_WINDOW_BAND, SHORT_WINDOW_FLAG, Ledger
from jupyter_carbon.sampler import Snapshot
from jupyter_carbon.sources.base import IntegratingSource, Reading
from jupyter_carbon.units import J_PER_KWH

# --- the value ----------------------------------------------------------------------------------


def test_add_and_subtract_field_by_field() -> None:
    a, b = Energy(3.0, 2.0, 5.0), Energy(0.25, 0.125, 0.5)
    assert a + b == Energy(3.25, 2.125, 5.5)
    assert a - b == Energy(2.75, 1.875, 4.5)
    assert b - a == Energy(-2.75, -1.875, -4.5)
    assert a + Energy.ZERO == a and a - Energy.ZERO == a


def test_scaling_multiplies_every_field() -> None:
    e = Energy(2.0, 1.0, 4.0)
    assert e * 0.25 == Energy(0.5, 0.25, 1.0)  # / 0.25 would give 8, 4, 16
    assert 3 * e == Energy(6.0, 3.0, 12.0) == e * 3
    assert e * 0 == Energy.ZERO


def test_exact_from_power_and_total() -> None:
    assert Energy.exact(7.5) == Energy(7.5, 7.5, 7.5)
    assert Energy.from_power(20.0, 0.5, 12.0, 30.0) == Energy(10.0, 6.0, 15.0)  # W × s, not W / s
    assert Energy.from_power(20.0, 2.5) == Energy(50.0, 50.0, 50.0)
    bands = [Energy(1.0, 0.5, 2.0), Energy(10.0, 8.0, 12.0), Energy(0.25, 0.25, 0.25)]
    assert Energy.total(bands) == Energy(11.25, 8.75, 14.25) == bands[0] + bands[1] + bands[2]
    assert Energy.total([]) == Energy.ZERO == Energy(0.0, 0.0, 0.0)


def test_co2e_scales_each_end_of_the_band() -> None:
    e = Energy(3.6e6, 1.8e6, 7.2e6)  # 1 kWh, 0.5–2 kWh
    assert e.co2e(200.0, 1.5) == Co2e(300.0, 150.0, 600.0)
    assert e.co2e(200.0) == Co2e(200.0, 100.0, 400.0)
    assert Energy(J_PER_KWH * 0.25, 0.0, J_PER_KWH).co2e(56.0, 1.2).low_g == 0.0


def test_co2e_adds_and_scales() -> None:
    a, b = Co2e(3.0, 2.0, 5.0), Co2e(0.25, 0.125, 0.5)
    assert a + b == Co2e(3.25, 2.125, 5.5)
    assert a * 0.25 == Co2e(0.75, 0.5, 1.25) == 0.25 * a
    assert a + Co2e.ZERO == a


def test_mixing_units_or_numbers_is_a_type_error() -> None:
    e, c = Energy(1.0, 1.0, 1.0), Co2e(1.0, 1.0, 1.0)
    for bad in (
        lambda: e + c,
        lambda: c + e,
        lambda: e - c,
        lambda: e + 1.0,
        lambda: e * e,
        lambda: e * "2",
        lambda: c * c,
    ):
        with pytest.raises(TypeError):
            bad()


def test_immutable_hashable_picklable() -> None:
    e = Energy(1.0, 0.5, 2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.low_j = 0.0  # type: ignore[misc]
    assert {e, Energy(1.0, 0.5, 2.0)} == {e}
    assert pickle.loads(pickle.dumps(e)) == e and pickle.loads(
        pickle.dumps(Co2e(1.0, 0.5, 2.0))
    ) == Co2e(1.0, 0.5, 2.0)
    assert Reading is Energy  # a source's cumulative reading is an Energy


def test_energy_fields_reads_the_band() -> None:
    @dataclasses.dataclass(frozen=True)
    class Part(EnergyFields):
        energy: Energy

    part = Part(Energy(3.0, 2.0, 5.0))
    assert (part.energy_j, part.low_j, part.high_j) == (3.0, 2.0, 5.0)


# --- a source integrating a banded power ----------------------------------------------------------


class Banded(IntegratingSource):
    """Power that changes at every read: (power, low, high) W from a list."""

    component, device, method, measured = "cpu", "model", "test-model", False

    def __init__(self, now_s: float, powers: list[tuple[float, float, float]]) -> None:
        super().__init__(now_s)
        self.powers = powers

    def _power_band_w(self, now_s: float) -> tuple[float, float, float]:
        return self.powers.pop(0)


def test_integrating_source_adds_power_times_dt_to_each_end() -> None:
    source = Banded(1000.0, [(20.0, 12.0, 30.0), (8.0, 4.0, 10.0)])
    assert source.read(1000.0) == Energy.ZERO  # no time passed: no power asked
    assert source.read(1000.5) == Energy(10.0, 6.0, 15.0)
    assert source.read(1000.5) == Energy(10.0, 6.0, 15.0)
    assert source.read(1003.0) == Energy(10.0 + 20.0, 6.0 + 10.0, 15.0 + 25.0)  # 2.5 s more
    assert source.powers == []


# --- the ledger -----------------------------------------------------------------------------------


def snap(
    t_s: float, *readings: Energy, power_w: tuple[float | None, ...] | None = None
) -> Snapshot:
    return Snapshot(
        t_s,
        int(t_s * 1e6),
        tuple(readings),
        power_w if power_w is not None else (None,) * len(readings),
    )


def source(measured: bool, resolution_s: float = 0.0, component: str = "cpu") -> SimpleNamespace:
    return SimpleNamespace(
        component=component,
        device=f"{component}-dev",
        method="test",
        measured=measured,
        resolution_s=resolution_s,
    )


@dataclass(frozen=True)
class Opened:
    """An open window as the ledger asks it (the session's Measurement in real use)."""

    wid: int
    start: Snapshot
    label: str | None = None
    meta: dict = field(default_factory=dict)

    @property
    def indices(self) -> tuple[int, ...]:
        return tuple(range(len(self.start.readings)))


def open_window(ledger: Ledger, start: Snapshot) -> Opened:
    return Opened(ledger.open(start), start)


def window(
    ledger: Ledger, start: Snapshot, end: Snapshot, g_per_kwh: float = 0.0, pue: float = 1.0
):
    return ledger.close(
        open_window(ledger, start), end, g_per_kwh=g_per_kwh, intensity_source="test", pue=pue
    )


def test_a_models_band_is_end_minus_start_and_a_measured_reading_its_own_band() -> None:
    ledger = Ledger([source(False), source(True, component="gpu")])
    record = window(
        ledger,
        snap(1000.0, Energy(100.0, 80.0, 130.0), Energy(50.0, 50.0, 50.0)),
        snap(1002.5, Energy(112.5, 90.0, 146.25), Energy(75.0, 75.0, 75.0)),
        g_per_kwh=200.0,
        pue=1.5,
    )
    cpu, gpu = record.devices
    assert (cpu.energy, cpu.measured) == (Energy(12.5, 10.0, 16.25), False)
    assert (gpu.energy, gpu.measured) == (Energy(25.0, 25.0, 25.0), True)
    assert record.energy == Energy(37.5, 35.0, 41.25) and record.energy_band_j == (35.0, 41.25)
    k = 200.0 * 1.5 / J_PER_KWH
    co2e = record.co2e
    assert (co2e.co2e_g, co2e.low_g, co2e.high_g) == pytest.approx(
        (37.5 * k, 35.0 * k, 41.25 * k), rel=1e-12
    )
    assert record.co2e_band_g == (co2e.low_g, co2e.high_g) and record.co2e_g == co2e.co2e_g
    assert record.totals.energy == Energy(37.5, 35.0, 41.25)
    assert (
        record.totals.co2e_g == pytest.approx(37.5 * k, rel=1e-12)
        and record.totals.duration_s == 2.5
    )


def test_session_totals_sum_energy_band_co2e_and_time_of_each_union_segment() -> None:
    ledger = Ledger([source(False)])
    first = window(
        ledger,
        snap(1000.0, Energy(10.0, 8.0, 12.0)),
        snap(1000.5, Energy(15.0, 11.0, 20.0)),
        g_per_kwh=100.0,
        pue=1.25,
    )
    second = window(
        ledger,
        snap(1003.0, Energy(40.0, 30.0, 60.0)),
        snap(1005.5, Energy(65.0, 50.0, 95.0)),
        g_per_kwh=300.0,
        pue=1.25,
    )
    co2e_first = 5.0 / J_PER_KWH * 1.25 * 100.0
    co2e_second = 25.0 / J_PER_KWH * 1.25 * 300.0  # each segment at the intensity it closed with
    assert (first.totals.windows, first.totals.energy, first.totals.duration_s) == (
        1,
        Energy(5.0, 3.0, 8.0),
        0.5,
    )
    assert first.totals.co2e_g == pytest.approx(co2e_first, rel=1e-12)
    totals = second.totals
    assert (totals.windows, totals.energy, totals.duration_s) == (2, Energy(30.0, 23.0, 43.0), 3.0)
    assert totals.co2e_g == pytest.approx(co2e_first + co2e_second, rel=1e-12)
    assert ledger.totals() == totals
    # a window open now: its segment so far is added (not stored) at the intensity given
    ledger.open(snap(1010.0, Energy(70.0, 52.0, 100.0)))
    now = ledger.totals(snap(1010.25, Energy(72.0, 53.0, 104.0)), 400.0, 2.0, 1)
    assert (now.windows, now.energy, now.duration_s) == (3, Energy(32.0, 24.0, 47.0), 3.25)
    assert now.co2e_g == pytest.approx(
        co2e_first + co2e_second + 2.0 / J_PER_KWH * 2.0 * 400.0, rel=1e-12
    )
    assert ledger.totals() == totals


def test_nested_windows_add_the_union_once() -> None:
    ledger = Ledger([source(False)])
    outer = open_window(ledger, snap(1000.0, Energy(0.0, 0.0, 0.0)))
    inner = open_window(ledger, snap(1000.5, Energy(5.0, 4.0, 6.0)))
    inner_record = ledger.close(
        inner, snap(1001.0, Energy(10.0, 8.0, 12.0)), g_per_kwh=100.0, intensity_source="test"
    )
    assert inner_record.energy == Energy(5.0, 4.0, 6.0) and inner_record.totals.energy == Energy(
        10.0, 8.0, 12.0
    )
    record = ledger.close(
        outer, snap(1002.5, Energy(25.0, 20.0, 30.0)), g_per_kwh=100.0, intensity_source="test"
    )
    assert (record.totals.windows, record.totals.energy, record.totals.duration_s) == (
        2,
        Energy(25.0, 20.0, 30.0),
        2.5,
    )
    assert record.totals.co2e_g == pytest.approx(25.0 / J_PER_KWH * 100.0, rel=1e-12)


RESOLUTION_S = 0.125  # exact in binary: a window of exactly this length is not a rounding away


@pytest.mark.parametrize(
    "duration_s, moved_j, power_w, expected, measured",
    [
        (
            RESOLUTION_S,
            0.5,
            20.0,
            Energy(0.5, 0.5, 0.5),
            True,
        ),  # at the resolution, under 1 J: measured
        (
            2.5,
            0.25,
            20.0,
            Energy(0.25, 0.25, 0.25),
            True,
        ),  # a tiny move over a long window: measured
        (0.0, 0.0, 20.0, Energy.ZERO, True),  # an instant: nothing to estimate
        (
            RESOLUTION_S / 2,
            0.5,
            20.0,
            Energy(1.25, 1.25 * SHORT_WINDOW_BAND[0], 1.25 * SHORT_WINDOW_BAND[1]),
            False,
        ),
        (2.5, 0.0, 4.0, Energy(10.0, 5.0, 15.0), False),  # the counter did not move: power × time
        (
            2.5,
            0.0,
            None,
            Energy.ZERO,
            False,
        ),  # ... and no recent power: 0 J, flagged as an estimate
    ],
)
def test_a_short_or_still_measured_window_becomes_an_estimate(
    duration_s, moved_j, power_w, expected, measured
) -> None:
    ledger = Ledger([source(True, RESOLUTION_S, "gpu")])
    start, end = 1000.0, 1000.0 + duration_s
    record = window(
        ledger,
        snap(start, Energy.exact(40.0)),
        snap(end, Energy.exact(40.0 + moved_j), power_w=(power_w,)),
    )
    (gpu,) = record.devices
    assert (gpu.energy, gpu.measured) == (expected, measured)
    assert gpu.method == ("test" if measured else "test power × time")
    assert record.flags == (() if measured else (SHORT_WINDOW_FLAG.format(device="gpu-dev"),))
    assert SHORT_WINDOW_BAND == (0.5, 1.5)
