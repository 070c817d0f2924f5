"""A real kernel in a real CPU-limited cgroup, with a real neighbour burning a CPU outside it.

Needs root and a writable cgroup hierarchy (v1 ``cpu``/``cpuacct`` controllers, or v2 with the
``cpu`` controller delegated); skips with the reason otherwise. Every cgroup it creates is
removed, its processes moved back to the parent first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path("/sys/fs/cgroup")


class RealCgroup:
    """A cgroup limited to ``cpus`` CPUs (and ``memory_bytes`` where the memory controller is
    there), created under every hierarchy that needs it."""

    def __init__(self, name: str, cpus: float, memory_bytes: int) -> None:
        self.dirs: list[Path] = []
        self.memory_limited = False
        period = 100_000
        try:
            if (ROOT / "cgroup.controllers").is_file():  # v2
                if "cpu" not in (ROOT / "cgroup.subtree_control").read_text().split():
                    pytest.skip("cgroup v2 without the cpu controller delegated at the root")
                self._make(ROOT / name)
                (ROOT / name / "cpu.max").write_text(f"{int(cpus * period)} {period}")
                if (ROOT / name / "memory.max").is_file():
                    (ROOT / name / "memory.max").write_text(str(memory_bytes))
                    self.memory_limited = True
            else:  # v1: cpu and cpuacct, co-mounted or apart
                mounts = {
                    os.path.realpath(ROOT / c) for c in ("cpu", "cpuacct") if (ROOT / c).is_dir()
                }
                if not (ROOT / "cpu").is_dir() or not (ROOT / "cpuacct").is_dir():
                    pytest.skip(f"no cgroup v1 cpu/cpuacct controllers under {ROOT}")
                for mount in sorted(mounts):
                    self._make(Path(mount) / name)
                cpu_dir = Path(os.path.realpath(ROOT / "cpu")) / name
                (cpu_dir / "cpu.cfs_period_us").write_text(str(period))
                (cpu_dir / "cpu.cfs_quota_us").write_text(str(int(cpus * period)))
                if (ROOT / "memory" / "memory.limit_in_bytes").is_file():
                    self._make(ROOT / "memory" / name)
                    (ROOT / "memory" / name / "memory.limit_in_bytes").write_text(str(memory_bytes))
                    self.memory_limited = True
        except PermissionError as exc:
            self.remove()
            pytest.skip(f"cannot create cgroups here (not root?): {exc}")
        except OSError as exc:
            self.remove()
            pytest.skip(f"cannot create a CPU-limited cgroup under {ROOT}: {exc}")

    def _make(self, path: Path) -> None:
        path.mkdir()
        self.dirs.append(path)

    def add(self, pid: int) -> None:
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(pid))

    def remove(self) -> None:
        for d in reversed(self.dirs):
            try:
                for pid in (d / "cgroup.procs").read_text().split():
                    try:
                        (d.parent / "cgroup.procs").write_text(pid)
                    except OSError:
                        pass  # exited meanwhile
                d.rmdir()
            except OSError:
                pass
        self.dirs = []


def _value(kc, expression: str) -> str:
    reply = kc.execute_interactive("", timeout=60, user_expressions={"v": expression})
    data = reply["content"]["user_expressions"]["v"]
    assert data["status"] == "ok", data
    return data["data"]["text/plain"].strip("'\"")


def _cell(kc, code: str, component: str = "cpu") -> float:
    """Run a measured cell; its energy for ``component`` in J."""
    reply = kc.execute_interactive(code, timeout=120)
    assert reply["content"]["status"] == "ok", reply["content"]
    return _energy(kc, component)


def _energy(kc, component: str) -> float:
    return float(
        _value(kc, f"repr(jupyter_carbon.session().records[-1].components[{component!r}].energy_j)")
    )


SLEEP = "%%carbon --quiet\nimport time\ntime.sleep(3)"
SLEEP_MACHINE = "%%carbon --quiet --scope machine\nimport time\ntime.sleep(3)"
BUSY = "%%carbon --quiet\nimport time\nt0 = time.time()\nwhile time.time() - t0 < 3:\n    pass"


@pytest.mark.skipif(
    sys.platform != "linux" or os.geteuid() != 0, reason="real cgroups need Linux and root"
)
def test_sleeping_cell_in_a_limited_cgroup_ignores_the_neighbour(tmp_path):
    jupyter_client = pytest.importorskip("jupyter_client")
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs 2 CPUs: a 1-CPU quota on a 1-CPU host is no limit")
    cgroup = RealCgroup(f"jupyter_carbon_test_{os.getpid()}", cpus=1.0, memory_bytes=2 * 1024**3)
    env = dict(os.environ, JUPYTER_CARBON_LOG_DIR=str(tmp_path))
    km = jupyter_client.KernelManager(kernel_name="python3")
    created = list(cgroup.dirs)
    neighbour = None
    kc = None
    try:
        km.start_kernel(env=env, cwd=str(tmp_path))
        cgroup.add(km.provisioner.process.pid)  # before %load_ext: detection reads its cgroup
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        assert (
            kc.execute_interactive("%load_ext jupyter_carbon\nimport jupyter_carbon", timeout=60)[
                "content"
            ]["status"]
            == "ok"
        )
        assert _value(kc, "jupyter_carbon.session().scope") == "container"
        assert "CPU quota 1" in _value(kc, "jupyter_carbon.session().scope_reason")

        alone = _cell(kc, SLEEP)
        ram = _energy(kc, "ram")
        reason = _value(kc, "jupyter_carbon.session().records[-1].scope_reason")
        assert "CPU quota 1" in reason
        machine_alone = _cell(kc, SLEEP_MACHINE)
        machine_ram = _energy(kc, "ram")
        if cgroup.memory_limited:
            assert "memory limit 2 GiB" in reason
            assert 0 < ram < machine_ram  # the kernel's working set, not the host's memory in use
        neighbour = subprocess.Popen(
            [sys.executable, "-c", "while True: pass"]
        )  # outside the cgroup
        time.sleep(1.0)
        with_neighbour = _cell(kc, SLEEP)
        machine_with_neighbour = _cell(kc, SLEEP_MACHINE)
        neighbour.kill()
        neighbour.wait()
        neighbour = None
        busy = _cell(kc, BUSY)
        print(
            f"\nsleeping cell CPU energy, container scope: alone {alone:.3f} J, "
            f"neighbour burning {with_neighbour:.3f} J"
        )
        print(
            f"sleeping cell CPU energy, machine scope:   alone {machine_alone:.3f} J, "
            f"neighbour burning {machine_with_neighbour:.3f} J"
        )
        print(f"busy cell CPU energy, container scope: {busy:.3f} J")
        print(
            f"sleeping cell RAM energy: container scope {ram:.3f} J, "
            f"machine scope {machine_ram:.3f} J ({reason})"
        )
        assert alone > 0
        assert with_neighbour == pytest.approx(
            alone, rel=0.15
        )  # the neighbour's work is not charged
        assert busy > 4 * max(alone, with_neighbour)  # the cgroup's own work is
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
        if kc is not None:
            kc.stop_channels()
        km.shutdown_kernel(now=True)
        cgroup.remove()
    assert created and not any(d.exists() for d in created)  # every cgroup it made is gone
