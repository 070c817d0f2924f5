"""``track_iter``: wrap a loop's iterable, predict the whole loop's footprint live, keep a budget.

::

    for batch in jupyter_carbon.track_iter(loader, label="train", budget_g=50):
        step(batch)

Inside a measured cell (``%%carbon`` or ``%carbon on``) or a ``with track(...)`` block of the same
thread, the loop attaches to that window and its prediction goes into its record
(``extra["loop"]``); elsewhere it opens its own window (``kind="loop"``), closed when the loop
ends. Energy is read at most every ``every_s`` (default: the session's interval), plus after
iterations 1, 2, 4 and 8 so a first estimate comes early — never every iteration: the
per-iteration cost is a counter and a clock read.

Output: in a notebook cell the estimate is a note of the cell's view (with its running figures,
then in its report); elsewhere a line of text on **stderr** (like tqdm), at most every
``TEXT_EVERY_S``, through ``tqdm.write`` while tqdm bars are open. Over budget: a
:class:`CarbonBudgetWarning` (a ``UserWarning``: visible by default, filterable, turned into an
error by ``-W error``), once per loop.

How the loop ended (``extra["loop"]["ended"]``): ``exhausted``, ``left early``, ``budget``,
``error``, ``interrupted``. An exception raised by the iterable is seen exactly. Python does not
tell an iterator *why* a ``for`` loop let it go: ``break``, ``return`` and an exception in the loop
body all just close it, so a plain ``for`` loop records ``left early`` for all three (the
exception itself propagates unchanged, and a measured cell's record still says ``error``).
``with track_iter(...) as it:`` sees the exception and gives the exact status.
"""

from __future__ import annotations

import math
import sys
import warnings
import weakref
from collections.abc import Generator, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .api import session as shared_session
from .display.text import TextView
from .energy import Energy
from .predict import Estimate, LoopPredictor, format_estimate
from .units import J_PER_KWH, format_co2e, format_energy, format_energy_band

if TYPE_CHECKING:
    from .carbon_session import CarbonSession, Measurement
    from .display import CellView
    from .record import WindowRecord

__all__ = ["track_iter", "TrackedIter", "CarbonBudgetWarning"]

#: Energy is also read after these iterations, whatever ``every_s``, for an early estimate.
EARLY_SAMPLES = (1, 2, 4, 8)
#: Text lines (terminal, scripts) at most this often; notebook notes follow every reading.
TEXT_EVERY_S = 30.0
#: The prediction recorded with the window is the first one made at this fraction of the loop.
RECORD_AT_FRACTION = 0.1


class CarbonBudgetWarning(UserWarning):
    """A tracked loop is predicted to exceed (or has exceeded) its carbon or energy budget."""


def track_iter(
    iterable: Iterable[Any],
    total: int | None = None,
    label: str | None = None,
    *,
    budget_g: float | None = None,
    budget_kwh: float | None = None,
    stop_at_budget: bool = False,
    session: CarbonSession | None = None,
    every_s: float | None = None,
) -> TrackedIter:
    """Wrap ``iterable`` like tqdm and predict the loop's total energy, CO2e and time left.

    ``total`` defaults to ``len(iterable)``; without one the rate (energy per iteration and per
    second) is shown instead of a prediction. ``budget_g`` (g CO2e) / ``budget_kwh`` warn once
    when the prediction exceeds them; with ``stop_at_budget=True`` the loop ends cleanly (no
    exception) before the next iteration would cross the budget, and the record says so
    (``extra["loop"]["stopped_at_budget"]``). ``session`` defaults to the cell's (when measured)
    or the process-wide one.
    """
    return TrackedIter(
        iterable,
        total,
        label,
        budget_g=budget_g,
        budget_kwh=budget_kwh,
        stop_at_budget=stop_at_budget,
        session=session,
        every_s=every_s,
    )


def _positive(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not value > 0
        or not math.isfinite(value)
    ):
        raise ValueError(f"{name}={value!r}: expected a positive number")
    return float(value)


