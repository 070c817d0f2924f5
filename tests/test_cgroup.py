"""The cgroup reader on fake v1 and v2 trees, the container scope it feeds, and cloud DMI fixtures.

The real-cgroup test (a kernel moved into a CPU-limited cgroup, a neighbour burning CPU outside)
is in test_cgroup_real.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import jupyter_carbon
from jupyter_carbon.carbon_session import CarbonSession
from jupyter_carbon.config import Config
from jupyter_carbon.sources.cgroup import CgroupUnavailable, find_cgroup, parse_cpu_list, slurm_cpus
from jupyter_carbon.sources.cloud import AZURE_ASSET_TAG, detect_cloud
from jupyter_carbon.sources.cpu_model import TDP_CURVE

GiB = 1024**3


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def proc(tmp_path: Path, text: str) -> str:
    path = tmp_path / "proc_self_cgroup"
    path.write_text(text + "\n")
    return str(path)


# --- cgroup v2 ---------------------------------------------------------------------------------


def kubernetes_v2(root: Path) -> None:
    """A pod limited to 2 CPUs and 4 GiB on its own cgroup;
    the container's cgroup under it has no limit of its own."""
    write(root / "cgroup.controllers", "cpuset cpu io memory pids")
    pod = root / "kubepods.slice" / "kubepods-pod1.slice"
    write(pod / "cpu.max", "200000 100000")
    write(pod / "memory.max", str(4 * GiB))
    container = pod / "cri-containerd-abc.scope"
    write(container / "cpu.max", "max 100000")
    write(container / "memory.max", "max")
    write(container / "cpu.stat", "usage_usec 12500000\nuser_usec 10000000\nsystem_usec 2500000")
    write(container / "memory.current", str(3 * GiB))
    write(
        container / "memory.stat",
        f"anon {GiB}\nfile {2 * GiB}\ninactive_file {GiB}\nactive_file {GiB}",
    )
    write(container / "cpuset.cpus.effective", "0-63")


def test_v2_kubernetes_pod_limit_on_the_parent(tmp_path):
    kubernetes_v2(tmp_path / "cg")
    cg = find_cgroup(
        tmp_path / "cg",
        proc(tmp_path, "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-abc.scope"),
        environ={},
        host_cpus=64,
        host_memory_bytes=256 * GiB,
    )
    assert cg.version == 2 and cg.limited
    assert (
        cg.quota_cpus == 2 and cg.cpuset_cpus is None and cg.cpus == 2
    )  # cpuset 0-63 is the whole host
    assert cg.memory_limit_bytes == 4 * GiB
    assert cg.cpu_usage_s() == pytest.approx(12.5)
    assert cg.memory_used_bytes() == 2 * GiB  # working set: current minus inactive file cache
    assert "CPU quota 2" in cg.describe() and "memory limit 4 GiB" in cg.describe()


@pytest.mark.parametrize(
    ("files", "proc_line", "host_cpus", "host_memory_bytes", "expected", "described"),
    [
        pytest.param(
            {
                "cgroup.controllers": "cpu memory",
                "cpu.max": "150000 100000",
                "cpu.stat": "usage_usec 1000",
                "memory.current": str(GiB),
                "memory.max": "max",
            },
            "0::/",
            8,
            32 * GiB,
            {"limited": True, "cpus": 1.5, "memory_limit_bytes": None},
            None,
            id="docker_with_its_own_namespace_is_the_mount_root",
        ),
        pytest.param(
            {
                "cgroup.controllers": "cpuset cpu",
                "job/cpu.max": "max 100000",
                "job/cpu.stat": "usage_usec 0",
                "job/cpuset.cpus.effective": "0-3,8,10-11",
            },
            "0::/job",
            16,
            64 * GiB,
            {"cpuset_cpus": 7, "cpus": 7, "limited": True},
            "cpuset of 7 CPUs",
            id="cpuset_only",
        ),
        pytest.param(
            {
                "cgroup.controllers": "cpu memory",
                "user.slice/cpu.max": "max 100000",
                "user.slice/memory.max": "max",
                "user.slice/cpu.stat": "usage_usec 5",
            },
            "0::/user.slice",
            4,
            8 * GiB,
            {"limited": False, "cpus": 4},
            "no CPU or memory limit",
            id="no_limit_is_not_limited",
        ),
    ],
)
def test_v2_limits(tmp_path, files, proc_line, host_cpus, host_memory_bytes, expected, described):
    root = tmp_path / "cg"
    for name, text in files.items():
        write(root / name, text)
    cg = find_cgroup(
        root,
        proc(tmp_path, proc_line),
        environ={},
        host_cpus=host_cpus,
        host_memory_bytes=host_memory_bytes,
    )
    assert {name: getattr(cg, name) for name in expected} == expected
    if described is not None:
        assert described in cg.describe()


