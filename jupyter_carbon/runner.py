"""Execute a notebook in a real kernel with every cell measured (``jupyter-carbon run``).

The kernel gets ``JUPYTER_CARBON_LOG_DIR`` pointing at a private temporary folder; before the
notebook's cells, a *silent* execution (no history, no ``pre_run_cell``, no cell added to the
saved notebook) loads the extension and turns auto mode on. Each measured cell's record is in
the session log by the time its execute reply arrives (the log is written in ``post_run_cell``),
so the records are read back from that log. Notebooks that already ``%load_ext jupyter_carbon``
and use ``%%carbon`` work unchanged (the extension loads once; a cell opens one window).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .display.text import format_record_line
from .record import IDLE, WindowRecord
from .storage.reader import LogTail, log_files, merged, read_logs
from .textsafe import visible

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["RunResult", "RunError", "KernelNotFound", "run_notebook", "SETUP_CODE"]

# Loaded directly rather than by %load_ext: a notebook's own `%load_ext jupyter_carbon` then finds
# the extension loaded (load() is idempotent) and prints nothing, so the saved outputs look as
# usual.
SETUP_CODE = (
    "import jupyter_carbon as _jc\n"
    "_jc.load_ipython_extension(get_ipython())\n"
    "del _jc\n"
    "get_ipython().run_line_magic('carbon', 'on')\n"
)


class RunError(RuntimeError):
    """The notebook could not be run at all (kernel failed to start, extension not importable)."""


class KernelNotFound(RunError):
    """The kernel the notebook (or ``--kernel``) names is not installed here."""


@dataclass
class RunResult:
    notebook: NotebookNode
    #: the measured cells (and track() blocks) of the run
    records: list[WindowRecord] = field(default_factory=list)
    #: the kernel's idle stretches between them (kind "idle"), kept apart from the cells
    idle_records: list[WindowRecord] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # one line per failed cell
    stopped_early: bool = False
    notes: list[str] = field(default_factory=list)
    #: the run was stopped by Ctrl-C: what was measured until then is kept
    interrupted: bool = False
    #: the notebook changed the kernel's log_dir (``%carbon config log_dir=…``, or ``none``):
    #: cells measured after that are not in ``records``. Its value, as text.
    log_dir_changed: str | None = None


@contextmanager
def _environ(**values: str | None) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is not None:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _records(folder: Path) -> tuple[list[WindowRecord], list[WindowRecord], list[str]]:
    """(the windows, the idle stretches between them, notes) of the run's session logs."""
    records, notes = merged(read_logs(log_files(folder)))
    windows = [r for r in records if r.kind != IDLE]
    return windows, [r for r in records if r.kind == IDLE], notes


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = int(width * done / total) if total else width
    return "#" * filled + "-" * (width - filled)


def stderr_progress(
    done: int,
    total: int,
    cell_index: int,
    record: WindowRecord | None,
    failed: str | None,
    execution_count: int | None = None,
) -> None:
    """One line per cell on stderr, named by execution count as the table names it:
    ``3/12 cell [5]: carbon: 1.2 s · …``. On a terminal, a bar redrawn in place (``\r``) while a
    cell runs; elsewhere (a log file, CI) only the finished cells' lines, one each."""
    terminal = sys.stderr.isatty()
    if record is None and failed is None and done < total:
        if terminal:
            print(
                f"\r[{_bar(done, total)}] {done}/{total} running…",
                end="",
                file=sys.stderr,
                flush=True,
            )
        return
    what = (
        visible(failed)
        if failed
        else (format_record_line(record) if record is not None else "not measured")
    )
    name = f"cell [{execution_count}]" if execution_count is not None else "cell (not run)"
    head = f"\r[{_bar(done, total)}] " if terminal else ""
    print(f"{head}{done}/{total} {name}: {what}", file=sys.stderr, flush=True)


def _kernel_name(nb: NotebookNode, kernel: str | None) -> str:
    """The kernel to start: ``kernel`` when given, else the notebook's; KernelNotFound (with the
    kernels installed here) when it is not installed."""
    name = kernel or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    try:
        manager.get_kernel_spec(name)
    except NoSuchKernel:
        installed = ", ".join(sorted(manager.find_kernel_specs())) or "none"
        where = "" if kernel else "the notebook's kernelspec names "
        raise KernelNotFound(
            f"{where}kernel {name!r}, which is not installed here (installed: {installed}): "
            "choose one with --kernel NAME, e.g. --kernel python3"
        ) from None
    return name