class TrackedIter:
    """The wrapper returned by :func:`track_iter`; iterate it once. ``estimate`` is the latest
    :class:`~jupyter_carbon.predict.Estimate`, ``loop`` the dict recorded, ``record`` the own
    window's record (None when attached to a cell)."""

    def __init__(
        self,
        iterable: Iterable[Any],
        total: int | None = None,
        label: str | None = None,
        *,
        budget_g: float | None = None,
        budget_kwh: float | None = None,
        stop_at_budget: bool = False,
        session: CarbonSession | None = None,
        every_s: float | None = None,
    ) -> None:
        if total is None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except (TypeError, AttributeError):
                total = None
        self.iterable = iterable
        self.predictor = LoopPredictor(total)  # validates total
        self.label = label
        self.budget_g = _positive("budget_g", budget_g)
        self.budget_kwh = _positive("budget_kwh", budget_kwh)
        if stop_at_budget and self.budget_g is None and self.budget_kwh is None:
            raise ValueError(
                "stop_at_budget=True needs a budget: pass budget_g= (g CO2e) or budget_kwh="
            )
        self.stop_at_budget = bool(stop_at_budget)
        self.every_s = _positive("every_s", every_s)
        self.session = session
        self.n = 0
        self.estimate: Estimate | None = None
        self.loop: dict[str, Any] | None = None
        self.measurement: Measurement | None = None
        self.record: WindowRecord | None = None
        self.stopped_at_budget = False
        self._started = self._ended = self._in_with = False
        self._gen: weakref.ref[Generator[Any, None, None]] | None = None
        self._pending = "left early"
        self._view: CellView | None = None
        self._own = False
        self._recorded: Estimate | None = None
        self._warned = False
        self._last_text_s: float | None = None
        self._next_n: float = EARLY_SAMPLES[0]  # math.inf: no more samples by count
        self._next_t = math.inf

    @property
    def total(self) -> int | None:
        """The loop's number of iterations, when known (the predictor's)."""
        return self.predictor.total

    def __len__(self) -> int:
        if self.total is None:
            raise TypeError("this tracked loop has no total")
        return self.total

    def __repr__(self) -> str:
        total = self.total if self.total is not None else "?"
        return f"<TrackedIter {self.label or ''} {self.n}/{total}>"

    # --- the loop -------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Any]:
        if self._started:
            raise RuntimeError(
                "a track_iter object runs once; "
                "call jupyter_carbon.track_iter() again for another loop"
            )
        self._started = True
        gen = self._run()
        # a strong reference would keep the generator alive after `break`
        self._gen = weakref.ref(gen)
        return gen

    def _run(self) -> Generator[Any, None, None]:
        try:
            self._begin()
        except Exception as exc:  # never break the user's loop: run it unmeasured
            self.measurement = None
            _report(
                "jupyter_carbon: could not start measuring the loop "
                f"({type(exc).__name__}: {exc}); it runs unmeasured"
            )
            yield from self.iterable
            return
        ended, n = "left early", 0
        try:
            clock, next_n, next_t = self._clock, self._next_n, self._next_t
            for item in self.iterable:
                yield item
                n += 1
                if n >= next_n or clock() >= next_t:
                    self.n = n
                    stop, warning = self._sample()
                    if warning is not None:
                        warnings.warn(warning, CarbonBudgetWarning, stacklevel=2)
                    if stop:
                        ended = "budget"
                        return
                    next_n, next_t = self._next_n, self._next_t
            ended = "exhausted"
        except GeneratorExit:
            # break, return or an exception in the loop body: Python does not say which
            ended = "left early"
            raise
        except KeyboardInterrupt:
            ended = "interrupted"
            raise
        except BaseException:  # raised by the iterable (or a warning turned into an error)
            ended = "error"
            raise
        finally:
            self.n = n
            if not self._in_with or ended in ("exhausted", "budget"):
                self._end(ended)
            else:
                self._pending = ended

    def close(self) -> None:
        """End the loop now (like leaving it with ``break``); idempotent."""
        gen = self._gen() if self._gen is not None else None
        if gen is not None:
            gen.close()

    def __enter__(self) -> TrackedIter:
        self._in_with = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._in_with = False
        self.close()
        if self._started and not self._ended:
            if exc_type is None:
                self._end(self._pending)
            else:
                self._end("interrupted" if issubclass(exc_type, KeyboardInterrupt) else "error")

    # --- window, sampling, output -----------------------------------------------------------------

    def _begin(self) -> None:
        self.session = self.session or shared_session()
        current = self.session.current()  # this thread's measured cell or track() block
        if current is not None:
            self.measurement, self._view = current, current.view
        else:
            self.measurement = self.session.open(self.label, kind="loop", current=False)
            self._own = True
        session = self.session
        self._clock = session.sampler.clock
        self._every_s = self.every_s or session.sampler.interval_s
        intensity = session.intensity()
        self._g_per_kwh, self._pue = intensity.g_per_kwh, session.config.pue
        budgets = []
        if self.budget_kwh is not None:
            budgets.append(self.budget_kwh * J_PER_KWH)
        if self.budget_g is not None and self._g_per_kwh * self._pue > 0:
            budgets.append(self.budget_g / (self._g_per_kwh * self._pue) * J_PER_KWH)
        self._budget_j = min(budgets) if budgets else (math.inf if self.stop_at_budget else None)
        self._t0_s, self._e0 = self._read()
        self._next_t = self._t0_s + self._every_s

    def _read(self) -> tuple[float, Energy]:
        """(time s, energy) of the measurement's window so far: one read of every source."""
        session, measurement = self.session, self.measurement
        assert session is not None and measurement is not None  # set by _begin
        time_s, components = session.progress(measurement)
        return time_s, Energy.total(components.values())

    def _loop_energy(self) -> tuple[float, Energy]:
        """(elapsed s, energy) of the loop so far."""
        t_s, energy = self._read()
        return t_s - self._t0_s, energy - self._e0

    def _sample(self) -> tuple[bool, str | None]:
        """Read the energy, update the estimate, show it, check the budget; (stop?, warning)."""
        try:
            elapsed_s, energy = self._loop_energy()
            energy_j = energy.energy_j
            n = self.n
            self.predictor.add(n, elapsed_s, energy)
            est = self.estimate = self.predictor.estimate(self._g_per_kwh, self._pue)
            if (
                est is not None
                and est.is_prediction
                and (
                    self._recorded is None or (self._recorded.fraction or 0.0) < RECORD_AT_FRACTION
                )
            ):
                self._recorded = est
            later = [k for k in EARLY_SAMPLES if k > n]
            self._next_n = later[0] if later else math.inf
            self._next_t = self._t0_s + elapsed_s + self._every_s
            stop, warning = False, None
            budget_j = self._budget_j
            if budget_j is not None and est is not None:
                predicted_j = est.predicted_energy_j
                over = energy_j >= budget_j or (
                    predicted_j is not None
                    and predicted_j > budget_j
                    and self.predictor.checkpoints >= 3
                )
                if over and not self._warned and budget_j < math.inf:
                    self._warned, warning = True, self._budget_message(est)
                rate_j = est.energy_per_iteration_j
                if self.stop_at_budget:
                    if energy_j + rate_j > budget_j:
                        self.stopped_at_budget = stop = True
                    elif rate_j > 0:
                        self._next_n = min(
                            self._next_n, n + max(1, int((budget_j - energy_j) // rate_j))
                        )
            if est is not None:
                self._show(
                    format_estimate(est) + (" — over budget" if self._warned else ""), elapsed_s
                )
            return stop, warning
        except Exception as exc:  # never break the user's loop: report once, stop predicting
            self._next_n = self._next_t = math.inf
            _report(
                f"jupyter_carbon: loop prediction failed ({type(exc).__name__}: {exc}); "
                "the loop goes on unmeasured by track_iter"
            )
            return False, None

    def _budget_message(self, est: Estimate) -> str:
        name = f"loop {self.label!r}" if self.label else "the loop"
        budget = " and ".join(
            x
            for x in (
                self.budget_g and format_co2e(self.budget_g),
                self.budget_kwh and format_energy(self.budget_kwh * J_PER_KWH),
            )
            if x
        )
        if est.predicted is not None:  # a prediction
            p = est.predicted
            what = f"is predicted to use {format_energy_band(p.energy_j, p.low_j, p.high_j)}" + (
                f", {format_co2e(est.predicted_co2e.co2e_g)}"
                if est.predicted_co2e is not None
                else ""
            )
        else:
            what = f"has used {format_energy(est.energy_j)} after {est.iterations} iterations"
        then = (
            "it will stop at the budget"
            if self.stop_at_budget
            else "stop it, or pass stop_at_budget=True to end it at the budget"
        )
        return f"jupyter_carbon: {name} {what}, over its budget of {budget}; {then}"

    def _show(self, line: str, elapsed_s: float) -> None:
        view = self._view
        if view is not None and not isinstance(view, TextView):
            # the notebook view stores it (cheap); replaces this loop's last line
            view.note(line, key=id(self))
            return
        if self.measurement is not None and view is None and not self._own:
            return  # a --quiet cell
        if self._last_text_s is None and (
            elapsed_s < self._every_s or self.predictor.checkpoints < 3
        ):
            return  # too early or too short a loop to be worth a line
        if self._last_text_s is not None and elapsed_s - self._last_text_s < TEXT_EVERY_S:
            return
        self._last_text_s = elapsed_s
        _report(f"{self.label or 'loop'}: {line}")

    def _end(self, ended: str) -> None:
        if self._ended or self.measurement is None:
            return
        self._ended = True
        try:
            actual_j = self._loop_energy()[1].energy_j
        except Exception:
            actual_j = math.nan
        rec = self._recorded
        loop = {
            "iterations": self.n,
            "total": self.total,
            "predicted_energy_j": rec.predicted_energy_j if rec else None,
            "predicted_low_j": rec.predicted_low_j if rec else None,
            "predicted_high_j": rec.predicted_high_j if rec else None,
            "predicted_at_fraction": rec.fraction if rec else None,
            "actual_energy_j": actual_j,
            "energy_per_iteration_j": actual_j / self.n if self.n else None,
            "stopped_at_budget": self.stopped_at_budget,
            "ended": ended,
        }
        if self.label is not None:
            loop["label"] = self.label
        if self._budget_j is not None and self._budget_j < math.inf:
            loop["budget_j"] = self._budget_j
        self.loop = loop
        extra = self.measurement.extra
        if "loop" in extra and not self._own:  # a second loop in the same cell: keep them all
            extra.setdefault("loops", [extra["loop"]]).append(loop)
        extra["loop"] = loop
        if self._own:
            status = {"error": "error", "interrupted": "interrupted"}.get(ended, "ok")
            try:
                assert self.session is not None  # set by _begin, with the own window
                self.record = self.session.stop(self.measurement, status=status)
            except Exception as exc:
                _report(
                    "jupyter_carbon: could not close the loop's measurement "
                    f"({type(exc).__name__}: {exc})"
                )
        if self.stopped_at_budget:
            _report(
                f"jupyter_carbon: {self.label or 'loop'} stopped at its budget after {self.n}"
                + (f" of {self.total}" if self.total is not None else "")
                + f" iterations ({format_energy(actual_j)})"
            )
        elif self._last_text_s is not None:
            _report(
                f"{self.label or 'loop'}: {self.n} iterations, {format_energy(actual_j)}"
                + (
                    f" (predicted {format_energy(rec.predicted_energy_j)}"
                    f" at {rec.fraction or 0.0:.0%})"
                    if rec and rec.predicted_energy_j is not None
                    else ""
                )
            )


def _report(line: str) -> None:
    """One line on stderr, through ``tqdm.write`` while tqdm bars are open (so they stay intact)."""
    tqdm_module = sys.modules.get("tqdm")
    bar = getattr(tqdm_module, "tqdm", None) if tqdm_module is not None else None
    try:
        if bar is not None and getattr(bar, "_instances", None):
            bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)
    except Exception:
        pass