def test_memory_limit_alone_makes_it_limited(tmp_path):
    root = tmp_path / "cg"
    write(root / "cgroup.controllers", "memory")
    write(root / "nb" / "memory.max", str(2 * GiB))
    write(root / "nb" / "memory.current", str(GiB))
    cg = find_cgroup(
        root, proc(tmp_path, "0::/nb"), environ={}, host_cpus=4, host_memory_bytes=8 * GiB
    )
    assert cg.limited and cg.cpus == 4 and cg.memory_limit_bytes == 2 * GiB
    with pytest.raises(CgroupUnavailable):
        cg.cpu_usage_s()  # no cpu controller here: the container scope reports it cannot be used


# --- cgroup v1 ---------------------------------------------------------------------------------


def test_v1_docker_comounted_cpu_cpuacct_without_namespace(tmp_path):
    """v1 Docker: /proc/self/cgroup names /docker/<id>, which is mounted at the controller's
    root."""
    root = tmp_path / "cg"
    write(root / "cpu,cpuacct" / "cpu.cfs_quota_us", "150000")
    write(root / "cpu,cpuacct" / "cpu.cfs_period_us", "100000")
    write(root / "cpu,cpuacct" / "cpuacct.usage", "2500000000")
    write(root / "memory" / "memory.limit_in_bytes", str(2 * GiB))
    write(root / "memory" / "memory.usage_in_bytes", str(GiB))
    write(root / "memory" / "memory.stat", f"cache 100\ntotal_inactive_file {GiB // 4}")
    text = (
        "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n"
        "0::/system.slice/containerd.service"
    )
    cg = find_cgroup(
        root, proc(tmp_path, text), environ={}, host_cpus=32, host_memory_bytes=128 * GiB
    )
    assert cg.version == 1 and cg.quota_cpus == 1.5 and cg.memory_limit_bytes == 2 * GiB
    assert cg.cpu_usage_s() == pytest.approx(2.5)
    assert cg.memory_used_bytes() == GiB - GiB // 4


def test_v1_separate_hierarchies_nested_path(tmp_path):
    """This machine's layout: cpu and cpuacct mounted apart, the cgroup a folder below each."""
    root = tmp_path / "cg"
    write(root / "cpu" / "cpu.cfs_quota_us", "-1")
    write(root / "cpu" / "cpu.cfs_period_us", "100000")
    write(root / "cpu" / "lab" / "cpu.cfs_quota_us", "50000")
    write(root / "cpu" / "lab" / "cpu.cfs_period_us", "100000")
    write(root / "cpuacct" / "lab" / "cpuacct.usage", "7000000000")
    write(root / "memory" / "memory.limit_in_bytes", "9223372036854771712")  # v1's "unlimited"
    write(root / "memory" / "lab" / "memory.limit_in_bytes", "9223372036854771712")
    write(root / "memory" / "lab" / "memory.usage_in_bytes", str(GiB))
    text = "4:memory:/lab\n2:cpuacct:/lab\n1:cpu:/lab\n0::/"
    cg = find_cgroup(root, proc(tmp_path, text), environ={}, host_cpus=2, host_memory_bytes=8 * GiB)
    assert cg.quota_cpus == 0.5 and cg.memory_limit_bytes is None and cg.limited
    assert cg.cpu_usage_s() == pytest.approx(7.0)


