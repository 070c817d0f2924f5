"""The actionable summary (issue 24): where it went, the same work elsewhere, later (forecasts
from a local test server), against the last run (two real kernels in one folder), and the
session budget in a real shell."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from IPython.core.error import UsageError
from storage_helpers import PYTHON, child_env, make_record, real_kernel

from jupyter_carbon.advice import RunIndex, advice_of, later_window, references
from jupyter_carbon.config import Config
from jupyter_carbon.digest import Digest
from jupyter_carbon.display.report_html import html_report, summary_html
from jupyter_carbon.display.report_text import summary_text
from jupyter_carbon.display.summary import session_digest
from jupyter_carbon.energy import Energy
from jupyter_carbon.extension import get_extension
from jupyter_carbon.intensity.providers import (
    ElectricityMapsProvider,
    Forecast,
    ForecastSlot,
    LiveIntensity,
    UKCarbonIntensityProvider,
)
from jupyter_carbon.intensity.table import WORLD_AVERAGE, all_regions, lookup_region
from jupyter_carbon.intensity.value import Intensity
from jupyter_carbon.record import DeviceEnergy, RecordError, WindowRecord
from jupyter_carbon.units import format_co2e, format_duration, format_energy

J_PER_KWH = 3_600_000.0


def _cell(i: int, **changes: object) -> WindowRecord:
    """make_record's record i, its window moved so that no two overlap (10 s apart)."""
    return replace(make_record(i), start_s=10.0 * i, end_s=10.0 * i + 2.0, **changes)


def _idle(i: int, gpu_j: float, held_s: float) -> WindowRecord:
    """An idle stretch (kind "idle", 24A's shape): the GPU's energy, held by the kernel."""
    gpu = DeviceEnergy("gpu", "gpu0 NVIDIA H200", "nvml-energy", True, Energy(gpu_j, gpu_j, gpu_j))
    held = [
        {
            "gpu": "GPU 0 (NVIDIA H200)",
            "energy_j": gpu_j,
            "power_w": gpu_j / held_s,
            "duration_s": held_s,
            "memory_mib": 5120.0,
        }
    ]
    return replace(
        make_record(i),
        kind="idle",
        label=None,
        start_s=10.0 * i,
        end_s=10.0 * i + held_s,
        devices=(gpu,),
        extra={"gpu_held": held},
    )


def _co2e_g(energy_j: float, g_per_kwh: float, pue: float) -> float:
    return energy_j / J_PER_KWH * g_per_kwh * pue


# --- where it went and the same work elsewhere ---------------------------------------------------


def test_where_it_went_and_elsewhere_from_hand_made_records():
    cells = [_cell(i) for i in range(1, 5)]
    idle = _idle(6, gpu_j=7200.0, held_s=60.0)
    digest = Digest([*cells, idle])
    assert digest.fractions == [1.0] * 4  # no overlap: every cell counted whole (idle apart)
    advice = advice_of(digest)

    # each cell: CPU 36·i J + GPU 720 J + RAM 3.6 J, at 56 g/kWh and PUE 1.2
    cell_j = [36.0 * i + 720.0 + 3.6 for i in range(1, 5)]
    cell_g = [_co2e_g(j, 56.0, 1.2) for j in cell_j]
    idle_g = _co2e_g(7200.0, 56.0, 1.2)
    whole_g = sum(cell_g) + idle_g
    assert [c.name for c in advice.top] == ["cell [4]", "cell 3", "cell [2]"]  # most CO2e first
    for top, i in zip(advice.top, (3, 2, 1)):
        assert top.co2e_g == pytest.approx(cell_g[i])
        assert top.share == pytest.approx(cell_g[i] / whole_g)
        assert top.measured is False  # RAM is a model
    assert advice.idle is not None
    assert advice.idle.co2e_g == pytest.approx(idle_g)
    assert advice.idle.share == pytest.approx(idle_g / whole_g)
    assert advice.idle.duration_s == 60.0
    assert advice.idle.components == (("gpu", 7200.0, pytest.approx(idle_g), True),)
    (held,) = advice.held
    assert (held.gpu, held.energy_j, held.duration_s) == ("GPU 0 (NVIDIA H200)", 7200.0, 60.0)
    assert held.power_w == pytest.approx(120.0)
    assert held.co2e_g == pytest.approx(idle_g)
    gpu_share = (4 * _co2e_g(720.0, 56.0, 1.2) + idle_g) / whole_g
    assert dict(advice.components)["gpu"] == pytest.approx(gpu_share)

    # the same work elsewhere: the session's region, then the references by their rule
    energy_j = sum(cell_j) + 7200.0
    assert advice.energy_j == pytest.approx(energy_j)
    clouds = [r for r in all_regions() if r.kind == "cloud"]
    cleanest = min(clouds, key=lambda r: r.g_per_kwh)
    dirtiest = max(clouds, key=lambda r: r.g_per_kwh)
    expected = [lookup_region("FR"), cleanest, WORLD_AVERAGE, dirtiest]
    assert [e.region.key for e in advice.elsewhere] == [r.key for r in expected]
    assert [r.key for r, _ in references()] == [cleanest.key, "WORLD", dirtiest.key]
    for e, region in zip(advice.elsewhere, expected):
        assert e.co2e_g == pytest.approx(_co2e_g(energy_j, region.g_per_kwh, 1.2))

    text = summary_text(digest)
    assert "where it went" in text and "idle between cells" in text
    share = f"{idle_g / whole_g * 100:.0f} %"
    assert f"idle between cells: {share} ({format_co2e(idle_g)}" in text
    assert (
        f"GPU 0 (NVIDIA H200) held by this kernel, idle {format_duration(60.0)}: "
        f"{format_energy(7200.0)}, {format_co2e(idle_g)}, ~120 W — release cached memory"
    ) in text
    fr = lookup_region("FR")
    fr_g = _co2e_g(energy_j, fr.g_per_kwh, 1.2)
    assert f"FR {fr.g_per_kwh:g} gCO2e/kWh: {format_co2e(fr_g)} (this session's region" in text
    assert f"{fr.source} {fr.year})" in text  # each with the table's source and year
    assert f"cell [4] {cell_g[3] / whole_g * 100:.0f} % ({format_co2e(cell_g[3])}" in text
    html = summary_html(digest)
    assert "jc-advice" in html and "held by this kernel" in html
    assert "What to do next" in html_report(digest)
    # no forecast, no earlier run, no budget: those parts say nothing
    assert "later (" not in text and "last run" not in text and "budget" not in text


