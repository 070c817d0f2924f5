"""Attribution: a window's share of each host's energy, from worker reports at its start and end.
Pure.

Rule, per host, between each worker's reports at a window's start and end. Both come from one
round after the window ended (or, for a window open longer than the client lets go by, the start
from a round of its own while it was open): the round tells each worker how long before it was
sent the window started and ended (``d_start``, ``d_end`` on the client's monotonic clock), and
the worker takes its figures as of its own clock at the round's arrival minus each (``t_a -
d_start``, ``t_a - d_end``). Both ends are thus late by the round's one-way latency
(milliseconds) and the worker's span has the window's length, whenever the round comes (it may
run after the cell): the worker takes off the time tasks ran after each moment (it keeps each
ended task's start and stop), and the host's meter gives its energy at each moment interpolated
linearly between its readings either side (:mod:`.host`; at most one sampling interval apart:
the error is at most that interval's departure from its average power). A window's tasks all
start after it opened, so its own thread-seconds at its start are zero.

* ``host_j``: the host meter's energy delta (all sources of the host, as a local session reads
  them), over ``duration_s``.
* thread capacity = min(threads of the host's workers, the host's CPUs) × duration_s (never less
  than the busy thread-seconds: over-subscribed workers).
* the window is charged ``host_j × its tasks' thread-seconds / capacity``; all tasks' share
  minus the window's is ``others_j`` (other clients, other cells); the unused capacity is
  ``idle_j``. The three add up to ``host_j``: nothing counted twice, nothing dropped.

A worker present at the start and gone at the end died mid-window (the client adds it to the
start's reports when the scheduler says it left during the window): its tasks' time since the
start is missing and the host is flagged; the other workers and hosts are kept. A host whose
meter started after the window's start (its metering worker died and another took over) is
charged from the new meter's readings only, and flagged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from ..cluster_part import HostPart
from ..energy import Energy

__all__ = ["attribute", "missing_workers"]


def missing_workers(reports: Iterable[Any]) -> list[str]:
    """Lines for the workers whose answer was an error or that lack the plugin."""
    lines = []
    for address, report in _items(reports):
        if isinstance(report, BaseException):
            hint = (
                " — install it there: pip install 'jupyter-carbon[dask]'"
                if isinstance(report, ImportError) or "jupyter_carbon" in str(report)
                else ""
            )
            lines.append(f"worker {address}: {type(report).__name__}: {report}{hint}")
        elif isinstance(report, Mapping) and report.get("missing"):
            lines.append(f"worker {address}: {report['missing']}")
    return lines


def _items(reports: Any) -> list[tuple[str, Any]]:
    if isinstance(reports, Mapping):
        return list(reports.items())
    return [(getattr(r, "get", lambda k, d=None: d)("worker", "?"), r) for r in reports]


def _good(reports: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        a: r
        for a, r in reports.items()
        if isinstance(r, Mapping) and not r.get("missing") and "host" in r
    }


def attribute(
    begin: Mapping[str, Any], end: Mapping[str, Any], window_id: str, *, late: bool = False
) -> tuple[HostPart, ...]:
    """Per host, the window's share of the host's energy.

    ``begin``/``end``: worker address → report.
    """
    begin, end = _good(begin), _good(end)
    hosts: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for a, r in begin.items():
        hosts[r["host"]][0].append(a)
    for a, r in end.items():
        hosts[r["host"]][1].append(a)
    parts = []
    for host in sorted(hosts):
        b_addrs, e_addrs = hosts[host]
        parts.append(
            _host_part(
                host, {a: begin[a] for a in b_addrs}, {a: end[a] for a in e_addrs}, window_id, late
            )
        )
    return tuple(parts)


def _metering(reports: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The report of the worker that read the host's meter."""
    return next((r for r in reports.values() if r.get("meter")), None)


def _host_part(
    host: str,
    begin: Mapping[str, Mapping[str, Any]],
    end: Mapping[str, Mapping[str, Any]],
    window_id: str,
    late: bool,
) -> HostPart:
    flags: list[str] = []
    incidents: list[str] = []  # also in flags
    # time: any worker present at both ends (one host: one monotonic clock)
    both = [a for a in end if a in begin]
    if both:
        duration_s = max(end[a]["t_s"] - begin[a]["t_s"] for a in both)
    else:
        duration_s = 0.0
    # energy
    at_start, at_end = _metering(begin), _metering(end)
    me = at_end["meter"] if at_end is not None else None
    energy = Energy.ZERO
    methods: list[str] = []
    measured = False
    if me is not None:
        methods = sorted({s[2] for s in me["sources"]})
        measured = bool(me["sources"]) and all(s[3] for s in me["sources"])
        # the meter that read the end also read the start (it ran then already)
        mb: Mapping[str, Any] = at_start["meter"] if at_start is not None else {}
        same = (
            at_start is not None
            and mb["id"] == me["id"]
            and me.get("started_s", float("-inf")) <= at_start["t_s"]
        )
        now = me["readings"]
        then = mb["readings"] if same else [[0.0, 0.0, 0.0]] * len(now)
        for r_now, r_then in zip(now, then):  # [energy_j, low_j, high_j] each (plain data)
            energy += Energy(*r_now) - Energy(*r_then)
        if same:
            duration_s = max(duration_s, me["t_s"] - mb["t_s"])
        else:
            incidents.append(
                f"{host}: its meter started mid-window (a worker died or joined); "
                "energy before that is missing"
            )
            flags.append(incidents[-1])
        errors = [*(mb.get("errors", ()) if same and not late else ()), *me.get("errors", ())]
        flags.extend(f"{host}: {error}" for error in errors)
    else:
        flags.append(f"{host}: no worker could read the host's energy; its energy is missing")
    # thread-seconds
    task_s = busy_s = 0.0
    for report in [*([] if late else begin.values()), *end.values()]:
        flags.extend(f"{host}: {note}" for note in report.get("notes", ()))
    for address, report in end.items():
        before = begin.get(address)
        task_s += report["window_s"].get(window_id, 0.0) - (
            before["window_s"].get(window_id, 0.0) if before else 0.0
        )
        busy_s += report["busy_s"] - (before["busy_s"] if before else 0.0)
    died = sorted(a for a in begin if a not in end)
    for address in died:
        incidents.append(
            f"{host}: worker {address} died mid-window; "
            "its tasks since the window opened are missing, the rest is kept"
        )
        flags.append(incidents[-1])
    workers = end or begin
    threads = sum(int(r.get("nthreads", 1)) for r in workers.values())
    cpus = max(int(r.get("cpu_count", threads)) for r in workers.values()) if workers else threads
    # the window's tasks are busy time too: a task that started within the round's latency of the
    # window's start is all in ``task_s`` but partly before the busy time's start
    task_s = max(0.0, task_s)
    busy_s = max(busy_s, task_s)
    capacity_s = max(min(threads, cpus) * duration_s, busy_s, 1e-9)
    share = min(1.0, task_s / capacity_s)
    busy_share = min(1.0, busy_s / capacity_s)
    return HostPart(
        host=host,
        energy=energy * share,
        measured=measured,
        methods=tuple(methods),
        host_j=energy.energy_j,
        idle_j=energy.energy_j * (1.0 - busy_share),
        others_j=energy.energy_j * max(0.0, busy_share - share),
        task_s=task_s,
        busy_share=busy_share,
        workers=len(workers),
        late=late,
        flags=tuple(dict.fromkeys(flags)),  # the start's and the end's reports say some twice
        incidents=tuple(incidents),
    )
