"""The IPython extension: load/unload, the run-cell hooks and the ``%%carbon`` cell transform.

How a ``%%carbon`` cell runs: a cleanup input transformer comments out the magic line (keeping
line numbers), so the body runs as an ordinary cell — its last expression becomes ``Out[n]``/``_``,
top-level ``await`` works and tracebacks hold only user frames. The ``pre_run_cell`` hook sees
the raw cell, parses the options and opens the window; ``post_run_cell`` closes it with the
cell's status. An invalid magic line is left untouched, so the real cell magic raises the
``UsageError`` and the body does not run. Every hook catches its own errors: a failure of the
extension is reported once and never changes the user's cell.
"""

from __future__ import annotations

import sys
from typing import Any

from .carbon_session import CarbonSession, Measurement, get_session
from .display import make_view
from .parse import CellOptions, ParseError, parse_cell_line

__all__ = ["load", "unload", "CarbonExtension", "get_extension"]

_MAGIC_PREFIX = "%%carbon"


def _counts_before_hook() -> bool:
    try:
        import IPython

        return int(IPython.version_info[0]) >= 9
    except Exception:
        return False


_COUNTS_BEFORE_HOOK = _counts_before_hook()
_extensions: dict[int, "CarbonExtension"] = {}


def _magic_options(raw_cell: str) -> CellOptions | None:
    """Options when ``raw_cell`` is a valid ``%%carbon`` cell, else None."""
    text = raw_cell.lstrip("\n")
    if not text.startswith(_MAGIC_PREFIX):
        return None
    first = text.split("\n", 1)[0]
    rest = first[len(_MAGIC_PREFIX):]
    if rest and not rest[0].isspace():
        return None  # %%carbonara
    try:
        return parse_cell_line(rest)
    except ParseError:
        return None


def _is_carbon_command(raw_cell: str) -> bool:
    """A cell that is only a ``%carbon …`` line (summary, status, config…): auto mode does not measure it."""
    text = raw_cell.strip()
    return text.startswith("%carbon") and not text.startswith("%%") and "\n" not in text


class CarbonExtension:
    def __init__(self, shell: Any, session: CarbonSession) -> None:
        self.shell = shell
        self.session = session
        self.auto = False
        self.auto_quiet = False
        # One entry per cell being run (run_cell nests, e.g. %%capture): its (measurement, view),
        # or None for a cell that is not measured. pre_run_cell pushes, post_run_cell pops.
        self._cells: list[tuple[Measurement, Any] | None] = []
        self.reported: set[str] = set()

    @property
    def current(self) -> tuple[Measurement, Any] | None:
        """The innermost measured cell being run, as (measurement, view)."""
        return next((entry for entry in reversed(self._cells) if entry is not None), None)

    # --- reporting ----------------------------------------------------------------------------

    def report(self, where: str, exc: BaseException) -> None:
        """One short line on stderr, once per distinct problem; never raises."""
        line = f"jupyter_carbon: {where} failed ({type(exc).__name__}: {exc}); your cell is unaffected, this measurement may be incomplete"
        if line not in self.reported:
            self.reported.add(line)
            try:
                print(line, file=sys.stderr)
            except Exception:
                pass

    def flush_problems(self) -> None:
        for problem in self.session.problems:
            if problem not in self.reported:
                self.reported.add(problem)
                print(f"jupyter_carbon: {problem}", file=sys.stderr)

    # --- the transform and the hooks ------------------------------------------------------------

    def transform(self, lines: list[str]) -> list[str]:
        """Comment out a valid ``%%carbon`` line so the body runs as the cell itself (a comment,
        not a blank line, which IPython would strip: tracebacks keep the cell's line numbers)."""
        try:
            if lines and lines[0].strip() and not lines[0].startswith(_MAGIC_PREFIX):
                return lines  # most cells: first line is code
            index = next((i for i, line in enumerate(lines) if line.strip()), None)
            if index is not None and lines[index].startswith(_MAGIC_PREFIX) and _magic_options(lines[index]) is not None:
                return lines[:index] + ["#" + lines[index]] + lines[index + 1 :]
        except Exception as exc:
            self.report("reading the %%carbon line", exc)
        return lines

    def pre_run_cell(self, info: Any = None) -> None:
        cells = self._cells
        cells.append(None)  # until a measurement opens: post_run_cell must pop one entry
        try:
            options = _magic_options(getattr(info, "raw_cell", "") or "")
            if options is None and (not self.auto or any(cells) or _is_carbon_command(getattr(info, "raw_cell", "") or "")):
                return  # not measured, a plain cell nested in a measured one (counted there), or %carbon summary/status/…
            cells[-1] = self._open(options)
            if self.session.config.store_source:  # opt-in: cells often hold secrets
                self._cells[-1][0].extra["source"] = getattr(info, "raw_cell", "")
        except Exception as exc:
            self.report("starting the measurement", exc)

    def _cell_number(self) -> int | None:
        """This cell's number as shown in ``In[n]``, for the live view.

        IPython 9 counts the cell before ``pre_run_cell``, IPython 8 after the cell; the record
        takes the authoritative number from the result in ``post_run_cell``.
        """
        count = getattr(self.shell, "execution_count", None)
        if count is None:
            return None
        return count - 1 if _COUNTS_BEFORE_HOOK and count > 1 else count

    def open_cell(self, options: CellOptions | None) -> None:
        """Open a measured cell outside the hooks (the cell magic's fallback); close it with post_run_cell."""
        self._cells.append(self._open(options))

    def _open(self, options: CellOptions | None) -> tuple[Measurement, Any]:
        compact = options is None
        quiet = options.quiet if options is not None else self.auto_quiet
        meta = {"kind": "auto" if compact else "cell", "cell": self._cell_number()}
        if options is not None:
            meta.update(items=options.items, task=options.task, scope=options.scope)
        view = None if quiet else make_view(self.shell, self.session, compact=compact, label=options.label if options else None, **meta)
        measurement = self.session.open(options.label if options else None, listener=view.on_live if view else None, **meta)
        return measurement, view

    def post_run_cell(self, result: Any = None) -> None:
        current = self._cells.pop() if self._cells else None  # empty: the %load_ext cell itself
        if current is None:
            return
        measurement, view = current
        try:
            error = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
            status = "ok" if error is None else ("interrupted" if isinstance(error, KeyboardInterrupt) else "error")
            cell = getattr(result, "execution_count", None)
            record = self.session.stop(measurement, status=status, cell=cell)
        except Exception as exc:
            self.report("closing the measurement", exc)
            return
        try:
            if view is not None:
                view.finish(record)
            self.flush_problems()
        except Exception as exc:
            self.report("displaying the result", exc)