def test_v1_slurm_job_cpuset_and_environment(tmp_path):
    root = tmp_path / "cg"
    step = root / "cpuset" / "slurm" / "uid_1000" / "job_42" / "step_0"
    write(step / "cpuset.cpus", "0-3")
    write(root / "cpuacct" / "slurm" / "uid_1000" / "job_42" / "step_0" / "cpuacct.usage", "0")
    path = "/slurm/uid_1000/job_42/step_0"
    text = f"5:memory:{path}\n3:cpuset:{path}\n2:cpuacct:{path}"
    env = {"SLURM_JOB_ID": "42", "SLURM_CPUS_ON_NODE": "4"}
    cg = find_cgroup(
        root, proc(tmp_path, text), environ=env, host_cpus=64, host_memory_bytes=512 * GiB
    )
    assert cg.cpuset_cpus == 4 and cg.slurm_cpus == 4 and cg.cpus == 4
    assert cg.describe().startswith("SLURM job 42, cgroup v1 /slurm/uid_1000/job_42/step_0")


def test_slurm_environment_alone_sizes_the_job(tmp_path):
    root = tmp_path / "cg"
    write(root / "cpuacct" / "cpuacct.usage", "0")
    cg = find_cgroup(
        root,
        proc(tmp_path, "2:cpuacct:/"),
        environ={"SLURM_JOB_ID": "7", "SLURM_JOB_CPUS_PER_NODE": "8(x2)"},
        host_cpus=64,
        host_memory_bytes=GiB,
    )
    assert cg.limited and cg.cpus == 8 and "8 CPUs allocated by SLURM" in cg.describe()


def test_helpers():
    assert parse_cpu_list("0-3,8,10-11") == 7 and parse_cpu_list("5") == 1
    assert (
        slurm_cpus({}) is None
        and slurm_cpus({"SLURM_JOB_ID": "1", "SLURM_CPUS_ON_NODE": "12"}) == 12
    )


def test_no_cgroup_at_all_says_why(tmp_path):
    with pytest.raises(CgroupUnavailable, match="cannot read"):
        find_cgroup(tmp_path, str(tmp_path / "absent"), environ={})
    with pytest.raises(CgroupUnavailable, match="no cgroup"):
        find_cgroup(tmp_path / "empty", proc(tmp_path, ""), environ={})


# --- the container scope in a session ----------------------------------------------------------
# (fake v2 tree at the root, which any /proc/self/cgroup reaches)


class FakeCgroup:
    """A v2 cgroup at ``root`` limited to ``cpus`` with a memory counter;
    the test moves its counters."""

    def __init__(self, root: Path, cpus: float, memory_bytes: int = GiB) -> None:
        self.root = root
        write(root / "cgroup.controllers", "cpu memory")
        write(root / "cpu.max", f"{int(cpus * 100000)} 100000")
        write(root / "memory.max", str(2 * GiB))
        self.usage_s = 0.0
        self.memory_bytes = memory_bytes
        self._write()

    def _write(self) -> None:
        write(self.root / "cpu.stat", f"usage_usec {int(self.usage_s * 1e6)}")
        write(self.root / "memory.current", str(self.memory_bytes))

    def burn(self, cpu_s: float) -> None:
        self.usage_s += cpu_s
        self._write()


def _supports_v2_fake() -> bool:
    try:
        return any(line.startswith("0::") for line in open("/proc/self/cgroup"))
    except OSError:
        return False


needs_linux_cgroup_line = pytest.mark.skipif(
    not _supports_v2_fake(), reason="/proc/self/cgroup has no '0::' line (not Linux)"
)


