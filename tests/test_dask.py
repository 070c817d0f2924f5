"""Dask clusters: a cell's tasks on real worker processes are measured and charged to the cell.

Real clusters only: a ``LocalCluster`` with worker processes (two workers on one host), and a
scheduler plus workers started as separate ``dask scheduler`` / ``dask worker`` processes that are
not children of this process (each worker poses as its own host through JUPYTER_CARBON_HOST).
Clusters are shared per module: the machine has 2 cores.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from storage_helpers import child_env

pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")

import jupyter_carbon  # noqa: E402
from jupyter_carbon.carbon_session import CarbonSession  # noqa: E402
from jupyter_carbon.cluster import ClusterPart, HostPart  # noqa: E402
from jupyter_carbon.cluster.attribute import attribute  # noqa: E402
from jupyter_carbon.cluster.client import ClusterMeter  # noqa: E402
from jupyter_carbon.cluster.observer import LATE_KIND, SHARE_KIND, settle_cluster  # noqa: E402
from jupyter_carbon.energy import Energy  # noqa: E402

#: Defined in the shell, as a notebook would: pickled by value, so workers need not import this
#: file.
BURN = """
def burn(seconds):
    import time
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:  # busy: one worker thread for `seconds` of wall time
        pass
    return seconds
"""
_ns: dict = {"__name__": "__main__"}
exec(BURN, _ns)
burn = _ns["burn"]


def wait_for(predicate, timeout_s: float = 15.0, what: str = "condition"):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


#: Worker task states in which a task holds a thread (distributed's names).
THREAD_STATES = frozenset(("executing", "long-running"))


def executing_s(client, keys) -> list[float]:
    """Each time one of ``keys`` held a worker thread, from the workers' own transition logs
    (``Client.story``): distributed's record of what the plugin counts. On a loaded machine a task
    holds its thread well past its function's run (the worker's event loop starts it and takes
    its result), so the thread-seconds of a 0.6 s task are not a constant."""
    spans, since = [], {}
    for entry in client.story(*keys):  # the scheduler's entries, then each worker's in order
        # a worker's transition: (worker, key, start, finish, final, recommendations, id, time)
        if entry[0] == "scheduler" or len(entry) != 8 or not isinstance(entry[5], dict):
            continue
        worker, key, start, finish, *_, stamp = entry
        if finish in THREAD_STATES and start not in THREAD_STATES:
            since[worker, key] = stamp
        elif start in THREAD_STATES and finish not in THREAD_STATES and (worker, key) in since:
            spans.append(stamp - since.pop((worker, key)))
    return spans


def one_task_window(client, seconds: float):
    """A window of a meter of its own that runs one task of ``seconds`` and waits for its round:
    the window, its part and its flags."""
    meter = ClusterMeter(client)
    meter.install()
    try:
        window = meter.begin()
        client.submit(burn, seconds, pure=False).result()
        part, flags = meter.end(window)
        return window, part, flags
    finally:
        meter.uninstall()


def parts_of(records):
    return [r.cluster for r in records]


def cell_and_share(session, timeout_s: float = 15.0):
    """The last cell's record and the record of its cluster share, measured after the cell ended
    (the cell's own part only ``follows``): ``settle_cluster`` waits for it."""
    cell = next(r for r in reversed(session.records) if r.kind not in (SHARE_KIND, LATE_KIND))
    assert cell.cluster is not None and cell.cluster.follows and not cell.cluster.hosts
    assert settle_cluster(session, timeout_s)
    share = next(
        r for r in session.records if r.kind == SHARE_KIND and r.cluster.late_for == cell.id
    )
    return cell, share


_WITHOUT_A_CLIENT = """
import distributed  # imported, as in a kernel that uses Dask, but no Client made
from jupyter_carbon.carbon_session import CarbonSession
from jupyter_carbon.cluster.observer import attach_cluster
session = CarbonSession(threaded=False)
attach_cluster(session)
session.configure(dask="on")
with session.open("x") as m:
    pass
print(m.record.cluster is None)
print(any("dask=on but this kernel has no distributed.Client" in p for p in session.problems))
"""


def test_dask_on_without_a_client_says_what_to_do(tmp_path):
    # In a fresh process: a Client left by another test of this module would be this one's client.
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_A_CLIENT],
        capture_output=True,
        text=True,
        env=child_env(JUPYTER_CARBON_LOG_DIR="none"),
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


# --- a LocalCluster: two worker processes on one host ------------------------------------------


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    os.environ["JUPYTER_CARBON_LOCK_DIR"] = str(
        tmp_path_factory.mktemp("locks")
    )  # inherited by the workers
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()
    os.environ.pop("JUPYTER_CARBON_LOCK_DIR", None)


@pytest.fixture
def dask_shell(shell, local):
    shell.user_ns.update(client=local)
    shell.run_cell(BURN)
    yield shell
    shell.user_ns.pop("client", None)


def test_a_cluster_round_that_takes_too_long_never_holds_the_cell(dask_shell, local, monkeypatch):
    from jupyter_carbon.cluster import client as client_module

    monkeypatch.setattr(client_module, "ROUND_TIMEOUT_S", 1e-6)  # every round "hangs"
    start = time.monotonic()
    result = dask_shell.run_cell(
        "%%carbon --quiet\nx = client.submit(burn, 0.05, pure=False).result()"
    )
    assert result.success and time.monotonic() - start < 10
    record = jupyter_carbon.session().records[-1]
    assert record.status == "ok" and record.energy_j > 0  # this machine's figures are kept
    assert record.cluster is None and any("cluster" in flag for flag in record.flags)


def test_cell_on_local_cluster_is_charged_once_per_host(dask_shell, local):
    dask_shell.run_cell(
        "%%carbon\nfutures = client.map(burn, [0.6, 0.6], pure=False)\n"
        "result = client.gather(futures)"
    )
    record, share = cell_and_share(jupyter_carbon.session())  # settled after the cell
    part = share.cluster
    assert part is not None and len(part.hosts) == 1
    host = part.hosts[0]
    assert host.workers == 2
    # two tasks of 0.6 s, each counted once: the thread-seconds are the tasks' time in a thread
    spans = executing_s(local, [f.key for f in dask_shell.user_ns["futures"]])
    assert len(spans) == 2 and min(spans) >= 0.6, spans
    # the plugin and distributed stamp the same transitions microseconds apart (seen: < 0.1 ms
    # beside six busy loops); a task counted twice or missed is off by 0.6 s
    assert host.task_s == pytest.approx(sum(spans), abs=0.05), spans
    assert host.energy_j > 0 and host.host_j > 0
    assert host.energy_j + host.idle_j + host.others_j == pytest.approx(host.host_j)
    assert (
        not host.measured and "cpu-model" in host.methods
    )  # no RAPL here: the same model as locally
    # one meter per host: the two workers share it, so the host is counted once. The workers'
    # meter and the kernel's own session model the same machine over the same window.
    meter = next(iter(jupyter_carbon.session().observers[0].meters.values()))
    assert sum(1 for r in meter.last_reports.values() if r.get("meter")) == 1
    assert 0.5 < host.host_j / record.energy_j < 2.0
    # the report shows it
    from jupyter_carbon.display.html import record_html
    from jupyter_carbon.display.text import format_record, format_record_line

    assert "cluster (Dask)" in format_record(share) and "estimated (cpu-model" in format_record(
        share
    )
    assert "cluster (Dask)" in record_html(share)  # the widget's report
    assert " · cluster " in format_record_line(share)  # the one-line report of auto mode
    # the cell's own report, made at once, says its share follows
    assert "its share follows" in format_record(record) and "cluster (Dask)" in record_html(record)
    assert " · cluster share follows" in format_record_line(record)


