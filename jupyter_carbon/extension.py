"""The IPython extension: load/unload, the run-cell hooks and the ``%%carbon`` cell transform.

How a ``%%carbon`` cell runs: when IPython is about to run the cell with its ``pre_run_cell`` /
``post_run_cell`` hooks, a cleanup input transformer comments out the magic line (keeping line
numbers), so the body runs as an ordinary cell — its last expression becomes ``Out[n]``/``_``,
top-level ``await`` works and tracebacks hold only user frames; the hooks measure it. (A
``%%carbon`` line followed by another cell magic is removed instead, so that magic runs the body
as it would alone.) Where no hook will fire — a ``silent`` cell such as a ``.ipy`` file run with
``%run``, the body of ``%%time`` or ``%%timeit``, a direct ``transform_cell`` call — the line is
left as it is, so IPython runs the ``%%carbon`` cell magic, which measures the body itself, unless
the hooks already measure that cell: ``%%carbon`` under another cell magic (``%%time`` then
``%%carbon``) is measured once, as the whole cell, however often that magic runs its body.
An invalid magic line is never touched, so the real cell magic raises the ``UsageError``.

Which cell is which: ``pre_run_cell`` opens the window and pushes it on the session's stack of
current windows for this thread (kernel subshells run cells in their own threads). The window
closes at the ``post_run_cell`` whose result carries the same ``ExecutionInfo`` object (matched by
identity), so the ``post_execute`` work the cell caused (inline figures) is part of it. Where
IPython may send no ``post_run_cell`` (``run_cell_async`` called directly, ipykernel's top-level
``await`` cells) it closes when IPython stores the cell's result (``last_execution_result``).
Unmatched events (an empty nested ``run_cell('')`` sends ``post_run_cell`` alone) are ignored, and
a cell whose ``run_cell_async`` is over without either (it raised) is closed as soon as that is
seen, flagged cut short unless ``post_run_cell`` brings its status.

Every hook catches its own errors: a failure of the extension is reported once and never changes
the user's cell. What this needs to know that IPython's public API does not say (whether a
transform's cell will run with the hooks, which ``run_cell_async`` runs a cell) is asked of
:mod:`jupyter_carbon.ipython_compat`.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import threading
import weakref
from enum import Enum
from types import FrameType
from typing import TYPE_CHECKING, Any

from . import api
from .advice import budget_level
from .carbon_session import CUT_SHORT, CarbonSession, Measurement, status_of
from .cluster.observer import attach_cluster, detach_cluster, settle_cluster
from .display import in_kernel, make_view
from .display.frontend import Frontend, open_frontend
from .display.text import budget_phrase, format_load_line, gpu_held_lines
from .ipython_compat import (
    cell_runner,
    counts_before_hook,
    display_error,
    frames_on_stack,
    hooks_will_run,
    last_shown_error,
)
from .parse import CellOptions, ParseError, parse_cell_line
from .record import WindowRecord
from .storage.archive import logged_records
from .storage.log import attach_log, detach_log

if TYPE_CHECKING:
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult, InteractiveShell
    from traitlets import Bunch

    from .magics import Carbon, CarbonMagics

__all__ = ["load", "unload", "CarbonExtension", "get_extension"]

_MAGIC_PREFIX = "%%carbon"
#: After an idle stretch at least this long (s) in which the kernel held a GPU, the next measured
#: cell's report says so, once, with the cost and what frees it.
GPU_HELD_NOTICE_S = 600.0

_extensions: weakref.WeakKeyDictionary[InteractiveShell, CarbonExtension] = (
    weakref.WeakKeyDictionary()
)


def _magic_options(raw_cell: str) -> CellOptions | None:
    """Options when ``raw_cell`` is a valid ``%%carbon`` cell, else None."""
    text = raw_cell.lstrip("\n")
    if not text.startswith(_MAGIC_PREFIX):
        return None
    first = text.split("\n", 1)[0]
    rest = first[len(_MAGIC_PREFIX) :]
    if rest and not rest[0].isspace():
        return None  # %%carbonara
    try:
        return parse_cell_line(rest)
    except ParseError:
        return None


def _stacked_options(raw_cell: str) -> tuple[CellOptions, str] | None:
    """For a valid ``%%carbon`` line under other cell magics (``%%time`` then ``%%carbon``): its
    options and the cell from that line on; else None."""
    lines = raw_cell.lstrip("\n").split("\n")
    for index in range(1, len(lines)):
        line = lines[index]
        if not line.strip():
            continue
        if not line.startswith("%%"):
            return None
        if line.startswith(_MAGIC_PREFIX):
            options = _magic_options(line)
            return (options, "\n".join(lines[index:]).strip("\n")) if options is not None else None
    return None


def source_sha1(raw_cell: str) -> str:
    """The first 16 hex digits of the SHA-1 of a cell's text as typed: matches the same cell
    across sessions (``%carbon summary``'s run-vs-run) without storing its source."""
    return hashlib.sha1(raw_cell.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _error(result: ExecutionResult | None) -> BaseException | None:
    """What the cell raised, as IPython reports it (None: nothing, or no result)."""
    return getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)


class Claim(Enum):
    """Which runs of the ``%%carbon`` cell magic inside a measured cell are that cell's window."""

    NONE = "none"  # none: a %%carbon the body calls gets a window of its own
    ONCE = "once"  # the next run: a %%carbon cell whose line the transform left in
    ALL = "all"  # every run: %%carbon under another cell magic, which may run it often (%%timeit)


class _Cell:
    """The IPython cell a window measures (the window's ``owner``): matched by its ExecutionInfo.

    It goes through IPython's events: opened at ``pre_run_cell``; ``result`` set when IPython
    stores it (``last_execution_result``); closed then, or at its ``post_run_cell`` when
    ``posted``, or when it is seen to be over without either (stale).
    """

    __slots__ = ("info", "runner", "posted", "claims", "stacked", "result", "error", "shown")

    def __init__(
        self,
        info: ExecutionInfo | None,
        runner: tuple[FrameType | None, bool],
        claims: Claim = Claim.NONE,
        stacked: str | None = None,
    ) -> None:
        self.info = info
        # the run_cell_async frame running it (or None), and whether post_run_cell will follow
        self.runner, self.posted = runner
        self.claims = claims
        # that stacked %%carbon cell's text, should %%capture run it as a cell
        self.stacked = stacked
        self.result: ExecutionResult | None = None  # IPython's result, once the cell has ended
        # raised by a claimed magic run (%%time may swallow it)
        self.error: BaseException | None = None
        #: the error IPython last showed before the cell (to see one raised displaying its result)
        self.shown = last_shown_error()


def _is_carbon_command(raw_cell: str) -> bool:
    """A cell that is only a ``%carbon …`` line (summary, status, config…): auto mode does not
    measure it."""
    text = raw_cell.strip()
    return text.startswith("%carbon") and not text.startswith("%%") and "\n" not in text


def _cell_window(stack: list[Measurement], info: ExecutionInfo | None) -> Measurement | None:
    """The window of the IPython cell run with ``info`` (its ExecutionInfo), innermost first;
    None."""
    for m in reversed(stack):
        if type(m.owner) is _Cell and m.owner.info is info:
            return m
    return None


class _ThreadCells(threading.local):
    """Per thread: cells that ended before their ``post_run_cell``, and the ``%%carbon`` cell text
    the input transform just took the magic line out of."""

    def __init__(self) -> None:
        self.ended: list[Measurement] = []
        self.stripped: str | None = None


class CarbonExtension:
    """The extension in one shell: IPython's events move each measured cell's window along.

    * cleanup input transform: a ``%%carbon`` line the hooks will measure is taken out;
    * ``pre_run_cell``: cells seen to be over are closed; the cell's window opens, its ``_Cell``
      saying which ``%%carbon`` magic runs are the cell itself (:class:`Claim`);
    * ``last_execution_result`` set: the cell's result; the window closes now unless
      ``post_run_cell`` follows;
    * ``post_run_cell``: the window closes (or was closed), its report is shown, then problems;
    * the ``%%carbon`` cell magic (``open_magic``/``close_magic``): a window of its own, unless
      the cell claims that run.
    """

    def __init__(self, shell: InteractiveShell, session: CarbonSession) -> None:
        self.shell = shell
        self.session = session
        #: the ``Carbon`` traitlets configurable and the magics, set by :func:`load`
        self.configurable: Carbon | None = None
        self.magics: CarbonMagics | None = None
        self.auto = False
        self.auto_quiet = False
        #: the comm to jupyter_carbon's JupyterLab extension (in a kernel), set by :func:`load`
        self.frontend: Frontend | None = None
        # Cells of this thread that ended but whose post_run_cell has not come yet (their report).
        self._local = _ThreadCells()
        # the session budget the notes were for, and the highest level noted (each noted once)
        self._budget_noted: tuple[float | None, float] = (None, 0.0)

    # --- reporting ----------------------------------------------------------------------------

    def report(self, where: str, exc: BaseException) -> None:
        """One short line on stderr now, once per distinct problem; never raises."""
        text = (
            f"{where} failed ({type(exc).__name__}: {exc}); "
            "your cell is unaffected, this measurement may be incomplete"
        )
        self.session.diagnostics.say(text, now=True)

    def flush_problems(self, *, again: bool = False) -> None:
        """Show the session's problems not shown yet (``again``: all of them, at load)."""
        self.session.diagnostics.flush(again=again)

    # --- the transform and the hooks ------------------------------------------------------------

    def transform(self, lines: list[str]) -> list[str]:
        """Comment out a valid ``%%carbon`` line so the body runs as the cell itself (a comment,
        not a blank line, which IPython would strip: tracebacks keep the cell's line numbers);
        remove it when another cell magic follows. Only for a cell the hooks will measure."""
        try:
            if lines and lines[0].strip() and not lines[0].startswith(_MAGIC_PREFIX):
                return lines  # most cells: first line is code
            index = next((i for i, line in enumerate(lines) if line.strip()), None)
            if (
                index is not None
                and lines[index].startswith(_MAGIC_PREFIX)
                and _magic_options(lines[index]) is not None
                and hooks_will_run()
            ):
                # its magic will not run: the hooks measure it
                self._local.stripped = "".join(lines)
                following = next((line for line in lines[index + 1 :] if line.strip()), "")
                if following.startswith("%%"):
                    # %%carbon then %%capture, %%timeit, ...
                    return lines[:index] + lines[index + 1 :]
                return lines[:index] + ["#" + lines[index]] + lines[index + 1 :]
        except Exception as exc:
            self.report("reading the %%carbon line", exc)
        return lines

    def pre_run_cell(self, info: ExecutionInfo | None = None) -> None:
        try:
            session = self.session
            stack = session.stack()
            if stack:
                self._close_stale(stack)
            ended = self._local.ended
            if ended:  # post_run_cell never came for them (run_cell_async called directly):
                ended.clear()  # the records are kept; their reports would land in this cell
            raw = getattr(info, "raw_cell", "") or ""
            options = _magic_options(raw)
            claims, stacked = Claim.NONE, None
            if options is not None:
                claims = Claim.NONE if self._stripped(raw) else Claim.ONCE
                if stack and self._runs_stacked(stack, raw):
                    return  # %%capture running the %%carbon cell under it: measured as that cell
            elif raw.lstrip("\n").startswith("%%"):
                found = _stacked_options(raw)
                if found is not None:
                    (options, stacked), claims = found, Claim.ALL
            if options is None and (not self.auto or stack or _is_carbon_command(raw)):
                # not measured, a plain cell nested in a measured one (counted there), or
                # %carbon summary/status/…
                return
            measurement = self._open(options, _Cell(info, cell_runner(), claims, stacked))
            measurement.meta["source_sha1"] = source_sha1(raw)
            if session.config.store_source:  # opt-in: cells often hold secrets
                measurement.extra["source"] = getattr(info, "raw_cell", "")
        except Exception as exc:
            self.report("starting the measurement", exc)

    @staticmethod
    def _runs_stacked(stack: list[Measurement], raw_cell: str) -> bool:
        cell = stack[-1].owner
        return (
            type(cell) is _Cell
            and cell.stacked is not None
            and cell.stacked == raw_cell.strip("\n")
        )

    def _stripped(self, raw_cell: str) -> bool:
        """Whether the transform took the ``%%carbon`` line out of this cell (else IPython will
        call the cell magic, which then runs inside this cell's window: see ``open_magic``)."""
        stripped, self._local.stripped = self._local.stripped, None
        return stripped is not None and stripped == (
            raw_cell if raw_cell.endswith("\n") else raw_cell + "\n"
        )

    def _cell_number(self) -> int | None:
        """This cell's number as shown in ``In[n]``, for the live view.

        IPython 9 counts the cell before ``pre_run_cell``, IPython 8 after the cell; the record
        takes the authoritative number from the result when the cell ends.
        """
        count = getattr(self.shell, "execution_count", None)
        if count is None:
            return None
        return count - 1 if counts_before_hook() and count > 1 else count

    def _open(self, options: CellOptions | None, owner: _Cell | None = None) -> Measurement:
        compact = options is None
        quiet = options.quiet if options is not None else self.auto_quiet
        meta: dict[str, Any] = {"kind": "auto" if compact else "cell", "cell": self._cell_number()}
        if options is not None:
            meta.update(items=options.items, task=options.task, scope=options.scope)
        view = (
            None
            if quiet
            else make_view(
                self.shell,
                self.session,
                compact=compact,
                frontend=self.frontend,
                label=options.label if options else None,
                **meta,
            )
        )
        measurement = self.session.open(
            options.label if options else None,
            listener=view.on_progress if view else None,
            owner=owner,
            **meta,
        )
        measurement.view = view
        if view is not None:
            self._held_note(measurement, view)
        return measurement

    def _held_note(self, measurement: Measurement, view: Any) -> None:
        """The GPUs the kernel held through the long idle stretch this window just ended."""
        idle = self.session.last_idle
        if (
            idle is None
            or idle.end_s != measurement.start.time_s
            or idle.duration_s < GPU_HELD_NOTICE_S
            or "gpu_held" not in idle.extra
        ):
            return
        for i, line in enumerate(gpu_held_lines(idle)):
            view.note(line, key=("gpu_held", i))

    def exiting(self, change: Bunch) -> None:
        """``exit_now`` set: the kernel is shutting down (ipykernel sets it first, then ends the
        kernel's child processes, such as a ``LocalCluster``'s workers): the Dask shares that
        follow cells are measured now, while their workers are alive."""
        if change.get("new"):
            try:
                settle_cluster(self.session, final=True)
            except Exception as exc:  # never in the way of the shutdown
                self.session.problem(f"could not settle the Dask shares: {exc}")

    def cell_done(self, change: Bunch) -> None:
        """``last_execution_result`` changed: IPython has finished running a cell (any thread's).

        Run by ``InteractiveShell.run_cell`` the window stays open until ``post_run_cell``, so it
        takes in the ``post_execute`` work the cell caused (e.g. rendering inline figures);
        elsewhere (ipykernel's top-level ``await`` cells, a direct ``run_cell_async`` call, which
        may never send ``post_run_cell``) it closes now and the report waits for ``post_run_cell``.
        """
        try:
            stack = self.session.stack()
            if not stack:
                return
            result = change["new"]
            info = getattr(result, "info", None)
            measurement = _cell_window(stack, info)
            if measurement is None or (info is None and measurement is not stack[-1]):
                return  # not a cell measured by the hooks (silent, nested plain, empty)
            cell = measurement.owner
            cell.result = result
            if not cell.posted:
                self._close(stack, measurement, result)
                self._local.ended.append(measurement)
        except Exception as exc:
            self.report("closing the measurement", exc)

    def post_run_cell(self, result: ExecutionResult | None = None) -> None:
        try:
            info = getattr(result, "info", None)
            measurement = None
            ended = self._local.ended
            if ended:
                measurement = next((m for m in ended if m.owner.info is info), None)
                if measurement is not None:
                    ended.remove(measurement)
            stack = self.session.stack()
            if measurement is None and stack:
                measurement = _cell_window(stack, info)
                if measurement is not None:
                    self._close(stack, measurement, result)
                else:
                    measurement = self._close_stale(stack, result)
            if measurement is None:
                return  # an empty cell (no pre_run_cell), or one not measured
        except Exception as exc:
            self.report("closing the measurement", exc)
            return
        self._show(measurement, measurement.record)

    def _close(
        self, stack: list[Measurement], measurement: Measurement, result: ExecutionResult | None
    ) -> None:
        self._close_inside(stack, measurement)
        cell = measurement.owner
        error = _error(result)
        if error is None:
            error = cell.error
        if error is None:  # raised while displaying the result: "error" as the kernel replies
            error = display_error(self.shell, cell.shown)
        self.session.stop(
            measurement, status=status_of(error), cell=getattr(result, "execution_count", None)
        )

    def _show(self, measurement: Measurement, record: WindowRecord | None) -> None:
        """The closed window's report in its view, then any problem the extension met (never
        raises)."""
        try:
            if record is not None:
                note = self._budget_note(record)
                if note is not None and measurement.view is not None:
                    measurement.view.note(note, key="budget")
            if measurement.view is not None and record is not None:
                measurement.view.finish(record)
            self.flush_problems()
        except Exception as exc:
            self.report("displaying the result", exc)

    def _budget_note(self, record: WindowRecord) -> str | None:
        """The budget note when the session's CO2e (as the record closed) first reaches 80 %,
        then 100 %, of ``budget_g`` (a new budget is noted afresh); else None. A comparison."""
        budget_g = self.session.config.budget_g
        if budget_g is None:
            return None
        used_g = record.totals.co2e_g
        level = budget_level(used_g, budget_g)
        noted_for, noted = self._budget_noted
        if noted_for != budget_g:
            noted = 0.0
        self._budget_noted = (budget_g, max(level, noted))
        return budget_phrase(used_g, budget_g) if level > noted else None

    def _close_inside(self, stack: list[Measurement], outer: Measurement) -> None:
        """Windows still open above ``outer``, which is ending: cells whose end IPython never
        reported, ``track()`` blocks left open; they end with it, flagged cut short."""
        while stack and stack[-1] is not outer:
            self.session.cut_short(stack[-1], "still open when the cell around it ended")

    def _close_stale(
        self, stack: list[Measurement], result: ExecutionResult | None = None
    ) -> Measurement | None:
        """Close the cells of this thread that are over although IPython did not say so (their
        ``run_cell_async`` is no longer running: it raised, or ran without ``post_run_cell``).

        ``result``: an unmatched ``post_run_cell``'s; IPython gives a new info to a cell whose
        ``run_cell_async`` raised, so the stale cell with the same source takes its status and is
        returned (to be reported); the others end flagged cut short.
        """
        running = None
        matched = None
        for measurement in reversed(stack[:]):
            cell = measurement.owner
            if type(cell) is not _Cell or cell.runner is None or measurement.stack is None:
                continue
            if running is None:
                running = frames_on_stack()
            if id(cell.runner) in running:
                break  # this cell is still running, and so are those it runs in
            if (
                cell.result is None
                and matched is None
                and result is not None
                and cell.info is not None
                and getattr(result.info, "raw_cell", None) == cell.info.raw_cell
            ):
                self._close(stack, measurement, result)
                matched = measurement
            else:
                self._close_inside(stack, measurement)
                why = (
                    "IPython did not report the end of this cell"
                    if cell.result is None
                    else "IPython sent no post_run_cell for this cell"
                )
                self.session.stop(
                    measurement,
                    status=status_of(_error(cell.result)),
                    cell=getattr(cell.result, "execution_count", None),
                    flags=(f"{CUT_SHORT}: {why}; it ended when this was noticed",),
                )
        return matched

    # --- the cell magic's own path --------------------------------------------------------------

    def open_magic(self, options: CellOptions) -> Measurement | None:
        """The ``%%carbon`` cell magic is running its body: a window for it, or None when the hooks
        already measure this very cell (they opened it for its ``%%carbon`` line)."""
        try:
            current = self.session.current()
            cell = current.owner if current is not None else None
            if type(cell) is _Cell and cell.claims is not Claim.NONE:
                if cell.claims is Claim.ONCE:
                    # a %%carbon called inside the body gets its own window
                    cell.claims = Claim.NONE
                return None
            return self._open(options)
        except Exception as exc:
            self.report("starting the measurement", exc)
            return None

    def close_magic(self, measurement: Measurement | None, error: BaseException | None) -> None:
        """The cell magic's body ended (``error``: what it raised); ``measurement``: what
        ``open_magic`` returned."""
        if measurement is None:  # this cell's window: keep the error for its status
            current = self.session.current() if error is not None else None
            if current is not None and type(current.owner) is _Cell and current.owner.error is None:
                current.owner.error = error
            return
        try:
            stack = measurement.stack
            if stack is not None:
                self._close_inside(stack, measurement)
            record = self.session.stop(measurement, status=status_of(error))
        except Exception as exc:
            self.report("closing the measurement", exc)
            return
        self._show(measurement, record)


def get_extension(shell: InteractiveShell) -> CarbonExtension | None:
    return _extensions.get(shell)


def load(shell: Any) -> CarbonExtension:
    existing = _extensions.get(shell)
    if existing is not None:
        return existing
    from .magics import Carbon, CarbonMagics  # IPython's magics and traitlets: at load, not import

    session = api.session()
    if session.closed:  # reloaded after %unload_ext: new probes, same records and totals
        session.reopen()
    session.track_idle = True  # the kernel's whole lifetime counts from here, idle time included
    ext = CarbonExtension(shell, session)
    # the settings first: should they raise, nothing is registered (a later %load_ext retries)
    config = Carbon(parent=shell, extension=ext)
    _extensions[shell] = ext
    ext.configurable = config
    try:
        shell.configurables.append(config)
        ext.magics = CarbonMagics(shell, extension=ext)
        shell.register_magics(ext.magics)
        shell.events.register("pre_run_cell", ext.pre_run_cell)
        shell.events.register("post_run_cell", ext.post_run_cell)
        shell.observe(ext.cell_done, names="last_execution_result")
        shell.observe(ext.exiting, names="exit_now")
        shell.input_transformers_cleanup.insert(0, ext.transform)
        log = attach_log(session)
        session.archive = functools.partial(logged_records, log)  # what memory no longer holds
        atexit.unregister(session.write_idle)  # once, however many shells load it
        atexit.register(session.write_idle)  # the kernel exits: its last idle stretch is written
        attach_cluster(session)  # imports nothing of distributed until the kernel has a Client
        if in_kernel(shell):  # a terminal or a plain shell has no frontend to ask
            ext.frontend = open_frontend(session)
    except BaseException:
        unload(shell)  # never half loaded: a later %load_ext starts afresh
        raise
    print(format_load_line(session))
    ext.flush_problems(again=True)  # what was said before a reload comes again with its load line
    return ext


def unload(shell: Any) -> None:
    ext = _extensions.pop(shell, None)
    if ext is None:
        return
    for name, callback in (
        ("pre_run_cell", ext.pre_run_cell),
        ("post_run_cell", ext.post_run_cell),
    ):
        try:
            shell.events.unregister(name, callback)
        except ValueError:
            pass
    for observer, trait in ((ext.cell_done, "last_execution_result"), (ext.exiting, "exit_now")):
        try:
            shell.unobserve(observer, names=trait)
        except ValueError:
            pass
    if ext.transform in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.remove(ext.transform)
    for configurable in (ext.configurable, ext.magics):
        if configurable in shell.configurables:
            shell.configurables.remove(configurable)
    if ext.configurable is not None:
        ext.configurable.extension = None
    if ext.frontend is not None:
        ext.frontend.close()
    magics = shell.magics_manager.magics
    magics["line"].pop("carbon", None)
    magics["cell"].pop("carbon", None)
    shell.magics_manager.registry.pop("CarbonMagics", None)
    # Windows open now (unloaded from inside a cell, or a track() block in any thread) end in
    # shutdown with a record flagged cut short, logged before the log is detached.
    atexit.unregister(ext.session.write_idle)
    # the Dask shares that follow cells are recorded (or flagged) while the log is attached
    settle_cluster(ext.session, final=True)
    ext.session.shutdown()  # threads stopped, NVML shut down; the records stay for a reload
    detach_log(ext.session)
    detach_cluster(ext.session)  # the workers' plugin is removed when the last client leaves