@needs_linux_cgroup_line
def test_auto_scope_is_container_sized_to_the_quota(tmp_path, clock, no_pynvml):
    import os

    host_cpus = os.cpu_count() or 1
    cg = FakeCgroup(tmp_path / "cg", cpus=0.5)
    session = CarbonSession(
        Config(
            cgroup_root=str(tmp_path / "cg"), powercap_root=str(tmp_path / "none"), intensity=100
        ),
        clock=clock,
        threaded=False,
    )
    try:
        assert session.scope == "container" and "CPU quota 0.5" in session.scope_reason
        host = next(s for s in session.detection.sources if s.component == "cpu")
        per_cpu_w = host.tdp_w / host_cpus
        # a sleeping cell: idle power of half a CPU, whatever the host does
        m = session.open("sleep")
        clock.advance(10.0)
        sleeping = session.stop(m)
        assert sleeping.scope == "container" and sleeping.scope_reason == session.scope_reason
        assert sleeping.components["cpu"].energy_j == pytest.approx(
            per_cpu_w * 0.5 * TDP_CURVE.idle * 10.0, rel=1e-6
        )
        assert sleeping.components["ram"].energy_j == pytest.approx(
            0.375 * 1.0 * 10.0, rel=1e-6
        )  # 1 GiB in the cgroup
        # a busy cell: the cgroup uses its whole quota
        m = session.open("busy")
        clock.advance(10.0)
        cg.burn(5.0)
        busy = session.stop(m)
        assert busy.components["cpu"].energy_j == pytest.approx(
            per_cpu_w * 0.5 * TDP_CURVE.full * 10.0, rel=1e-6
        )
        # the same cell measured at machine scope is the whole host's model
        m = session.open("machine", scope="machine")
        clock.advance(1.0)
        machine = session.stop(m)
        assert machine.scope == "machine" and machine.scope_reason == "set by the user"
    finally:
        session.shutdown()


def _unlimited_v2_session(tmp_path, clock, **config):
    """A session in a cgroup v2 tree whose cgroup limits nothing (no quota, no memory limit)."""
    root = tmp_path / "cg"
    write(root / "cgroup.controllers", "cpu memory")
    write(root / "cpu.max", "max 100000")
    write(root / "cpu.stat", "usage_usec 0")
    return CarbonSession(
        Config(cgroup_root=str(root), powercap_root=str(tmp_path / "none"), **config),
        clock=clock,
        threaded=False,
    )


@needs_linux_cgroup_line
def test_no_limit_keeps_machine_scope_and_says_why(tmp_path, clock, no_pynvml):
    session = _unlimited_v2_session(tmp_path, clock)
    try:
        assert session.scope == "machine" and session.scope_reason.startswith(
            "auto: no CPU or memory limit"
        )
        from jupyter_carbon.display.text import format_load_line, format_status

        assert "scope machine (auto: no CPU or memory limit" in format_load_line(session)
        assert "scope machine (auto: no CPU or memory limit" in format_status(session)
        m = session.open(
            "c", scope="container"
        )  # asked for per cell: nothing to attribute, so the machine, saying why
        clock.advance(1.0)
        record = session.stop(m)
        assert record.scope == "machine" and "container scope asked for" in record.scope_reason
        assert session.detection.scoped == []  # no container sources read at every window
    finally:
        session.shutdown()


@needs_linux_cgroup_line
def test_container_setting_charges_an_unlimited_cgroup(tmp_path, clock, no_pynvml):
    session = _unlimited_v2_session(tmp_path, clock, scope="container")
    try:
        assert session.scope == "container" and session.scope_reason.startswith("set by the user")
        m = session.open("c")
        clock.advance(1.0)
        assert session.stop(m).scope == "container"
    finally:
        session.shutdown()


def test_container_asked_for_without_cgroup_falls_back_with_reason(tmp_path, clock, no_pynvml):
    session = CarbonSession(
        Config(
            scope="container",
            cgroup_root=str(tmp_path / "absent"),
            powercap_root=str(tmp_path / "none"),
        ),
        clock=clock,
        threaded=False,
    )
    try:
        assert session.scope == "machine" and "no readable cgroup counters" in session.scope_reason
        assert "cgroup" in session.detection.skipped
    finally:
        session.shutdown()


