"""RAPL through a fake powercap tree: known power profiles, wraparound, several sockets."""

from __future__ import annotations

import math

import pytest
from fakes import FakePowercap

from jupyter_carbon.carbon_session import CarbonSession
from jupyter_carbon.config import Config
from jupyter_carbon.sources import rapl
from jupyter_carbon.sources.detect import detect
from jupyter_carbon.sources.discovery import DiscoveryContext
from jupyter_carbon.sources.rapl import RaplUnavailable


def profile(t: float) -> dict[str, float]:
    return {
        "package-0": 40 + 25 * math.sin(t / 3.0),
        "package-1": 30 + 10 * math.cos(t / 5.0),
        "dram-0": 4.0 + math.sin(t),
        "dram-1": 3.0,
        "core-0": 20.0,
        "core-1": 15.0,
        "psys": 90.0,
    }


def test_discover_keeps_packages_and_dram_only(tmp_path):
    FakePowercap(tmp_path, sockets=2)
    sources = rapl.discover(DiscoveryContext(powercap_root=tmp_path)).sources
    assert sorted((s.component, s.device) for s in sources) == [
        ("cpu", "package-0"),
        ("cpu", "package-1"),
        ("ram", "dram-0"),
        ("ram", "dram-1"),
    ]
    assert all(s.measured and s.method == "rapl" for s in sources)


@pytest.mark.parametrize(
    "max_range_uj", [262_143_328_850, 30_000_000]
)  # real width; one that wraps every ~0.5 s
def test_window_energy_matches_true_integral_with_wraparound(
    tmp_path, clock, max_range_uj, no_pynvml
):
    cap = FakePowercap(
        tmp_path, sockets=2, max_range_uj=max_range_uj, start_uj=max_range_uj - 5_000_000
    )
    session = CarbonSession(Config(powercap_root=str(tmp_path)), clock=clock, threaded=False)
    dt = 0.05
    before = dict(cap.true_energy_j)
    m = session.open("profile")
    for step in range(1200):  # 60 s of a varying profile, sampled every 0.25 s
        cap.advance(dt, profile(clock.now_s))
        clock.advance(dt)
        if step % 5 == 4:
            session.sampler.tick()
    record = session.stop(m)
    comps = record.components
    true_cpu = sum(cap.true_energy_j[k] - before[k] for k in ("package-0", "package-1"))
    true_ram = sum(cap.true_energy_j[k] - before[k] for k in ("dram-0", "dram-1"))
    assert comps["cpu"].energy_j == pytest.approx(true_cpu, rel=1e-3)
    assert comps["ram"].energy_j == pytest.approx(true_ram, rel=1e-3)
    assert comps["cpu"].measured and comps["cpu"].methods == ("rapl",)
    assert record.flags == tuple(
        f for f in record.flags if "region" in f
    )  # nothing but the no-region note
    if max_range_uj < 1e9:
        total_uj = (true_cpu + true_ram) * 1e6
        assert total_uj > 4 * max_range_uj  # the counters did wrap, several times


def test_interval_does_not_change_a_counter_total(tmp_path, clock, no_pynvml):
    """Same trace, ticks every 0.05 s vs none at all: identical totals (reads at start and stop)."""
    totals = []
    for tick_every in (1, None):
        root = tmp_path / str(tick_every)
        cap = FakePowercap(root, sockets=1, dram=False)
        session = CarbonSession(Config(powercap_root=str(root)), clock=clock, threaded=False)
        m = session.open()
        for step in range(100):
            cap.advance(0.05, {"package-0": 10 + step % 7})
            clock.advance(0.05)
            if tick_every:
                session.sampler.tick()
        totals.append(session.stop(m).components["cpu"].energy_j)
    assert totals[0] == pytest.approx(totals[1], rel=1e-9)