#: Evaluated in the kernel at the end of a run: the log_dir in force there.
_LOG_DIR_EXPRESSION = "__import__('jupyter_carbon').session().config.log_dir"
#: Evaluated in the kernel at the end of a run, before it: the cells' Dask shares are measured
#: while the cluster is there (a LocalCluster made in the notebook ends with the kernel).
_SETTLE_EXPRESSION = (
    "__import__('jupyter_carbon.cluster.observer', fromlist=['settle_cluster'])"
    ".settle_cluster(__import__('jupyter_carbon').session())"
)


def _end_of_run(kc: Any) -> tuple[bool, str | None]:
    """At the end of a run, the kernel measures its cells' Dask shares still to come (its
    cluster may end with it), then says its log_dir in force: (whether it could be asked, that
    log_dir)."""
    import ast

    from nbclient.util import run_sync

    try:
        reply = run_sync(kc.execute_interactive)(
            "",
            silent=True,
            store_history=False,
            timeout=30,
            user_expressions={"settled": _SETTLE_EXPRESSION, "log_dir": _LOG_DIR_EXPRESSION},
            output_hook=lambda msg: None,
        )
        value = reply["content"]["user_expressions"]["log_dir"]
        if value.get("status") != "ok":
            return False, None
        return True, ast.literal_eval(value["data"]["text/plain"])
    except (TimeoutError, RuntimeError, KeyError, TypeError, ValueError, SyntaxError):
        return False, None


def _settle(kc: Any, timeout_s: float) -> bool:
    """Wait until the kernel has finished what it was running (a silent, empty execution queued
    behind it gets its reply); False when it did not within ``timeout_s``."""
    from nbclient.util import run_sync

    try:
        run_sync(kc.execute_interactive)(
            "", silent=True, store_history=False, timeout=timeout_s, output_hook=lambda msg: None
        )
    except (TimeoutError, RuntimeError):
        return False
    return True


async def _finish_interrupted(timeout_s: float) -> None:
    """Let the cell execution that Ctrl-C left pending (its task is still on the loop) receive
    the interrupted kernel's reply and outputs; what it raises is expected and dropped."""
    import asyncio

    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if tasks:
        await asyncio.wait(tasks, timeout=timeout_s)
    for task in tasks:
        if task.done():
            if not task.cancelled():
                task.exception()  # retrieved: no "Task exception was never retrieved"
        else:
            task.cancel()


