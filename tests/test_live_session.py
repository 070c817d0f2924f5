"""Live intensity wired into the session: never blocks a cell, falls back to the table, says why."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest
from fakes import constant_session


@pytest.fixture
def slow_uk_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(1.0)  # slower than any cell in this test
            body = json.dumps(
                {
                    "data": [
                        {
                            "from": "2026-11-21T23:00Z",
                            "to": "2026-11-21T23:30Z",
                            "intensity": {"forecast": 120, "actual": 111, "index": "low"},
                        }
                    ]
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_live_uk_intensity_never_blocks_and_is_recorded(slow_uk_server, monkeypatch):
    import jupyter_carbon.intensity.providers as providers

    real = providers.UKCarbonIntensityProvider
    monkeypatch.setattr(
        providers,
        "UKCarbonIntensityProvider",
        lambda **kw: real(base_url=slow_uk_server, timeout_s=3.0),
    )
    session = constant_session(cpu=10.0, region="GB", live="uk")
    t0 = time.perf_counter()
    m = session.open()
    first = session.stop(m)
    assert time.perf_counter() - t0 < 0.5  # the slow provider did not delay the cell
    assert first.intensity_source.startswith(
        "table:GB"
    )  # fallback while the live value is on its way
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = session.open()
        record = session.stop(m)
        if record.intensity_source.startswith("uk"):
            break
        time.sleep(0.1)
    assert record.intensity_g_per_kwh == 111 and record.intensity_utc is not None
    session.shutdown()


def test_electricitymaps_without_a_zone_says_what_to_set():
    session = constant_session(cpu=1.0, region="gcp:europe-west1", live="electricitymaps")
    m = session.open()
    record = session.stop(m)
    assert record.intensity_source.startswith("table:gcp:europe-west1")
    assert any("zone=" in p for p in session.problems)