@needs_linux_cgroup_line
def test_rapl_host_power_is_split_by_the_same_rule(tmp_path, clock, no_pynvml):
    """Measured host power, split: idle part by CPU count, the rest by CPU time, RAM by memory."""
    from fakes import FakePowercap

    cap = FakePowercap(tmp_path / "rapl", sockets=1, dram=True)
    cg = FakeCgroup(tmp_path / "cg", cpus=1.0, memory_bytes=2 * GiB)
    session = CarbonSession(
        Config(cgroup_root=str(tmp_path / "cg"), powercap_root=str(tmp_path / "rapl")),
        clock=clock,
        threaded=False,
    )
    try:
        view = next(s for s in session.detection.scoped if s.component == "cpu")
        share = view._share
        host_busy = {"s": 0.0}
        share._host_cpu_s = lambda: (host_busy["s"], 0.0)
        share._ram_used_gb = lambda: 8.0  # the host uses 8 GB, the cgroup 2 GiB
        share.restart()  # forget the counters read with the real host reader
        n_host = share.cgroup.host_cpus
        i = TDP_CURVE.idle_share
        if n_host < 2:
            pytest.skip("needs a host with more CPUs than the 1-CPU fake quota")
        m = session.open("split")
        cap.advance(10.0, {"package-0": 60.0, "dram-0": 8.0})
        clock.advance(10.0)
        host_busy["s"] += 12.0  # the host did 12 CPU-seconds of work, the cgroup 4 of them
        cg.burn(4.0)
        record = session.stop(m)
        expected_share = (i * 1 * 10.0 + (1 - i) * 4.0) / (i * n_host * 10.0 + (1 - i) * 12.0)
        assert record.components["cpu"].energy_j == pytest.approx(600.0 * expected_share, rel=1e-6)
        assert record.components["cpu"].measured
        assert record.components["ram"].energy_j == pytest.approx(
            80.0 * (2 * GiB / GiB) / 8.0, rel=1e-6
        )
    finally:
        session.shutdown()


# --- clouds from DMI ----------------------------------------------------------------------------


def dmi(root: Path, **files: str) -> Path:
    for name, text in files.items():
        write(root / name, text)
    return root


@pytest.mark.parametrize(
    "files, key, pue",
    [
        (
            {"sys_vendor": "Amazon EC2", "product_name": "m5.large", "bios_vendor": "Amazon EC2"},
            "aws",
            1.135,
        ),
        (
            {"sys_vendor": "Xen", "product_name": "HVM domU", "bios_version": "4.11.amazon"},
            "aws",
            1.135,
        ),
        (
            {
                "sys_vendor": "Google",
                "product_name": "Google Compute Engine",
                "bios_vendor": "Google",
            },
            "gcp",
            1.1,
        ),
        (
            {
                "sys_vendor": "Microsoft Corporation",
                "product_name": "Virtual Machine",
                "chassis_asset_tag": AZURE_ASSET_TAG,
            },
            "azure",
            1.185,
        ),
    ],
)
def test_cloud_providers_from_dmi(tmp_path, files, key, pue):
    provider = detect_cloud(dmi(tmp_path, **files))
    assert provider is not None and provider.key == key and provider.pue == pue
    assert 0 < provider.min_w_per_vcpu < provider.max_w_per_vcpu


@pytest.mark.parametrize(
    "files",
    [
        {
            "sys_vendor": "Microsoft Corporation",
            "product_name": "Virtual Machine",
            "chassis_asset_tag": "None",
        },  # Hyper-V, not Azure
        {"sys_vendor": "Dell Inc.", "product_name": "PowerEdge R640"},
        {},
    ],
)
def test_other_machines_are_not_clouds(tmp_path, files):
    assert detect_cloud(dmi(tmp_path, **files)) is None


def test_cloud_vm_uses_provider_watts_and_pue(tmp_path, clock, no_pynvml):
    import os

    root = dmi(tmp_path / "dmi", sys_vendor="Amazon EC2", product_name="c5.xlarge")
    session = CarbonSession(
        Config(
            dmi_root=str(root),
            powercap_root=str(tmp_path / "none"),
            cgroup_root=str(tmp_path / "nocg"),
        ),
        clock=clock,
        threaded=False,
    )
    try:
        cpu = next(s for s in session.detection.sources if s.component == "cpu")
        threads = os.cpu_count() or 1
        assert cpu.tdp_w == pytest.approx(3.5 * threads)
        assert cpu.curve.fractions(0.0)[0] * cpu.tdp_w == pytest.approx(0.74 * threads)
        assert session.config.pue == 1.135
        assert any(
            "AWS VM (DMI)" in n and "Cloud Carbon Footprint" in n for n in session.detection.notes
        )
        session.configure(pue=1.0)  # the user's choice wins from then on
        assert session.config.pue == 1.0
    finally:
        session.shutdown()