def test_short_window_is_flagged_and_estimated_never_zero(tmp_path, clock, no_pynvml):
    cap = FakePowercap(tmp_path, sockets=1, dram=False)
    session = CarbonSession(Config(powercap_root=str(tmp_path)), clock=clock, threaded=False)
    # establish a recent power of 50 W
    for _ in range(10):
        cap.advance(0.1, {"package-0": 50.0})
        clock.advance(0.1)
        session.sampler.snapshot()
    m = session.open("tiny")
    clock.advance(0.0002)  # the counter has not moved
    record = session.stop(m)
    cpu = record.components["cpu"]
    assert cpu.energy_j == pytest.approx(50.0 * 0.0002, rel=1e-6)
    assert not cpu.measured
    assert any("shorter than the counter's resolution" in f for f in record.flags)
    assert cpu.low_j < cpu.energy_j < cpu.high_j


def test_unreadable_counter_falls_back_to_model_with_reason(tmp_path, no_pynvml):
    FakePowercap(tmp_path, sockets=1)
    counter = tmp_path / "intel-rapl:0" / "energy_uj"
    counter.unlink()
    counter.mkdir()  # root reads any file; a directory in its place is unreadable for root too
    found = detect(powercap_root=str(tmp_path))
    assert "unreadable" in found.skipped["rapl"]
    assert {s.method for s in found.sources} == {"cpu-model", "ram-model"}


def test_permission_error_names_the_fix(tmp_path, monkeypatch):
    FakePowercap(tmp_path, sockets=1)
    from jupyter_carbon.sources import counter

    def deny(path):  # root reads any file: stand in for the non-root user RAPL refuses
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(counter, "PreadFile", deny)  # where a counter file is opened
    with pytest.raises(RaplUnavailable) as info:
        rapl.discover(DiscoveryContext(powercap_root=tmp_path))
    message = str(info.value)
    assert "CVE-2020-8694" in message and rapl.RAPL_PERMISSION_FIX in message
    assert "\n" not in message


def test_missing_tree_reason(tmp_path):
    with pytest.raises(RaplUnavailable, match="no powercap tree"):
        rapl.discover(DiscoveryContext(powercap_root=tmp_path / "absent"))


def test_counter_vanishing_mid_window_is_flagged_not_raised(tmp_path, clock, no_pynvml):
    cap = FakePowercap(tmp_path, sockets=1, dram=False)
    session = CarbonSession(Config(powercap_root=str(tmp_path)), clock=clock, threaded=False)
    m = session.open()
    cap.advance(1.0, {"package-0": 20.0})
    clock.advance(1.0)
    session.sampler.tick()
    (cap.zones["package-0"] / "energy_uj").write_bytes(
        b""
    )  # the zone goes away (sysfs: ENODEV or nothing)
    clock.advance(1.0)
    session.sampler.tick()
    record = session.stop(m)
    assert record.status == "ok"
    assert record.components["cpu"].energy_j == pytest.approx(
        20.0, rel=1e-6
    )  # what was measured is kept
    assert any("package-0 (rapl): read failed" in f for f in record.flags)


def test_env_var_sets_the_root(tmp_path, monkeypatch, no_pynvml):
    FakePowercap(tmp_path, sockets=1)
    monkeypatch.setenv("JUPYTER_CARBON_POWERCAP_ROOT", str(tmp_path))
    config = Config.from_env()
    assert any(s.method == "rapl" for s in detect(**config.detection_arguments()).sources)


def test_locked_rapl_is_said_once_at_load_with_the_fix(
    tmp_path, monkeypatch, _shell, capfd, no_pynvml
):
    from jupyter_carbon.carbon_session import reset_session

    FakePowercap(tmp_path, sockets=1)
    from jupyter_carbon.sources import counter

    def deny(path):  # root reads any file: stand in for the non-root user RAPL refuses
        raise PermissionError(13, "denied", str(path))

    monkeypatch.setattr(counter, "PreadFile", deny)  # where a counter file is opened
    monkeypatch.setenv("JUPYTER_CARBON_POWERCAP_ROOT", str(tmp_path))
    reset_session()
    _shell.run_line_magic("load_ext", "jupyter_carbon")
    try:
        _shell.run_cell("%%carbon --quiet\nx = 1")
        out, err = capfd.readouterr()
        assert "CPU (model, estimated)" in out
        assert err.count(rapl.RAPL_PERMISSION_FIX) == 1 and err.count("\n") == 1
    finally:
        _shell.run_line_magic("unload_ext", "jupyter_carbon")
        reset_session()


