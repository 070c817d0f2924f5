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
from typing import TYPE_CHECKING

from .display.text import format_record_line
from .record import WindowRecord
from .storage.reader import LogTail, log_files, merged, read_logs
from .textsafe import visible

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["RunResult", "RunError", "run_notebook", "SETUP_CODE"]

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


@dataclass
class RunResult:
    notebook: NotebookNode
    records: list[WindowRecord] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # one line per failed cell
    stopped_early: bool = False
    notes: list[str] = field(default_factory=list)


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


def _records(folder: Path) -> tuple[list[WindowRecord], list[str]]:
    return merged(read_logs(log_files(folder)))


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = int(width * done / total) if total else width
    return "#" * filled + "-" * (width - filled)


def stderr_progress(
    done: int, total: int, cell_index: int, record: WindowRecord | None, failed: str | None
) -> None:
    """``[#####---------------] 3/12 cell 5: carbon: 1.2 s · …`` on stderr, one line per cell."""
    if record is None and failed is None and done < total:
        print(
            f"\r[{_bar(done, total)}] {done}/{total} running cell {cell_index + 1}…",
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
    print(
        f"\r[{_bar(done, total)}] {done}/{total} cell {cell_index + 1}: {what}",
        file=sys.stderr,
        flush=True,
    )


def run_notebook(
    path: str | os.PathLike,
    *,
    region: str | None = None,
    timeout_s: float | None = None,
    allow_errors: bool = False,
    progress: Callable[[int, int, int, WindowRecord | None, str | None], object]
    | None = stderr_progress,
) -> RunResult:
    """Run the notebook at ``path`` (its folder is the working directory); the caller validates
    inputs."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError
    from nbclient.util import run_sync

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    result = RunResult(nb)
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    log_dir = Path(tempfile.mkdtemp(prefix="jupyter_carbon-run-"))
    # IPC sockets in our own temp folder: the kernel and this process share the machine, so no TCP
    # port is opened (and ipykernel ≥ 7.3 does not warn about unencrypted TCP on every run).
    from jupyter_client.manager import AsyncKernelManager

    km = AsyncKernelManager(
        kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
        transport="ipc",
        ip=str(log_dir / "kernel"),
    )
    client = NotebookClient(
        nb,
        km=km,
        timeout=timeout_s,
        allow_errors=False,
        resources={"metadata": {"path": str(path.parent.absolute())}},
    )
    try:
        with (
            _environ(JUPYTER_CARBON_LOG_DIR=str(log_dir), JUPYTER_CARBON_REGION=region),
            client.setup_kernel(),
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
                except (TimeoutError, DeadKernelError) as exc:  # CellTimeoutError is a TimeoutError
                    failed, fatal = (
                        f"{type(exc).__name__}: "
                        f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}",
                        True,
                    )
                new = tail.new_records()
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
                    )
                if failed and (fatal or not allow_errors):
                    result.stopped_early = done < len(code_cells)
                    break
    except RunError:
        raise
    except Exception as exc:  # the kernel could not start, or died during setup
        raise RunError(
            f"could not run {path.name} ({type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''})"
        ) from None
    finally:
        result.records, result.notes = _records(log_dir)
        shutil.rmtree(log_dir, ignore_errors=True)
    return result