def run_notebook(
    path: str | os.PathLike,
    *,
    region: str | None = None,
    timeout_s: float | None = None,
    allow_errors: bool = False,
    kernel: str | None = None,
    progress: Callable[..., object] | None = stderr_progress,
) -> RunResult:
    """Run the notebook at ``path`` (its folder is the working directory) in ``kernel`` (default:
    the notebook's); the caller validates inputs. The kernel is shut down before this returns.

    A cell running longer than ``timeout_s`` is interrupted and counts as failed (its record,
    the seconds it ran, is kept); with ``allow_errors`` the run goes on after it. Ctrl-C stops the
    run: the kernel is interrupted and shut down, and what was measured until then is returned
    (``interrupted`` set) rather than lost."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError
    from nbclient.util import run_sync

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    result = RunResult(nb)
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    kernel_name = _kernel_name(nb, kernel)
    log_dir = Path(tempfile.mkdtemp(prefix="jupyter_carbon-run-"))
    # IPC sockets in our own temp folder: the kernel and this process share the machine, so no TCP
    # port is opened (and ipykernel ≥ 7.3 does not warn about unencrypted TCP on every run).
    from jupyter_client.manager import AsyncKernelManager

    km = AsyncKernelManager(kernel_name=kernel_name, transport="ipc", ip=str(log_dir / "kernel"))
    client = NotebookClient(
        nb,
        km=km,
        timeout=timeout_s,
        allow_errors=False,
        interrupt_on_timeout=True,
        error_on_timeout={
            "ename": "CellTimeoutError",
            "evalue": f"the cell ran longer than {timeout_s:g} s (--timeout) and was interrupted"
            if timeout_s
            else "timed out",
            "traceback": [],
        },
        resources={"metadata": {"path": str(path.parent.absolute())}},
    )
    executed: list[int] = []
    try:
        with (
            _environ(JUPYTER_CARBON_LOG_DIR=str(log_dir), JUPYTER_CARBON_REGION=region),
            client.setup_kernel(cleanup_kc=True),  # shut the kernel down at the end: no orphan
        ):
            setup_errors: list[str] = []

            def hook(msg: dict) -> None:
                if msg["msg_type"] == "error":
                    setup_errors.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

            kc = client.kc
            if kc is None:
                raise RunError("nbclient started no kernel client")
            # nbclient types kc as the base KernelClient; the one it makes is an AsyncKernelClient
            execute = kc.execute_interactive  # type: ignore[attr-defined]
            reply = run_sync(execute)(
                SETUP_CODE, silent=True, store_history=False, timeout=120, output_hook=hook
            )
            if reply["content"].get("status") != "ok" or setup_errors:
                raise RunError(
                    "the kernel could not load jupyter_carbon "
                    f"({'; '.join(setup_errors) or reply['content'].get('status')}): "
                    "install it in the notebook's kernel"
                )
            tail = LogTail(log_dir)
            for done, index in enumerate(code_cells, 1):
                cell = nb.cells[index]
                if progress:
                    progress(done - 1, len(code_cells), index, None, None)
                failed, fatal = None, False
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as exc:
                    failed = f"{exc.ename}: {exc.evalue}".splitlines()[0]
                    if exc.ename == "NoneType":  # raised displaying the result: not in the reply
                        shown = [o for o in cell.outputs if o.get("output_type") == "error"]
                        if shown:
                            failed = f"{shown[-1].get('ename')}: {shown[-1].get('evalue')}"
                            failed = failed.splitlines()[0] + " (raised displaying the result)"
                    if exc.ename == "CellTimeoutError":  # interrupted: wait for its record
                        fatal = not _settle(kc, 30.0)
                except (TimeoutError, DeadKernelError) as exc:  # CellTimeoutError is a TimeoutError
                    failed, fatal = (
                        f"{type(exc).__name__}: "
                        f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}",
                        True,
                    )
                except KeyboardInterrupt:  # Ctrl-C: stop the cell, keep what was measured
                    result.interrupted = True
                    run_sync(km.interrupt_kernel)()
                    run_sync(_finish_interrupted)(10.0)  # its reply, outputs and record
                    _settle(kc, 10.0)
                if cell.get("execution_count") is not None:
                    executed.append(cell["execution_count"])
                new = [r for r in tail.new_records() if r.kind != IDLE]
                if result.interrupted:
                    result.stopped_early = done < len(code_cells) or bool(failed)
                    break
                if failed:
                    result.failures.append(
                        f"cell {index + 1} (execution count {cell.get('execution_count')}): "
                        f"{failed}"
                    )
                if progress:
                    progress(
                        done,
                        len(code_cells),
                        index,
                        new[-1] if new else None,
                        failed and f"failed: {failed}",
                        cell.get("execution_count"),
                    )
                if failed and (fatal or not allow_errors):
                    result.stopped_early = done < len(code_cells)
                    break
            if not result.interrupted:
                asked, in_force = _end_of_run(kc)
                if asked and (in_force is None or Path(in_force).absolute() != log_dir):
                    result.log_dir_changed = str(in_force).lower() if in_force is None else in_force
    except RunError:
        raise
    except KeyboardInterrupt:  # a second Ctrl-C, or one while the kernel started or shut down
        result.interrupted = True
    except Exception as exc:  # the kernel could not start, or died during setup
        raise RunError(
            f"could not run {path.name} ({type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''})"
        ) from None
    finally:
        if client.km is not None:  # setup_kernel's cleanup did not run (an interrupted start)
            try:
                client._cleanup_kernel()
            except (Exception, KeyboardInterrupt):
                pass
        result.records, result.idle_records, result.notes = _records(log_dir)
        if result.interrupted and result.records:  # the log is what was measured: keep it
            result.notes.append(f"the run's session log is kept in {log_dir}")
        else:
            shutil.rmtree(log_dir, ignore_errors=True)
    if result.log_dir_changed is not None:
        recorded = {r.cell for r in result.records}
        missing = sum(1 for count in executed if count not in recorded)
        result.notes.append(
            f"the notebook sets %carbon config log_dir={result.log_dir_changed}: {missing} of "
            f"{len(executed)} executed cell(s) have no record here (those measured after it are "
            + (
                "not logged)"
                if result.log_dir_changed == "none"
                else f"in {result.log_dir_changed})"
            )
            + "; remove that line to measure the whole run"
        )
    return result