def test_a_collection_built_before_the_cell_and_persisted_in_it(dask_shell, local):
    dask_shell.run_cell(
        "import dask.array as da\nx = da.random.random((1200, 1200), chunks=(400, 400))"
    )
    dask_shell.run_cell(
        "%%carbon --quiet\ntotal = (x @ x.T).sum().compute()"
    )  # graph from an earlier cell
    computed = cell_and_share(jupyter_carbon.session())[1].cluster
    assert computed.pending_futures == 0 and sum(h.task_s for h in computed.hosts) > 0
    dask_shell.run_cell(
        "%%carbon --quiet\ny = (x @ x.T).persist()"
    )  # returns at once: all of it completes later
    session = jupyter_carbon.session()
    persisted = cell_and_share(session)[0]
    assert persisted.cluster.pending_futures > 0
    late = wait_for(
        lambda: next((r for r in session.records if r.kind == LATE_KIND), None),
        what="the late record",
    )
    assert late.cluster.late_for == persisted.id and late.cluster.energy_j > 0


def test_two_clients_on_one_cluster_are_charged_their_own_tasks(local):
    import threading

    other = distributed.Client(local.scheduler.address, set_as_default=False)
    parts = {}

    def notebook(
        name, client, seconds
    ):  # a thread has its own context: its own span, like a kernel
        meter = ClusterMeter(client)
        meter.install()
        window = meter.begin()
        client.submit(burn, seconds, pure=False).result()
        parts[name] = meter.end(window)[0]
        meter.uninstall()

    try:
        threads = [
            threading.Thread(target=notebook, args=("a", local, 1.0)),
            threading.Thread(target=notebook, args=("b", other, 0.4)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        other.close()
    (host_a,), (host_b,) = parts["a"].hosts, parts["b"].hosts
    assert host_a.task_s == pytest.approx(1.0, abs=0.3)
    assert host_b.task_s == pytest.approx(0.4, abs=0.2)
    # while both ran, each saw the other's task as others', never charged to itself
    assert host_b.others_j > 0
    assert host_a.energy_j + host_a.others_j + host_a.idle_j == pytest.approx(host_a.host_j)


#: Run on the workers (pickled by value): the plugin's clients and open meter windows.
PLUGIN_STATE = """
def silence(user, dask_worker):  # as if that client had not asked for two hours
    import time
    plugin = dask_worker.plugins["jupyter_carbon"]
    plugin._users[user] = time.monotonic() - 7200.0

def open_windows(dask_worker):
    plugin = dask_worker.plugins.get("jupyter_carbon")
    meter = plugin.meter if plugin is not None else None
    return sorted(meter._windows) if meter is not None else []

def slow_rounds(seconds, dask_worker):  # a window's round (a report for a window) takes `seconds`
    import time
    plugin = dask_worker.plugins["jupyter_carbon"]
    report = type(plugin).report
    def slow(ids, *args, **kwargs):
        if ids:
            time.sleep(seconds)
        return report(plugin, ids, *args, **kwargs)
    plugin.report = slow

def fast_reports(dask_worker):
    dask_worker.plugins["jupyter_carbon"].__dict__.pop("report", None)
"""
exec(PLUGIN_STATE, _ns)


def test_a_cell_that_ran_a_task_ends_before_its_round_and_gets_its_share_after(
    dask_shell, local, capsys
):
    session = jupyter_carbon.session()
    dask_shell.run_cell("%%carbon --quiet\nclient.submit(burn, 0.05, pure=False).result()")
    cell_and_share(session)  # the plugin is installed, no round in flight
    slow_s = 4.0
    local.run(_ns["slow_rounds"], slow_s)  # each worker answers a round after 4 s
    try:
        start = time.monotonic()
        dask_shell.run_cell("%%carbon --quiet\nclient.submit(burn, 2.0, pure=False).result()")
        elapsed_s = time.monotonic() - start
        cell = session.records[-1]
        # the cell's record is made at once; its round has not answered yet
        assert elapsed_s < slow_s, elapsed_s
        assert cell.cluster.follows and not cell.cluster.hosts and cell.kind != SHARE_KIND
        assert not any(
            r.kind == SHARE_KIND and r.cluster.late_for == cell.id for r in session.records
        )
        assert ClusterPart.from_dict(json.loads(json.dumps(cell.cluster.to_dict()))) == cell.cluster
        capsys.readouterr()
        dask_shell.run_line_magic("carbon", "status")
        assert "1 cell share(s) still being measured" in capsys.readouterr().out
        cell, share = cell_and_share(session, timeout_s=3 * slow_s + 10)
    finally:
        local.run(_ns["fast_reports"])
    assert share.id > cell.id and share.cluster.late_for == cell.id and share.cell == cell.cell
    (host,) = share.cluster.hosts
    assert host.task_s == pytest.approx(2.0, abs=0.3) and not host.late
    assert host.energy_j > 0
    assert host.energy_j + host.idle_j + host.others_j == pytest.approx(host.host_j)
    # The host's energy is that of the cell's span, not of the span until the late round: the
    # workers' meter and the kernel's session model this machine with the same sources and
    # the same machine-wide load. They differ by the meter's interpolation at the cell's end
    # (readings 1 s apart: at most a quarter of a second of the change of power when the task
    # ends, under 10 % of the cell's energy) and by the round's latency (ms): 0.8–1.25.
    # Read at the late round it covers 6 s, not 2 (at least twice the cell's energy here).
    assert 0.8 < host.host_j / cell.energy_j < 1.25, (host.host_j, cell.energy_j)
    # the same as the synchronous path (ClusterMeter.end, which waits for the round) gives
    _, sync_part, _ = one_task_window(local, 2.0)
    (sync_host,) = sync_part.hosts
    assert sync_host.task_s == pytest.approx(host.task_s, abs=0.3)
    assert 0.5 < host.energy_j / sync_host.energy_j < 2.0
    # the summary counts the share once: the cell's own part carries no energy
    from jupyter_carbon.cluster.text import session_line

    line = session_line([cell, share])
    assert line is not None and "over 1 record(s)" in line


class _PowerDriver:
    """A fake RAPL package counter (``fakes.FakePowercap``) advanced in real time at ``power_w``;
    written in place at a fixed width, never truncated (a worker reads it at any moment)."""

    def __init__(self, root: Path) -> None:
        from fakes import FakePowercap

        cap = FakePowercap(root, sockets=1, dram=False)
        self.fd = os.open(cap.zones["package-0"] / "energy_uj", os.O_WRONLY)
        self.power_w = 0.0
        self._uj = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(0.002):
            now = time.monotonic()
            self._uj += self.power_w * (now - last) * 1e6
            last = now
            os.pwrite(self.fd, f"{int(self._uj):020d}\n".encode(), 0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        os.close(self.fd)


@pytest.fixture
def rapl_host(tmp_path, monkeypatch):
    """A one-worker cluster (1 thread) whose host is metered by a RAPL counter the test drives:
    the host's power is known at every moment."""
    driver = _PowerDriver(tmp_path / "powercap")
    for name, value in {
        "JUPYTER_CARBON_POWERCAP_ROOT": str(tmp_path / "powercap"),
        "JUPYTER_CARBON_LOCK_DIR": str(tmp_path / "locks"),
        "JUPYTER_CARBON_HOST": "rapl-host",
        "JUPYTER_CARBON_INTERVAL": "0.1",
        "JUPYTER_CARBON_POWER": "ram:0",  # no RAM model: the counter is all the host's energy
    }.items():
        monkeypatch.setenv(name, value)  # inherited by the worker processes
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster, set_as_default=False)
    try:
        yield client, driver
    finally:
        client.close()
        cluster.close()
        driver.stop()


def test_a_share_settled_after_the_cell_is_cut_at_the_cells_end(rapl_host):
    """The host draws 100 W while the cell runs and nothing after it; the cell's round
    arrives 3 s late. Its share must be the one the synchronous round gives (the host's energy
    during the cell), not the host's energy until the late round spread over a longer span."""
    client, driver = rapl_host
    meter = ClusterMeter(client)
    meter.install()
    settled: list = []
    burn_s, slow_s = 2.0, 3.0
    try:

        def cell(deferred: bool):
            driver.power_w = 100.0
            window = meter.begin()
            client.submit(burn, burn_s, pure=False).result()
            if deferred:
                part, _ = meter.end_later(window, lambda w, p, f: settled.append(p))
                assert part.follows and not part.hosts  # nothing measured yet
            else:
                part, _ = meter.end(window)
            driver.power_w = 0.0  # the cell has ended: the host is idle from now on
            return part

        cell(False)  # the plugin is warm
        (sync,) = cell(False).hosts
        client.run(_ns["slow_rounds"], slow_s)  # each worker answers a round 3 s late
        try:
            cell(True)
            assert meter.settle(3 * slow_s + 10)
        finally:
            client.run(_ns["fast_reports"])
    finally:
        meter.uninstall()
    (late,) = settled[0].hosts
    assert "rapl" in sync.methods and sync.methods == late.methods
    # what 100 W over the cell gives, thread-second for thread-second (one thread: the share
    # is the task's part of the cell's span)
    for host in (sync, late):
        assert host.task_s == pytest.approx(burn_s, rel=0.1)
        assert host.energy_j == pytest.approx(100.0 * host.task_s, rel=0.1), host
        assert host.energy_j + host.idle_j + host.others_j == pytest.approx(host.host_j)
    # Tolerance: the two cells differ by the moment the power is switched off after the
    # window's end (the round's latency, tens of ms: < 5 J of 200 J) and by the
    # interpolation between the meter's readings either side of the end (0.1 s apart, up to
    # 0.4 s on this loaded machine: at most 100 W × gap / 4 = 2.5–10 J), so 10 %. Read at the
    # late round, the host's 200 J would be spread over 5 s: 0.4 of the figure.
    assert late.host_j == pytest.approx(sync.host_j, rel=0.1)
    assert late.energy_j == pytest.approx(sync.energy_j, rel=0.1)


def test_a_share_not_measured_in_time_is_handed_on_flagged_and_only_once(local):
    meter = ClusterMeter(local)
    meter.install()
    got = []
    local.run(_ns["slow_rounds"], 2.0)
    try:
        window = meter.begin()
        local.submit(burn, 0.05, pure=False).result()
        part, _ = meter.end_later(window, lambda w, p, f: got.append((p, f)))
        assert part.follows
        assert not meter.settle(0.2, abandon="not measured: the test ended first")
        assert got == [(None, ("cluster: not measured: the test ended first",))]
        time.sleep(3.0)  # its round has answered by now: dropped, no second share
        assert len(got) == 1 and meter.settle(0.0)
    finally:
        local.run(_ns["fast_reports"])
        meter.uninstall()


def test_unload_right_after_a_cell_records_its_share_first(dask_shell, local):
    session = jupyter_carbon.session()
    dask_shell.run_cell("%%carbon --quiet\nclient.submit(burn, 0.05, pure=False).result()")
    assert settle_cluster(session)
    local.run(_ns["slow_rounds"], 2.0)
    try:
        dask_shell.run_cell("%%carbon --quiet\nclient.submit(burn, 0.4, pure=False).result()")
        cell = session.records[-1]
        assert cell.cluster.follows  # its round has not answered yet
        dask_shell.run_line_magic("unload_ext", "jupyter_carbon")
    finally:
        local.run(_ns["fast_reports"], on_error="return")  # the unload removed the plugin
    share = next(
        r for r in session.records if r.kind == SHARE_KIND and r.cluster.late_for == cell.id
    )
    (host,) = share.cluster.hosts
    assert host.task_s == pytest.approx(0.4, abs=0.25) and host.energy_j > 0
    log = Path(os.environ["JUPYTER_CARBON_LOG_DIR"])
    logged = [
        json.loads(line)
        for path in log.glob("*.jsonl")
        for line in path.read_text().splitlines()
        if '"cluster-share"' in line
    ]
    assert any(entry.get("id") == share.id for entry in logged), "the share is in the log"


def test_one_notebook_leaving_keeps_the_plugin_of_another_and_a_lost_one_comes_back(local):
    other = distributed.Client(local.scheduler.address, set_as_default=False)
    leaving, staying = ClusterMeter(other), ClusterMeter(local)
    try:
        leaving.install()
        staying.install()
        local.run(_ns["silence"], staying.user)  # its last round long ago: but still connected
        leaving.uninstall()
        assert all(local.run(lambda dask_worker: "jupyter_carbon" in dask_worker.plugins).values())
        # removed anyway (an older jupyter_carbon elsewhere): the next window installs it again
        local.unregister_worker_plugin("jupyter_carbon")
        window = staying.begin()  # a window that finds it missing installs it again …
        local.submit(burn, 0.05, pure=False).result()
        staying.end(window)
        window = staying.begin()  # … so the next one is measured
        local.submit(burn, 0.2, pure=False).result()
        part, flags = staying.end(window)
        assert part is not None and part.hosts and part.hosts[0].task_s > 0.1, flags
        assert not any("not installed" in flag for flag in flags), flags
        assert all(local.run(lambda dask_worker: "jupyter_carbon" in dask_worker.plugins).values())
    finally:
        staying.uninstall()
        other.close()


def test_a_notebook_keeps_one_meter_window_on_its_hosts_until_it_leaves(local, monkeypatch):
    from jupyter_carbon.cluster import client as client_module

    meter = ClusterMeter(local)
    meter.install()
    local.run(_ns["slow_rounds"], 0.5)  # a loaded worker
    try:
        monkeypatch.setattr(client_module, "ROUND_TIMEOUT_S", 0.1)
        window = meter.begin()
        local.submit(burn, 0.05, pure=False).result()
        part, flags = meter.end(window)  # its round timed out: not measured, flagged
        assert part is None and any("not measured" in flag for flag in flags), flags
        time.sleep(1.0)  # the round reached the workers all the same
    finally:
        local.run(_ns["fast_reports"])
    monkeypatch.setattr(client_module, "ROUND_TIMEOUT_S", 5.0)
    window = meter.begin()
    local.submit(burn, 0.05, pure=False).result()
    assert meter.end(window)[0].hosts
    # one meter window per notebook (its meter samples while the notebook uses it), however
    # many windows and rounds, timed out or not
    try:
        assert sorted(w for ws in local.run(_ns["open_windows"]).values() for w in ws) == [
            meter.user
        ]
    finally:
        meter.uninstall()
    assert not any(local.run(_ns["open_windows"]).values())


def test_a_cell_that_sends_nothing_to_the_cluster_sends_no_round(dask_shell, local, monkeypatch):
    dask_shell.run_cell("%%carbon --quiet\nclient.submit(burn, 0.05, pure=False).result()")
    assert settle_cluster(jupyter_carbon.session())  # the plugin is installed
    sent = []
    send = ClusterMeter._send
    monkeypatch.setattr(
        ClusterMeter, "_send", lambda self, *a, **k: sent.append(a) or send(self, *a, **k)
    )
    dask_shell.run_line_magic("carbon", "on --quiet")
    try:
        for _ in range(5):
            dask_shell.run_cell("x = 1")
    finally:
        dask_shell.run_line_magic("carbon", "off")
    assert settle_cluster(jupyter_carbon.session())
    cells = [r for r in jupyter_carbon.session().records if r.kind == "auto"][-5:]
    assert len(cells) == 5 and all(r.cluster is None for r in cells)
    assert sent == []  # no message to the cluster, neither during the cells nor after them
    dask_shell.run_cell("%%carbon --quiet\nclient.submit(burn, 0.05, pure=False).result()")
    assert settle_cluster(jupyter_carbon.session())
    assert len(sent) == 1  # a cell that ran a task: one round, after it


#: Run on the workers: how far back they keep their task history and meter timeline (s).
SHORT_HISTORY = """
def keep(seconds, dask_worker):
    from jupyter_carbon.cluster import host, worker
    host.TIMELINE_S = worker.HISTORY_S = seconds
"""
exec(SHORT_HISTORY, _ns)


def test_a_window_that_only_waits_sends_no_round_however_many_heartbeats(local):
    """The client's own messages (a heartbeat every ``distributed.client.heartbeat``) are not
    work: a window that made no future has no part on the cluster and costs no round."""
    import dask

    with dask.config.set({"distributed.client.heartbeat": "50ms"}):
        client = distributed.Client(local.scheduler.address, set_as_default=False)
    meter = ClusterMeter(client)
    try:
        meter.install()
        window = meter.begin()
        time.sleep(0.5)  # ~10 heartbeats
        assert meter.end(window) == (None, ())
        window = meter.begin()
        assert client.compute(dask.delayed(burn)(0.05)).result() == 0.05  # released at once
        part, _ = meter.end(window)
        assert part is not None and part.hosts  # a computation whose future is gone counts
    finally:
        meter.uninstall()
        client.close()


def test_a_window_open_longer_than_the_workers_history_has_its_start_read_in_time(
    local, monkeypatch
):
    from jupyter_carbon.cluster import client as client_module
    from jupyter_carbon.cluster import settler as settler_module

    def window(opening_after_s: float):
        monkeypatch.setattr(client_module, "OPENING_ROUND_AFTER_S", opening_after_s)
        window, part, flags = one_task_window(local, 4.0)
        return window, part.hosts[0], flags

    monkeypatch.setattr(settler_module, "WATCH_S", 0.1)
    local.run(_ns["keep"], 2.0)  # the workers keep 2 s of history: the window lasts 4
    try:
        read, host, flags = window(0.3)
        unread, host_unread, flags_unread = window(float("inf"))  # the control: no watch
    finally:
        local.run(_ns["keep"], 300.0)
    assert read.begin is not None and unread.begin is None
    assert host.task_s == pytest.approx(4.0, abs=0.4)
    assert not any("oldest reading" in flag for flag in flags), flags
    assert any("oldest reading" in flag for flag in flags_unread), (flags_unread, host_unread, host)
    assert host.host_j > host_unread.host_j  # the start read late misses energy


def test_work_finishing_after_the_cell_is_charged_to_it_later(dask_shell, local):
    dask_shell.run_cell("%%carbon\nlate = client.submit(burn, 1.2, pure=False)")
    session = jupyter_carbon.session()
    record = session.records[-1]
    assert record.cluster.pending_futures == 1
    assert any("completed later" in flag for flag in record.flags)
    record, share = cell_and_share(session)
    part = share.cluster
    assert part.pending_futures == 1
    late = wait_for(
        lambda: next((r for r in session.records if r.kind == LATE_KIND), None),
        what="the late record",
    )
    late_part = late.cluster
    assert late_part.late_for == record.id and late_part.hosts[0].late
    # never lost, never counted twice: the cell's and the later part's task time add up to the task
    total_s = sum(h.task_s for h in part.hosts) + sum(h.task_s for h in late_part.hosts)
    assert total_s == pytest.approx(1.2, abs=0.3)
    assert late_part.energy_j > 0
    # the log and the JSON export have both parts
    log = Path(os.environ["JUPYTER_CARBON_LOG_DIR"])
    text = "".join(p.read_text() for p in log.glob("*.jsonl"))
    assert '"late_for"' in text and '"cluster"' in text
    from jupyter_carbon.storage.export import export_records, load_records

    path = export_records(session.records, log.parent / "cluster-export.json")
    loaded = {r.id: r.cluster for r in load_records(path)}
    assert loaded[share.id] == part and loaded[late.id] == late_part
    assert loaded[record.id] == record.cluster


def test_status_lists_hosts_and_sources(dask_shell, local, capsys):
    dask_shell.run_cell("%%carbon --quiet\nclient.submit(burn, 0.05, pure=False).result()")
    capsys.readouterr()
    dask_shell.run_line_magic("carbon", "status")
    out = capsys.readouterr().out
    assert f"scheduler {local.scheduler.address}" in out
    assert "2 worker(s)" in out and "cpu-model (estimated)" in out


def test_the_metering_worker_killed_mid_cell_hands_over_and_is_flagged(dask_shell, local):
    dask_shell.run_cell("%%carbon --quiet\nclient.submit(burn, 0.05, pure=False).result()")
    cell_and_share(jupyter_carbon.session())  # its round has answered
    meter = next(iter(jupyter_carbon.session().observers[0].meters.values()))
    metering = next(r for r in meter.last_reports.values() if r.get("meter"))
    dask_shell.user_ns["victim"] = metering["pid"]
    dask_shell.run_cell(
        "%%carbon\nimport os, signal, time\n"
        "client.gather(client.map(burn, [0.4, 0.4], pure=False))\n"
        "os.kill(victim, signal.SIGKILL); time.sleep(0.5)"
    )
    (host,) = cell_and_share(jupyter_carbon.session())[1].cluster.hosts
    assert any(metering["worker"] in f and "died mid-window" in f for f in host.flags)
    assert any("meter started mid-window" in f for f in host.flags)
    assert set(host.incidents) <= set(host.flags) and list(meter.incidents)[
        -len(host.incidents) :
    ] == list(host.incidents)  # the status's recent incidents
    assert any("died mid-window" in f for f in host.incidents) and any(
        "meter started" in f for f in host.incidents
    )
    assert (
        host.host_j > 0
    )  # the other worker took over the host's meter: the host is still measured
    local.wait_for_workers(2, timeout=60)  # the nanny restarts the worker for the next tests


def test_dask_off_and_unload_remove_the_plugin(dask_shell, local):
    dask_shell.run_line_magic("carbon", "config dask=off")
    dask_shell.run_cell("%%carbon --quiet\nclient.submit(burn, 0.05, pure=False).result()")
    assert jupyter_carbon.session().records[-1].cluster is None
    dask_shell.run_line_magic("carbon", "config dask=auto")
    dask_shell.run_cell("%%carbon --quiet\nclient.submit(burn, 0.05, pure=False).result()")
    assert jupyter_carbon.session().records[-1].cluster is not None

    def has_plugin(dask_worker):
        return "jupyter_carbon" in dask_worker.plugins

    assert all(local.run(has_plugin).values())
    dask_shell.run_line_magic("unload_ext", "jupyter_carbon")
    assert not any(local.run(has_plugin).values())
    dask_shell.run_line_magic("load_ext", "jupyter_carbon")  # the fixture unloads it


# --- separate dask scheduler / dask worker processes, each worker its own host -------------------


def _spawn(args: list[str], env: dict[str, str], log: Path) -> int:
    """Start ``args`` detached (re-parented to init, not a child of this process); its pid."""
    command = shlex.join(args) + f" > {shlex.quote(str(log))} 2>&1 & echo $!"
    out = subprocess.run(
        ["sh", "-c", command],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        start_new_session=True,
    )
    return int(out.stdout.strip())


def _spawn_scheduler(scheduler_file: Path, env: dict[str, str], log: Path) -> int:
    """A scheduler apart from this process (see ``_spawn``) that writes ``scheduler_file``."""
    args = ["--scheduler-file", str(scheduler_file), "--port", "0", "--no-dashboard"]
    return _spawn([sys.executable, "-m", "distributed.cli.dask_scheduler", *args], env, log)


def _worker_args(scheduler_file: Path, name: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "distributed.cli.dask_worker",
        "--scheduler-file",
        str(scheduler_file),
        "--nthreads",
        "1",
        "--no-nanny",
        "--no-dashboard",
        "--death-timeout",
        "30",
        "--name",
        name,
    ]


@pytest.fixture(scope="module")
def apart(tmp_path_factory):
    """Scheduler and three workers as separate processes: host-a, host-b,
    and host-c (killed by a test)."""
    tmp = tmp_path_factory.mktemp("apart")
    scheduler_file = tmp / "scheduler.json"
    env = {**os.environ, "JUPYTER_CARBON_LOCK_DIR": str(tmp)}
    pids = [_spawn_scheduler(scheduler_file, env, tmp / "scheduler.log")]
    client = None
    try:
        wait_for(scheduler_file.exists, what="the scheduler")
        for host in ("host-a", "host-b", "host-c"):
            pids.append(
                _spawn(
                    _worker_args(scheduler_file, host),
                    {**env, "JUPYTER_CARBON_HOST": host},
                    tmp / f"{host}.log",
                )
            )
        # a worker that cannot import jupyter_carbon (as on a cluster where it was not installed)
        lacking = [
            sys.executable,
            "-c",
            "import sys; sys.modules['jupyter_carbon'] = None; sys.argv[0] = 'dask-worker'; "
            "from distributed.cli.dask_worker import main; main()",
            *_worker_args(scheduler_file, "bare")[3:],
        ]
        pids.append(_spawn(lacking, {**env, "JUPYTER_CARBON_HOST": "host-bare"}, tmp / "bare.log"))
        client = distributed.Client(scheduler_file=str(scheduler_file), set_as_default=False)
        client.wait_for_workers(4, timeout=60)
        workers = {
            info["name"]: address for address, info in client.scheduler_info()["workers"].items()
        }
        yield client, workers, pids
    finally:
        if client is not None:
            client.close()
        _stop(pids)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def _stop(pids: list[int]) -> None:
    """SIGTERM, then SIGKILL what is still there after 10 s (a worker may hang closing)."""
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
    try:
        wait_for(
            lambda: not any(_alive(p) for p in pids),
            timeout_s=10,
            what="the cluster processes to exit",
        )
    except AssertionError:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def apart_shell(shell, apart):
    client, workers, pids = apart
    with client.as_current():  # the kernel's default client while the test runs
        shell.user_ns.update(client=client, workers=workers)
        shell.run_cell(BURN)
        yield shell
    shell.user_ns.pop("client", None)


def test_workers_started_apart_are_charged_per_host(apart_shell, apart):
    import psutil

    client, workers, pids = apart
    children = {p.pid for p in psutil.Process().children(recursive=True)}
    assert not children & set(pids[1:])  # the workers are not the kernel's children
    cell = (
        "%%carbon --scope process\n"
        "fs = [client.submit(burn, 0.8, workers=[workers[h]], pure=False) "
        "for h in ('host-a', 'host-b')]\n"
        "client.gather(fs)"
    )
    apart_shell.run_cell(cell)
    record, share = cell_and_share(jupyter_carbon.session())
    part = share.cluster
    hosts = {h.host: h for h in part.hosts}
    assert {"host-a", "host-b"} <= set(hosts)
    for name in ("host-a", "host-b"):
        assert hosts[name].task_s == pytest.approx(0.8, abs=0.3)
        assert hosts[name].energy_j > 0
    # process scope sees only the kernel; the cluster part carries the work
    assert part.energy_j > record.energy_j
    # the worker without jupyter_carbon is named, with the install hint
    assert any("bare" in flag or "jupyter-carbon[dask]" in flag for flag in share.flags)


def test_status_says_which_workers_lack_jupyter_carbon(apart_shell, capsys):
    apart_shell.run_cell("%%carbon --quiet\nclient.submit(burn, 0.05, pure=False).result()")
    capsys.readouterr()
    apart_shell.run_line_magic("carbon", "status")
    out = capsys.readouterr().out
    assert "host host-a: 1 worker(s)" in out and "host host-b: 1 worker(s)" in out
    assert "not measured:" in out and "pip install 'jupyter-carbon[dask]'" in out


def test_a_worker_killed_mid_cell_is_flagged_and_the_rest_kept(apart_shell, apart, capsys):
    client, workers, pids = apart
    victim = pids[3]  # host-c
    apart_shell.user_ns["victim"] = victim
    cell = (
        "%%carbon\nimport os, signal, time\n"
        "doomed = client.submit(burn, 5, workers=[workers['host-c']], allow_other_workers=False, "
        "pure=False)\n"
        "kept = client.submit(burn, 0.8, workers=[workers['host-a']], pure=False)\n"
        "time.sleep(0.3); os.kill(victim, signal.SIGKILL)\n"
        "kept.result(); client.cancel(doomed)"
    )
    apart_shell.run_cell(cell)
    record = cell_and_share(jupyter_carbon.session())[1]  # the share's record: its flags
    part = record.cluster
    hosts = {h.host: h for h in part.hosts}
    assert any("host-c" in flag and "died" in flag for flag in record.flags)
    assert hosts["host-a"].task_s == pytest.approx(0.8, abs=0.3) and hosts["host-a"].energy_j > 0
    apart_shell.run_line_magic("carbon", "status")
    assert "recent: host-c: worker" in capsys.readouterr().out


# --- pure parts ----------------------------------------------------------------------------------


def _report(address, host, *, busy_s, window_s, meter_id="m1", energy_j=0.0, t_s=0.0, nthreads=1):
    meter = (
        {
            "id": meter_id,
            "t_s": t_s,
            "sources": [["cpu", "cpu0", "rapl", True]],
            "readings": [[energy_j, energy_j, energy_j]],
        }
        if meter_id
        else None
    )
    return {
        "worker": address,
        "host": host,
        "nthreads": nthreads,
        "cpu_count": 8,
        "t_s": t_s,
        "busy_s": busy_s,
        "window_s": {"s": window_s},
        "running": {"s": 0},
        "meter": meter,
    }


def test_attribution_splits_host_energy_without_loss_and_flags_a_dead_worker():
    begin = {
        "w1": _report("w1", "h", busy_s=0, window_s=0, energy_j=100, t_s=10),
        "w2": _report("w2", "h", busy_s=0, window_s=0, meter_id=None, t_s=10),
    }
    end = {"w1": _report("w1", "h", busy_s=3, window_s=2, energy_j=140, t_s=12)}
    (host,) = attribute(begin, end, "s")
    assert host.host_j == pytest.approx(40)
    assert host.energy_j + host.others_j + host.idle_j == pytest.approx(host.host_j)
    # capacity: 1 surviving thread × 2 s is less than the 3 busy thread-s, so the busy time counts
    assert host.energy_j == pytest.approx(40 * 2 / 3)
    assert host.idle_j == pytest.approx(0)
    assert host.measured and host.methods == ("rapl",)
    assert any("w2 died mid-window" in f for f in host.flags)
    assert host.incidents == tuple(
        f for f in host.flags if "w2 died mid-window" in f
    )  # the event, carried as a field
    assert "incidents" not in host.to_dict() and HostPart.from_dict(host.to_dict()) == host


def test_parts_round_trip_through_json():
    part = ClusterPart(
        hosts=(
            HostPart(
                "h",
                Energy(1.5, 1.0, 2.0),
                False,
                ("cpu-model",),
                host_j=3.0,
                idle_j=1.0,
                others_j=0.5,
                task_s=2.0,
                busy_share=0.6,
                workers=2,
                late=True,
                flags=("x",),
            ),
        ),
        pending_futures=2,
        late_for=7,
        flags=("y",),
        scheduler="tcp://s",
    )
    assert ClusterPart.from_dict(json.loads(json.dumps(part.to_dict()))) == part


def test_without_a_client_nothing_of_distributed_is_imported():
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_line_magic('load_ext', 'jupyter_carbon')\n"
        "shell.run_cell('%%carbon --quiet\\nx = 1')\n"
        "shell.run_line_magic('carbon', 'status')\n"
        "print('distributed' in sys.modules, 'dask' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "JUPYTER_CARBON_LOG_DIR": "none"},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False False"
    assert "cluster (Dask): none in use" in out.stdout


def test_session_observer_failure_never_reaches_the_cell():
    session = CarbonSession(threaded=False)

    class Broken:
        def window_started(self, m):
            raise RuntimeError("boom")

        def window_stopping(self, m):
            raise RuntimeError("bang")

    session.observers.append(Broken())
    with session.open("x") as m:
        pass
    assert any("bang" in f for f in m.record.flags)
    assert any("boom" in p for p in session.problems)


# --- a real kernel (ipykernel through nbclient): the annotation follows the cell, not beyond ------


def test_in_a_real_kernel_the_cell_is_charged_and_nothing_leaks(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    cells = [
        "%load_ext jupyter_carbon",
        "from distributed import Client, LocalCluster\n"
        "cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, "
        "dashboard_address=None)\n"
        "client = Client(cluster)\n" + BURN,
        "%%carbon\nclient.gather(client.map(burn, [0.4, 0.4], pure=False))",
        "import dask, json\nimport jupyter_carbon\n"
        "from jupyter_carbon.cluster.observer import settle_cluster\n"
        "annotations = dask.get_annotations()\n"
        "session = jupyter_carbon.session()\n"
        "settle_cluster(session)\n"  # the cell's share follows it
        "cell = [r for r in session.records if r.kind != 'cluster-share'][-1]\n"
        "share = [r for r in session.records if r.cluster and r.cluster.late_for == cell.id]\n"
        "print(json.dumps({'part': share[0].cluster.to_dict(), "
        "'annotations': annotations}))",
        "%unload_ext jupyter_carbon",
        "print(json.dumps(list(client.run(lambda dask_worker: "
        "'jupyter_carbon' in dask_worker.plugins).values())))\nclient.close(); cluster.close()",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    out = json.loads(next(o["text"] for o in nb.cells[3].outputs if o.get("name") == "stdout"))
    part = ClusterPart.from_dict(out["part"])
    assert part.hosts and sum(h.task_s for h in part.hosts) == pytest.approx(0.8, abs=0.3)
    assert out["annotations"] == {}  # the window's task annotation ended with the cell
    text = "".join(o.get("text", "") for o in nb.cells[2].outputs) + json.dumps(
        [o.get("data", {}) for o in nb.cells[2].outputs]
    )
    assert "cluster (Dask)" in text
    plugins = json.loads(next(o["text"] for o in nb.cells[5].outputs if o.get("name") == "stdout"))
    assert plugins == [False]  # removed on %unload_ext


def test_the_host_meter_reads_a_moment_already_past_from_its_timeline(tmp_path):
    from fakes import FakeClock

    from jupyter_carbon.cluster.host import TIMELINE_S, HostMeter

    clock = FakeClock()
    env = {"JUPYTER_CARBON_LOCK_DIR": str(tmp_path), "JUPYTER_CARBON_POWER": "cpu:10"}
    meter = HostMeter("node-t", env, clock=clock)
    try:
        assert meter.try_lead()
        start = meter.reading()["readings"][0][0]
        clock.advance(1.0)
        meter.reading()  # a reading at +1 s (as the sampler's ticks give)
        clock.advance(1.0)
        past = meter.reading(at_s=clock() - 0.5)  # +1.5 s, between the readings at +1 and +2
        assert past["t_s"] == pytest.approx(clock() - 0.5)
        assert past["readings"][0][0] - start == pytest.approx(15.0)  # 10 W × 1.5 s
        assert meter.reading(at_s=clock() + 1.0)["t_s"] == clock()  # not past: now
        clock.advance(TIMELINE_S + 100.0)
        old = meter.reading(at_s=clock() - TIMELINE_S - 100.5)  # before the oldest one kept
        assert old["readings"][0][0] - start == pytest.approx(20.0)
        assert any("before the meter's oldest reading" in e for e in old["errors"])
    finally:
        meter.shutdown()


def test_the_plugin_cuts_task_time_at_a_moment_already_past():
    from types import SimpleNamespace

    from jupyter_carbon.cluster.worker import ANNOTATION, CarbonWorkerPlugin

    plugin = CarbonWorkerPlugin()
    tasks = {k: SimpleNamespace(annotations={ANNOTATION: ("w",)}) for k in "abc"}
    tasks["other"] = SimpleNamespace(annotations={})
    plugin.worker = SimpleNamespace(state=SimpleNamespace(tasks=tasks, nthreads=4), address="x")

    def run(key):
        plugin.transition(key, "ready", "executing")

    def stop(key):
        plugin.transition(key, "executing", "memory")

    run("a"), run("other")
    time.sleep(0.2)
    stop("a")  # ended before the cut: all of it counts
    run("b")  # runs across the cut: counted up to it
    time.sleep(0.2)
    cut = time.monotonic()
    time.sleep(0.2)
    run("c")  # started after the cut: none of it counts
    time.sleep(0.1)
    stop("b"), stop("c")
    at_cut = plugin.report(["w"], cut_s=cut)
    now = plugin.report(["w"])
    assert at_cut["t_s"] == cut and now["t_s"] > cut
    assert at_cut["window_s"]["w"] == pytest.approx(0.4, abs=0.05)  # a 0.2 + b 0.2
    assert now["window_s"]["w"] == pytest.approx(0.8, abs=0.08)  # a 0.2 + b 0.5 + c 0.1
    assert at_cut["busy_s"] == pytest.approx(0.4 + 0.4, abs=0.08)  # and "other", still running
    assert at_cut["running"]["w"] == 1 and now["running"]["w"] == 0
    assert plugin.report(["w"], cut_s=time.monotonic() + 5)["t_s"] < time.monotonic()  # not past


def _run_and_shut_down(tmp_path, make_client: str) -> list[dict]:
    """Run a notebook whose last cell sends a task to the cluster (each window's round answers
    2 s late) and is followed at once by the kernel's shutdown (nbclient's, which interrupts the
    kernel's process group first); the records of its session log."""
    import nbformat
    from nbclient import NotebookClient

    tmp_path.mkdir(exist_ok=True)
    log_dir = tmp_path / "logs"
    cells = [
        f"import os\nos.environ['JUPYTER_CARBON_LOG_DIR'] = {str(log_dir)!r}",
        "%load_ext jupyter_carbon",
        make_client + BURN + PLUGIN_STATE,
        "%%carbon --quiet\nclient.submit(burn, 0.05, pure=False).result()",  # the plugin is in
        "import jupyter_carbon\nfrom jupyter_carbon.cluster.observer import settle_cluster\n"
        "assert settle_cluster(jupyter_carbon.session())\n"
        "client.run(slow_rounds, 2.0)",  # each window's round now answers 2 s late
        "%%carbon --quiet\nclient.submit(burn, 0.4, pure=False).result()",
    ]  # … and the kernel is shut down at once
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    lines = [
        json.loads(line) for p in log_dir.glob("*.jsonl") for line in p.read_text().splitlines()
    ]
    return [r for r in lines if r.get("type") == "record"]


def _logged_cell_and_share(records: list[dict]) -> tuple[dict, dict]:
    cells_ = [r for r in records if r["kind"] == "cell"]
    shares = [r for r in records if r["kind"] == SHARE_KIND]
    assert len(cells_) == 2 and len(shares) == 2, [r["kind"] for r in records]
    assert shares[-1]["cluster"]["late_for"] == cells_[-1]["id"]
    return cells_[-1], shares[-1]


def test_a_kernel_that_exits_right_after_a_cell_logs_its_share(tmp_path):
    """The kernel's exit measures the last cell's share (its round comes after the cell) while
    the cluster is still there: a cluster of its own (scheduler and worker apart from the
    kernel) is measured; a LocalCluster made in the notebook may end with the kernel's
    interrupt before the round reaches it: the share is logged all the same, measured or
    flagged as not measured, never dropped."""
    scheduler_file = tmp_path / "scheduler.json"
    env = {**os.environ, "JUPYTER_CARBON_LOCK_DIR": str(tmp_path)}
    pids = [_spawn_scheduler(scheduler_file, env, tmp_path / "scheduler.log")]
    try:
        wait_for(scheduler_file.exists, what="the scheduler")
        pids.append(_spawn(_worker_args(scheduler_file, "own"), env, tmp_path / "worker.log"))
        records = _run_and_shut_down(
            tmp_path / "own",
            "from distributed import Client\n"
            f"client = Client(scheduler_file={str(scheduler_file)!r})\n"
            "client.wait_for_workers(1, timeout=60)\n",
        )
    finally:
        _stop(pids)
    _, share = _logged_cell_and_share(records)
    hosts = share["cluster"]["hosts"]
    assert sum(h["task_s"] for h in hosts) == pytest.approx(0.4, abs=0.25), share["flags"]
    records = _run_and_shut_down(
        tmp_path / "local",
        "from distributed import Client, LocalCluster\n"
        "cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, "
        "dashboard_address=None)\n"
        "client = Client(cluster)\n",
    )
    _, share = _logged_cell_and_share(records)
    hosts = share["cluster"]["hosts"]
    measured = hosts and sum(h["task_s"] for h in hosts) == pytest.approx(0.4, abs=0.25)
    assert measured or any("left after the cell ended" in f for f in share["flags"]), share["flags"]


def test_jupyter_carbon_run_measures_the_last_cells_share_before_the_kernel_ends(tmp_path):
    """``jupyter-carbon run`` settles the cells' shares before it shuts the kernel down, so a
    LocalCluster made in the notebook is still there for the last cell's round."""
    import nbformat

    from jupyter_carbon.runner import run_notebook

    cells = [
        "from distributed import Client, LocalCluster\n"
        "cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, "
        "dashboard_address=None)\n"
        "client = Client(cluster)\n" + BURN + PLUGIN_STATE,
        "client.submit(burn, 0.05, pure=False).result()",
        "client.run(slow_rounds, 2.0)",  # each window's round now answers 2 s late
        "client.submit(burn, 0.4, pure=False).result()",
    ]
    path = tmp_path / "dask.ipynb"
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), path
    )
    result = run_notebook(path, progress=None)
    assert not result.failures, result.failures
    last = next(r for r in reversed(result.records) if r.kind != SHARE_KIND)
    share = next(
        r for r in result.records if r.kind == SHARE_KIND and r.cluster.late_for == last.id
    )
    assert sum(h.task_s for h in share.cluster.hosts) == pytest.approx(0.4, abs=0.25), share.flags


def test_one_meter_per_host_identity_and_a_takeover(tmp_path):
    from jupyter_carbon.cluster.host import HostMeter, host_identity

    env = {"JUPYTER_CARBON_LOCK_DIR": str(tmp_path), "JUPYTER_CARBON_POWER": "cpu:10,ram:2"}
    first, second, elsewhere = (
        HostMeter("node-1", env),
        HostMeter("node-1", env),
        HostMeter("node-2", env),
    )
    try:
        assert first.try_lead() and not second.try_lead()  # same host: one meter
        assert elsewhere.try_lead()  # another identity: its own meter
        assert second.reading() is None and first.reading()["sources"][0][2] == "constant"
        first_id = first.id
        first.shutdown()  # its worker died: the lock is free
        assert second.try_lead() and second.reading()["id"] not in (first_id, None)
    finally:
        for meter in (first, second, elsewhere):
            meter.shutdown()
    assert host_identity({"JUPYTER_CARBON_HOST": " gpu-node-7 "}) == "gpu-node-7"


def test_another_users_lock_or_symlink_never_stops_our_meter(tmp_path, monkeypatch):
    import fcntl

    from jupyter_carbon.cluster.host import HostMeter

    shared = tmp_path / "tmp"  # a shared temporary folder (sticky, world-writable)
    shared.mkdir(mode=0o1777)
    shared.chmod(0o1777)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    env = {"JUPYTER_CARBON_LOCK_DIR": str(shared), "JUPYTER_CARBON_POWER": "cpu:10,ram:2"}
    other = 65534  # nobody: we run as root, so we can plant what another user would
    # another user planted a symlink where a fixed lock name would be, and holds a lock there
    victim = tmp_path / "victim"
    (shared / "jupyter_carbon-node-1.lock").symlink_to(victim)
    held = os.open(shared / "jupyter_carbon-node-2.lock", os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    first, second = HostMeter("node-1", env), HostMeter("node-2", env)
    try:
        assert first.try_lead() and second.try_lead()  # neither symlink nor lock stops us
        assert not victim.exists()  # and we created nothing of theirs
        folder = Path(first.lock_path).parent
        assert folder == shared / f"jupyter_carbon-{os.geteuid()}"
        assert folder.stat().st_mode & 0o777 == 0o700
        assert Path(first.lock_path).stat().st_mode & 0o777 == 0o600
        assert first.reading()["readings"] and not first.problems
    finally:
        first.shutdown(), second.shutdown()
        os.close(held)
    # our per-user folder name taken by another user (before we ever ran): our cache is used
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    folder.mkdir(mode=0o777)
    os.chown(folder, other, other)
    third = HostMeter("node-1", env)
    try:
        assert third.try_lead() and third.reading() is not None
        assert Path(third.lock_path).parent == tmp_path / "home/.cache/jupyter_carbon/locks"
        assert "belongs to user 65534" in third.lock_refused[0]
    finally:
        third.shutdown()
    # a symlink in place of our folder, or of a lock file in it, is never followed
    folder.rmdir()
    folder.symlink_to(tmp_path / "elsewhere")
    home_lock = Path(third.lock_path)
    home_lock.unlink()
    home_lock.symlink_to(victim)
    fourth = HostMeter("node-1", env)
    try:
        assert not fourth.try_lead() and fourth.reading() is None  # no worker raises
        assert not victim.exists() and not (tmp_path / "elsewhere").exists()
        assert "no usable lock folder" in fourth.problems[0]
    finally:
        fourth.shutdown()


def test_the_cluster_part_is_a_record_field_through_the_log_and_the_csv(tmp_path):
    import csv
    import dataclasses

    from storage_helpers import make_record

    from jupyter_carbon.record import RecordError, WindowRecord
    from jupyter_carbon.storage.export import export_records

    host = HostPart(
        "host-a",
        Energy(6.0, 5.0, 7.0),
        False,
        ("cpu-model",),
        host_j=10.0,
        idle_j=3.0,
        others_j=1.0,
        task_s=2.0,
        workers=2,
    )
    record = dataclasses.replace(
        make_record(1), cluster=ClusterPart(hosts=(host,), scheduler="tcp://s:8786")
    )
    again = WindowRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again == record and again.cluster.hosts[0].idle_j == 3.0
    row = next(csv.DictReader(open(export_records([record], tmp_path / "c.csv"), encoding="utf-8")))
    assert (
        float(row["cluster_energy_j"]) == 6.0
        and float(row["cluster_idle_j"]) == 3.0
        and row["cluster_hosts"] == "host-a"
    )
    assert float(row["cluster_co2e_g"]) == pytest.approx(record.co2e_g_of(6.0))
    bad = record.to_dict()
    bad["cluster"]["hosts"][0]["energy_j"] = "lots"
    with pytest.raises(RecordError, match="cluster.hosts.*energy_j"):
        WindowRecord.from_dict(bad)