def get_extension(shell: Any) -> CarbonExtension | None:
    return _extensions.get(id(shell))


def load(shell: Any) -> CarbonExtension:
    existing = _extensions.get(id(shell))
    if existing is not None:
        return existing
    from .magics import Carbon, CarbonMagics

    session = get_session()
    if session.closed:  # reloaded after %unload_ext: new probes, same records and totals
        session.reopen()
    ext = CarbonExtension(shell, session)
    _extensions[id(shell)] = ext
    config = Carbon(parent=shell, extension=ext)
    ext.configurable = config
    shell.configurables.append(config)
    ext.magics = CarbonMagics(shell, extension=ext)
    shell.register_magics(ext.magics)
    shell.events.register("pre_run_cell", ext.pre_run_cell)
    shell.events.register("post_run_cell", ext.post_run_cell)
    shell.input_transformers_cleanup.insert(0, ext.transform)
    from .storage.log import attach_log

    attach_log(session)
    from .cluster.observer import attach_cluster

    attach_cluster(session)  # imports nothing of distributed until the kernel has a Client
    from .display.text import format_load_line

    print(format_load_line(session))
    ext.flush_problems()
    return ext


def unload(shell: Any) -> None:
    ext = _extensions.pop(id(shell), None)
    if ext is None:
        return
    for name, callback in (("pre_run_cell", ext.pre_run_cell), ("post_run_cell", ext.post_run_cell)):
        try:
            shell.events.unregister(name, callback)
        except ValueError:
            pass
    if ext.transform in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.remove(ext.transform)
    for configurable in (ext.configurable, ext.magics):
        if configurable in shell.configurables:
            shell.configurables.remove(configurable)
    ext.configurable.extension = None
    magics = shell.magics_manager.magics
    magics["line"].pop("carbon", None)
    magics["cell"].pop("carbon", None)
    shell.magics_manager.registry.pop("CarbonMagics", None)
    for entry in ext._cells:  # unloaded from inside a cell: those windows end without a record
        if entry is not None:
            ext.session.discard(entry[0])
    ext._cells.clear()
    from .storage.log import detach_log

    detach_log(ext.session)
    from .cluster.observer import detach_cluster

    detach_cluster(ext.session)  # the workers' plugin is removed when the last client leaves
    ext.session.shutdown()  # threads stopped, NVML shut down; the records stay for a reload