def test_fifo_in_a_cgroup_tree_does_not_hang(tmp_path):
    import os
    import threading

    root = tmp_path / "cg"
    kubernetes_v2(root)
    stat = root / "kubepods.slice" / "kubepods-pod1.slice" / "cri-containerd-abc.scope" / "cpu.stat"
    stat.unlink()
    os.mkfifo(stat)
    out = {}
    path = proc(tmp_path, "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-abc.scope")
    thread = threading.Thread(
        target=lambda: out.setdefault(
            "cg", find_cgroup(root, path, environ={}, host_cpus=64, host_memory_bytes=256 * GiB)
        ),
        daemon=True,
    )
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the cgroup reader hung on a FIFO"
    with pytest.raises(
        (OSError, CgroupUnavailable)
    ):  # no counter to read: the container scope says so
        out["cg"].cpu_usage_s()


@needs_linux_cgroup_line
def test_load_line_status_and_records_in_a_real_shell(
    tmp_path, monkeypatch, _shell, capfd, no_pynvml
):
    """%load_ext in a fake 1-CPU cgroup: the load line, %carbon status and the record say container,
    and why."""
    from jupyter_carbon.carbon_session import reset_session

    FakeCgroup(tmp_path / "cg", cpus=1.0)
    monkeypatch.setenv("JUPYTER_CARBON_CGROUP_ROOT", str(tmp_path / "cg"))
    monkeypatch.setenv("JUPYTER_CARBON_POWERCAP_ROOT", str(tmp_path / "none"))
    reset_session()
    _shell.run_line_magic("load_ext", "jupyter_carbon")
    try:
        out, _ = capfd.readouterr()
        assert (
            "scope container (auto: the kernel runs in a limiting cgroup (cgroup v2 " in out
            and "CPU quota 1" in out
        )
        _shell.run_cell("%carbon status")
        out, _ = capfd.readouterr()
        assert "(estimated, container scope)" in out and "scope container (auto:" in out
        _shell.run_cell("%%carbon --quiet\nx = 1")
        _shell.run_cell("%%carbon --quiet --scope machine\nx = 2")
        first, second = jupyter_carbon.session().records[-2:]
        assert first.scope == "container" and "CPU quota 1" in first.scope_reason
        assert second.scope == "machine" and second.scope_reason == "set by the user"
    finally:
        _shell.run_line_magic("unload_ext", "jupyter_carbon")
        reset_session()


def test_the_container_ram_share_is_read_at_most_once_per_refresh(tmp_path):
    from types import SimpleNamespace

    from jupyter_carbon.sources.scope import ContainerShare

    write(tmp_path / "cpu.stat", "usage_usec 0")
    reads = []
    cgroup = SimpleNamespace(
        version=2, cpu_usage_file=tmp_path / "cpu.stat", memory_dir=tmp_path, cpus=1.0, host_cpus=2,
        memory_used_bytes=lambda: reads.append(1) or GiB,
    )  # fmt: skip
    share = ContainerShare(
        cgroup, host_cpu_s=lambda: (0.0, 0.0), ram_used_gb=lambda: 4.0, refresh_s=1.0
    )
    for now_s in (0.0, 0.001, 0.3, 0.9, 1.0, 1.5, 2.2):  # window starts and stops, ticks
        assert share.shares(now_s)[1] == pytest.approx(0.25)  # 1 GiB of the machine's 4 GiB in use
    assert len(reads) == 3  # at 0, 1.0 and 2.2 s, not at every snapshot


@needs_linux_cgroup_line
def test_closing_the_session_closes_the_container_counters(tmp_path, clock, no_pynvml):
    session = _unlimited_v2_session(
        tmp_path, clock, scope="container", power={"cpu": 10.0, "ram": 2.0}
    )
    from jupyter_carbon.sources.scope import ContainerShare

    shares = {
        id(s._share): s._share
        for s in session.detection.scoped
        if isinstance(getattr(s, "_share", None), ContainerShare)
    }
    assert shares, "user-set watts at container scope are split by a container share"
    files = [share._usage_s._file for share in shares.values()]
    assert all(f._fd >= 0 for f in files)
    session.shutdown()
    assert all(
        f._fd == -1 for f in files
    )  # released at shutdown, not left to the garbage collector


# --- hostile cgroup files ------------------------------------------------------------------------