# --- counters that lie -------------------------------------------------------------------------


def _set_counter(cap: FakePowercap, key: str, value_uj: int) -> None:
    cap.counter_uj[key] = float(value_uj)
    (cap.zones[key] / "energy_uj").write_text(f"{value_uj}\n")


def test_counter_reset_far_from_its_range_is_not_a_wrap(tmp_path, clock, no_pynvml):
    """A 2 ms cell whose counter resets from 100 J to 40 mJ:
    before, it was charged a whole range (262 kJ)."""
    cap = FakePowercap(tmp_path, sockets=1, dram=False, start_uj=100_000_000)
    session = CarbonSession(
        Config(powercap_root=str(tmp_path), intensity=475), clock=clock, threaded=False
    )
    m = session.open("reset")
    clock.advance(0.002)
    _set_counter(cap, "package-0", 40_000)
    record = session.stop(m)
    cpu = record.components["cpu"]
    assert cpu.energy_j < 1.0 and record.co2e_g < 1e-3  # not 262 kJ, 72.8 Wh
    assert any(
        "package-0 (rapl): an implausible counter step (a reset or a jump) was dropped" in f
        for f in record.flags
    )
    from jupyter_carbon.display.text import format_status

    assert "package-0: 1 implausible counter step(s) dropped" in format_status(session)
    # the counter goes on from its new value: the next cell is measured again
    m = session.open("after")
    cap.advance(1.0, {"package-0": 30.0})
    clock.advance(1.0)
    after = session.stop(m)
    assert after.components["cpu"].energy_j == pytest.approx(30.0, rel=1e-6) and not any(
        "implausible" in f for f in after.flags
    )


def test_wrap_near_the_range_is_still_unwrapped(tmp_path, clock, no_pynvml):
    max_range_uj = 262_143_328_850
    cap = FakePowercap(
        tmp_path, sockets=1, dram=False, start_uj=max_range_uj - 1_000_000
    )  # 1 J before the wrap
    session = CarbonSession(Config(powercap_root=str(tmp_path)), clock=clock, threaded=False)
    m = session.open()
    cap.advance(0.5, {"package-0": 40.0})  # 20 J: wraps to 19 J
    clock.advance(0.5)
    record = session.stop(m)
    assert cap.counter_uj["package-0"] < 20_000_000  # it did wrap
    assert record.components["cpu"].energy_j == pytest.approx(20.0, rel=1e-6)
    assert not any("rapl" in f for f in record.flags)


def test_implausible_jump_is_flagged_and_not_used(tmp_path, clock, no_pynvml):
    cap = FakePowercap(tmp_path, sockets=1, dram=False)
    session = CarbonSession(Config(powercap_root=str(tmp_path)), clock=clock, threaded=False)
    m = session.open("jump")
    cap.advance(1.0, {"package-0": 25.0})
    clock.advance(1.0)
    session.sampler.tick()
    _set_counter(
        cap, "package-0", int(cap.counter_uj["package-0"] + 50_000 * 1e6)
    )  # +50 kJ in 1 s: 50 kW
    clock.advance(1.0)
    session.sampler.tick()
    cap.advance(1.0, {"package-0": 25.0})
    clock.advance(1.0)
    record = session.stop(m)
    # the jump is dropped: the two good seconds, and the glitched one at the last power (25 W)
    assert record.components["cpu"].energy_j == pytest.approx(75.0, rel=1e-6)
    assert any(
        "implausible counter step (a reset or a jump) was dropped, replaced by the last power" in f
        for f in record.flags
    )