def test_no_records_no_advice():
    digest = Digest()
    assert not advice_of(digest)
    assert "where it went" not in summary_text(digest)


# --- later: forecasts ----------------------------------------------------------------------------


def _slots(start: datetime, values: list[float], minutes: int = 30) -> tuple[ForecastSlot, ...]:
    step = timedelta(minutes=minutes)
    return tuple(
        ForecastSlot(start + k * step, start + (k + 1) * step, v) for k, v in enumerate(values)
    )


def test_later_window_is_the_cleanest_stretch_long_enough():
    t0 = datetime(2024, 5, 21, 10, 0, tzinfo=timezone.utc)
    forecast = Forecast("test forecast", _slots(t0, [200, 180, 90, 60, 150, 40, 300]), t0)
    # a 40-minute cell needs two slots: means 190, 135, 75, 105, 95, 170 → slots 2–3
    later = later_window(forecast, "train", 36_000.0, 40 * 60, 1.5)
    assert later is not None
    assert (later.start_utc, later.end_utc) == (
        t0 + timedelta(minutes=60),
        t0 + timedelta(minutes=120),
    )
    assert later.g_per_kwh == 75.0 and later.now_g_per_kwh == 190.0
    assert later.saving_g == pytest.approx(_co2e_g(36_000.0, 190.0 - 75.0, 1.5))
    # a short cell: the single cleanest slot
    short = later_window(forecast, "train", 36_000.0, 5.0, 1.5)
    assert short is not None and short.g_per_kwh == 40.0 and short.now_g_per_kwh == 200.0
    # nothing cleaner than now: no advice
    rising = Forecast("f", _slots(t0, [50, 60, 70]), t0)
    assert later_window(rising, "train", 1.0, 5.0, 1.0) is None