def _v2_tree(tmp_path: Path, **files: str) -> Path:
    """A cgroup v2 tree with this process in ``nb``, holding ``files`` (``_`` for ``.``)."""
    root = tmp_path / "cg"
    write(root / "cgroup.controllers", "cpuset cpu memory")
    write(root / "nb" / "cpu.stat", "usage_usec 0")
    write(root / "nb" / "memory.current", str(GiB))
    for name, text in files.items():
        write(root / "nb" / name.replace("_", "."), text)
    return root


@pytest.mark.parametrize(
    ("name", "text", "why"),
    [
        ("cpu_max", "-100000 100000", "not a positive quota"),  # before: -1 CPUs
        ("cpu_max", "0 100000", "not a positive quota"),  # before: a "CPU quota 0" limit
        ("cpu_max", "100000 0", "not a positive quota"),  # before: ZeroDivisionError
        ("cpuset_cpus_effective", "7-0", "runs backwards"),  # before: -6 CPUs
        ("memory_max", "-1", "not a positive number"),  # before: "memory limit -9.31e-10 GiB"
        ("memory_max", "0", "not a positive number"),
    ],
)
def test_a_value_that_is_not_a_limit_is_refused_with_a_reason(tmp_path, name, text, why):
    root = _v2_tree(tmp_path, **{name: text})
    cg = find_cgroup(
        root, proc(tmp_path, "0::/nb"), environ={}, host_cpus=8, host_memory_bytes=32 * GiB
    )
    assert not cg.limited and cg.cpus == 8 and cg.memory_limit_bytes is None
    assert cg.refused and why in cg.refused[0] and repr(text) in cg.refused[0]
    assert f"ignored: {name.replace('_', '.')} {text!r}" in cg.describe()


def test_v1_quota_zero_and_period_zero_are_refused(tmp_path):
    root = tmp_path / "cg"
    write(root / "cpu,cpuacct" / "nb" / "cpu.cfs_quota_us", "0")
    write(root / "cpu,cpuacct" / "nb" / "cpu.cfs_period_us", "100000")
    write(root / "cpu,cpuacct" / "nb" / "cpuacct.usage", "0")
    write(root / "cpu,cpuacct" / "cpu.cfs_quota_us", "50000")
    write(root / "cpu,cpuacct" / "cpu.cfs_period_us", "0")
    cg = find_cgroup(
        root,
        proc(tmp_path, "4:cpu,cpuacct:/nb"),
        environ={},
        host_cpus=8,
        host_memory_bytes=32 * GiB,
    )
    assert not cg.limited and cg.cpus == 8 and len(cg.refused) == 2


def test_a_hostile_quota_never_gives_negative_energy(tmp_path, clock, no_pynvml):
    """``cpu.max "-100000 100000"`` sized the container to -1 CPUs: negative energy."""
    root = tmp_path / "cg"  # the session reads this process's /proc/self/cgroup: namespaced
    write(root / "cgroup.controllers", "cpu memory")
    write(root / "cpu.max", "-100000 100000")
    write(root / "cpu.stat", "usage_usec 0")
    write(root / "memory.current", str(GiB))
    session = CarbonSession(
        Config(cgroup_root=str(root), powercap_root=str(tmp_path / "none"), scope="container"),
        clock=clock,
        threaded=False,
    )
    try:
        assert session.scope == "container"
        m = session.open("cell")
        clock.advance(5.0)
        record = session.stop(m)
        assert all(d.energy_j >= 0 for d in record.devices) and record.energy_j > 0
    finally:
        session.shutdown()


def test_a_cgroup_path_that_leaves_the_mount_is_refused(tmp_path):
    """``/proc/self/cgroup`` naming ``/../secret``: the reader went outside the cgroup root."""
    root = _v2_tree(tmp_path)
    write(tmp_path / "secret" / "cpu.max", "50000 100000")  # outside the mount
    write(tmp_path / "secret" / "cpu.stat", "usage_usec 0")
    with pytest.raises(CgroupUnavailable, match="leaves the cgroup mount"):
        find_cgroup(
            root, proc(tmp_path, "0::/../secret"), environ={}, host_cpus=8, host_memory_bytes=GiB
        )