@pytest.mark.parametrize("which", ["energy_uj", "name"])
def test_fifo_in_the_powercap_tree_does_not_hang(tmp_path, which, no_pynvml):
    import os
    import threading

    FakePowercap(tmp_path, sockets=1, dram=False)
    path = tmp_path / "intel-rapl:0" / which
    path.unlink()
    os.mkfifo(path)  # nobody writes to it: a blocking open would never return
    result = {}
    thread = threading.Thread(
        target=lambda: result.setdefault("found", detect(powercap_root=str(tmp_path))), daemon=True
    )
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "detection hung on a FIFO"
    found = result["found"]
    assert "not a regular file" in found.skipped["rapl"]
    assert {s.method for s in found.sources} == {"cpu-model", "ram-model"}


@pytest.mark.slow
def test_fifo_counter_does_not_hang_the_status_command(tmp_path):
    """``jupyter-carbon status`` (a fresh process, as a user runs it)
    with a FIFO where a counter should be."""
    import os
    import subprocess

    from storage_helpers import PYTHON, child_env

    FakePowercap(tmp_path, sockets=1, dram=False)
    os.unlink(tmp_path / "intel-rapl:0" / "energy_uj")
    os.mkfifo(tmp_path / "intel-rapl:0" / "energy_uj")
    env = child_env(JUPYTER_CARBON_POWERCAP_ROOT=str(tmp_path))
    done = subprocess.run(
        [PYTHON, "-m", "jupyter_carbon", "status"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0 and "not a regular file" in done.stdout


def test_a_32_bit_counter_is_read_before_it_can_wrap_twice_at_interval_60(
    tmp_path, clock, no_pynvml
):
    """A 2**32 µJ range (4.3 kJ) at 150 W wraps every 29 s: under interval=60 the thread ticks at
    most every ``max_gap_s`` (the range at the zone's plausible maximum, halved), so a 180 s
    window reads 27 kJ (before: one read a minute, a wrap lost each time, 1,230 J unflagged)."""
    cap = FakePowercap(tmp_path, sockets=1, dram=False, max_range_uj=2**32)
    session = CarbonSession(
        Config(powercap_root=str(tmp_path), interval=60), clock=clock, threaded=False
    )
    tick_s = getattr(session.sampler, "tick_s", session.sampler.interval_s)  # the thread's period
    assert tick_s <= 2**32 / 1e6 / rapl.MAX_ZONE_POWER_W  # at most one wrap at any power
    m = session.open("long")
    elapsed = 0.0
    while elapsed < 180.0:  # the sampler's thread, ticking every tick_s
        step = min(tick_s, 180.0 - elapsed)
        cap.advance(step, {"package-0": 150.0})
        clock.advance(step)
        elapsed += step
        session.sampler.tick()
    record = session.stop(m)
    assert record.components["cpu"].energy_j == pytest.approx(150.0 * 180, rel=1e-6)


def test_a_zero_range_falls_back_to_the_register_width(tmp_path, clock, no_pynvml):
    """``max_energy_range_uj`` reads 0: a wrap at 2**32 µJ was taken as a reset (80 J for 100 J)."""
    cap = FakePowercap(
        tmp_path, sockets=1, dram=False, max_range_uj=2**32, start_uj=2**32 - 20_000_000
    )
    (cap.zones["package-0"] / "max_energy_range_uj").write_text("0\n")
    session = CarbonSession(Config(powercap_root=str(tmp_path)), clock=clock, threaded=False)
    m = session.open()
    cap.advance(1.0, {"package-0": 100.0})  # wraps: 20 J before, 80 J after
    clock.advance(1.0)
    record = session.stop(m)
    assert cap.counter_uj["package-0"] == pytest.approx(80e6)
    assert record.components["cpu"].energy_j == pytest.approx(100.0, rel=1e-6)
    assert not any("rapl" in f for f in record.flags)