class _Handler(BaseHTTPRequestHandler):
    replies: dict = {}
    seen: list = []
    delay_s = 0.0

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).seen.append((self.path, dict(self.headers)))
        time.sleep(self.delay_s)
        for prefix, reply in type(self).replies.items():
            if self.path.startswith(prefix):
                body = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def api(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    handler = type("Handler", (_Handler,), {"replies": {}, "seen": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    yield handler, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _uk_entries(start: datetime, values: list[int]) -> list[dict]:
    fmt = "%Y-%m-%dT%H:%MZ"
    return [
        {
            "from": (start + timedelta(minutes=30 * k)).strftime(fmt),
            "to": (start + timedelta(minutes=30 * (k + 1))).strftime(fmt),
            "intensity": {"forecast": v, "actual": None, "index": "moderate"},
        }
        for k, v in enumerate(values)
    ]


def test_uk_forecast_from_a_local_server_in_the_background(api):
    handler, base = api
    t0 = datetime(2024, 5, 21, 10, 0, tzinfo=timezone.utc)
    values = [210, 190, 120, 95, 160]
    handler.replies = {
        "/intensity/": {"data": _uk_entries(t0, values)},
        "/intensity": {"data": _uk_entries(t0, values[:1])},
    }
    handler.delay_s = 0.3
    live = LiveIntensity(UKCarbonIntensityProvider(base_url=base), Intensity.world_average())
    try:
        started = time.perf_counter()
        assert live.forecast() is None  # nothing has arrived: no wait, no advice
        assert time.perf_counter() - started < 0.2
        assert live.wait(10)
        forecast = live.forecast()
    finally:
        live.close()
    assert forecast is not None
    assert [s.g_per_kwh for s in forecast.slots] == [float(v) for v in values]
    assert forecast.slots[0].start_utc == t0
    path = next(p for p, _ in handler.seen if p.endswith("/fw24h"))
    assert re.fullmatch(r"/intensity/\d{4}-\d\d-\d\dT\d\d:\d\dZ/fw24h", path)

    # the heaviest cell, re-run in the cleanest half hour: the saving against now
    heavy = _cell(2)
    digest = Digest([_cell(1), heavy])
    digest.tally.forecast = forecast
    later = advice_of(digest).later
    assert later is not None and later.cell == "cell [2]"
    assert later.g_per_kwh == 95.0 and later.now_g_per_kwh == 210.0
    assert later.saving_g == pytest.approx(_co2e_g(heavy.energy_j, 210.0 - 95.0, 1.2))
    text = summary_text(digest)
    assert "later (forecast: uk-carbon-intensity forecast (GB))" in text
    assert "2024-05-21 11:30–12:00 UTC" in text and f"saves {format_co2e(later.saving_g)}" in text


def test_uk_regional_and_electricitymaps_forecasts(api, monkeypatch):
    handler, base = api
    t0 = datetime(2024, 5, 21, 10, 0, tzinfo=timezone.utc)
    handler.replies = {
        "/regional/intensity/": {
            "data": {
                "regionid": 3,
                "shortname": "North West England",
                "data": _uk_entries(t0, [80, 60]),
            }
        },
        "/v3/carbon-intensity/forecast": {
            "zone": "DE",
            "forecast": [
                {"carbonIntensity": 300, "datetime": "2024-05-21T10:00:00.000Z"},
                {"carbonIntensity": 250, "datetime": "2024-05-21T11:00:00.000Z"},
            ],
        },
    }
    uk = UKCarbonIntensityProvider(base_url=base, region_id=3).fetch_forecast(t0)
    assert [s.g_per_kwh for s in uk.slots] == [80.0, 60.0]
    assert handler.seen[-1][0] == "/regional/intensity/2024-05-21T10:00Z/fw24h/regionid/3"
    monkeypatch.setenv("ELECTRICITYMAPS_TOKEN", "secret-token")
    em = ElectricityMapsProvider("DE", base_url=base).fetch_forecast(t0)
    assert [(s.start_utc.hour, s.end_utc.hour, s.g_per_kwh) for s in em.slots] == [
        (10, 11, 300.0),
        (11, 12, 250.0),
    ]
    path, headers = handler.seen[-1]
    assert path == "/v3/carbon-intensity/forecast?zone=DE"
    assert {k.lower(): v for k, v in headers.items()}["auth-token"] == "secret-token"


# --- against the last run ------------------------------------------------------------------------


def test_source_sha1_round_trips_and_is_checked():
    record = _cell(1, source_sha1="0123456789abcdef")
    assert WindowRecord.from_dict(record.to_dict()).source_sha1 == "0123456789abcdef"
    assert WindowRecord.from_dict({**record.to_dict(), "source_sha1": None}).source_sha1 is None
    with pytest.raises(RecordError, match="source_sha1"):
        WindowRecord.from_dict({**record.to_dict(), "source_sha1": 12})


def test_run_index_compares_cells_by_hash():
    earlier = RunIndex([_cell(1, source_sha1="a"), _cell(2, source_sha1="b")])
    digest = Digest([_cell(3, source_sha1="a"), _cell(4, source_sha1="c")])
    digest.tally.last_runs, digest.tally.runs_from = earlier, "logs"
    (run,) = advice_of(digest).runs  # "c" has no earlier run, "b" no run now
    assert (run.name, run.energy_j, run.last_energy_j) == (
        "cell 3",
        _cell(3).energy_j,
        _cell(1).energy_j,
    )
    change = (_cell(3).energy_j - _cell(1).energy_j) / _cell(1).energy_j
    assert (
        f"cell 3 {format_energy(_cell(3).energy_j)} (last run {format_energy(_cell(1).energy_j)}, "
        f"{change * 100:+.0f} %)"
    ) in summary_text(digest)


def _plain_outputs(kc, code: str) -> str:
    texts: list[str] = []

    def hook(msg):
        content = msg["content"]
        if msg["msg_type"] == "stream":
            texts.append(content["text"])
        elif msg["msg_type"] in ("display_data", "execute_result"):
            texts.append(content["data"].get("text/plain", ""))

    reply = kc.execute_interactive(code, timeout=60, output_hook=hook)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(texts)


@pytest.mark.slow
def test_two_real_kernels_one_after_the_other_compare_runs(tmp_path):
    logs = tmp_path / "logs"
    cell = "total = sum(i * i for i in range(300_000))"
    for run in (1, 2):
        with real_kernel(logs, tmp_path) as (_, kc):
            _plain_outputs(kc, "%carbon on --quiet")
            _plain_outputs(kc, cell)
            if run == 2:
                summary = _plain_outputs(kc, "%carbon summary")
    first, second = (
        [json.loads(line) for line in path.read_text().splitlines()[1:]]
        for path in sorted(logs.glob("session-*.jsonl"))
    )
    (a,), (b,) = (
        [r for r in log if r["label"] is None and r["kind"] == "auto"] for log in (first, second)
    )
    assert a["source_sha1"] == b["source_sha1"] and re.fullmatch(r"[0-9a-f]{16}", a["source_sha1"])
    assert "source" not in a["extra"]  # store_source is off: only the hash
    name = f"cell [{b['cell']}]"
    change = (b["energy_j"] - a["energy_j"]) / a["energy_j"] * 100
    expected = (
        f"{name} {format_energy(b['energy_j'])} (last run {format_energy(a['energy_j'])}, "
        f"{change:+.0f} %)"
    )
    assert "against the last run (cells matched by a hash of their source" in summary
    assert expected in summary
    report = subprocess.run(
        [PYTHON, "-m", "jupyter_carbon", "report", str(logs)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    assert expected in report.stdout


# --- the session budget --------------------------------------------------------------------------


def test_budget_setting_and_bad_input(shell, monkeypatch):
    assert Config.from_env({"JUPYTER_CARBON_BUDGET_G": "1.5kg"}).budget_g == 1500.0
    assert Config().updated(budget_g="off").budget_g is None
    with pytest.raises(UsageError, match=r"'20t'.*e\.g\. %carbon budget 20g"):
        shell.run_line_magic("carbon", "budget 20t")
    with pytest.raises(UsageError, match=r"'-3g'"):
        shell.run_line_magic("carbon", "budget -3g")


def test_budget_notes_at_80_and_100_percent_once_each(shell, capsys):
    session = get_extension(shell).session
    shell.run_line_magic("carbon", "config power=cpu:1000 intensity=1000")
    shell.run_line_magic("carbon", "on")
    shell.run_cell("import time; time.sleep(0.05)")
    per_cell_g = session.records[-1].co2e_g
    budget_g = per_cell_g * 12  # each cell about 8 % of it: one cell crosses each level
    shell.run_line_magic("carbon", f"budget {budget_g!r}g")
    capsys.readouterr()
    outputs, fractions = [], []
    while not fractions or fractions[-1] < 1.25:
        assert len(fractions) < 60
        shell.run_cell("time.sleep(0.05)")
        outputs.append(capsys.readouterr().out)
        fractions.append(session.records[-1].totals.co2e_g / budget_g)
    past_80 = [i for i, out in enumerate(outputs) if "past 80 % of the budget" in out]
    spent = [i for i, out in enumerate(outputs) if "the budget is spent" in out]
    first_80 = next(i for i, f in enumerate(fractions) if f >= 0.8)
    first_100 = next(i for i, f in enumerate(fractions) if f >= 1.0)
    assert spent == [first_100]
    assert past_80 == ([first_80] if first_80 < first_100 else [])
    assert first_80 < first_100  # the steps are small enough for both notes here
    shell.run_line_magic("carbon", "status")
    status = capsys.readouterr().out
    assert "session budget" in status and "the budget is spent" in status
    assert "budget:\n  session budget" in summary_text(session_digest(session))
    # a new budget is noted afresh; off: no note
    shell.run_line_magic("carbon", "budget off")
    assert "no session budget" in capsys.readouterr().out
    shell.run_cell("time.sleep(0.01)")
    assert "budget" not in capsys.readouterr().out
