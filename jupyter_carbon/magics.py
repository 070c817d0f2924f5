"""``%%carbon`` and ``%carbon``: parse, delegate, turn errors into ``UsageError``.

The heavy lifting is in :mod:`jupyter_carbon.extension` (hooks) and the session; this module
only parses lines and dispatches subcommands. The ``Carbon`` configurable exposes the settings as
traitlets (``%config Carbon.interval = 0.5``, ``c.Carbon.region = "FR"`` in ipython_config.py).
"""

from __future__ import annotations

import ast
import itertools
from copy import deepcopy
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from traitlets import Bool, Bunch, Dict, Float, Int, TraitError, Undefined, Unicode, observe
from traitlets.config import Config as TraitletsConfig
from traitlets.config import Configurable

from .baseline import measure_baseline
from .config import SETTINGS, Config, ConfigError
from .display import show_summary
from .display.text import (
    budget_status,
    format_config,
    format_config_changes,
    format_status,
    plural,
)
from .formats.options import FORMATS
from .parse import CELL_USAGE, LineCommand, ParseError, parse_cell_line, parse_line
from .storage.export import export_records
from .units import format_power

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from .carbon_session import CarbonSession
    from .extension import CarbonExtension

__all__ = ["Carbon", "CarbonMagics", "HELP"]

HELP = (
    "jupyter_carbon — energy and CO2e of notebook cells\n"
    "\n"
    f"  {CELL_USAGE}\n"
    "      measure one cell: live totals while it runs, a report and plot when it ends\n"
    "      --items N   work items the cell processes: also report per item and per 1,000 items\n"
    "      --task T    reference task for per-item comparison (Power Hungry Processing), "
    "e.g. text-classification\n"
    "  %carbon on [--quiet] | off   "
    "measure every cell (compact one-line report; --quiet: record only)\n"
    "  %carbon status               sources in use, why others are missing, settings\n"
    "  %carbon summary              the session: totals, per-cell table and plots\n"
    "  %carbon config key=value …   change settings (no arguments: show them)\n"
    "  %carbon budget 20g | 1.5kg | off   a session budget: a note at 80 % and at 100 %\n"
    "  %carbon baseline [SECONDS]   "
    "measure idle power (default 10 s); records then show marginal energy\n"
    "  %carbon history              earlier sessions in this folder\n"
    "  %carbon export PATH.csv|.json\n"
    "  %carbon export model-card [--label L …] [--training-type T]   "
    "the model card's co2_eq_emissions YAML\n"
    "  %carbon export methods [latex] [--label L …] [--items N] [--task T]   "
    "a methods paragraph for a paper\n"
    "  %carbon export sci --items N [--label L …]   SCI per item: ((E × I) + M) / R\n"
    "  %carbon reset                forget this session's records\n"
    "  %carbon help                 this text\n"
    "\n"
    "Settings (also JUPYTER_CARBON_<NAME> variables and %config Carbon.<name>):\n"
) + "\n".join(f"  {name:<14} {s.help}" for name, s in SETTINGS.items())


_DEFAULT = Config()


class Carbon(Configurable):
    """Settings of jupyter_carbon as traitlets; changes go to the measuring session."""

    # defaults from Config; an unset optional is "" (or a negative intensity) here
    interval = Float(_DEFAULT.interval, help=SETTINGS["interval"].help).tag(config=True)
    scope = Unicode(_DEFAULT.scope, help=SETTINGS["scope"].help).tag(config=True)
    region = Unicode("", help=SETTINGS["region"].help).tag(config=True)
    intensity = Float(-1.0, help=SETTINGS["intensity"].help + " (negative: unset)").tag(config=True)
    pue = Float(_DEFAULT.pue, help=SETTINGS["pue"].help).tag(config=True)
    live = Unicode("", help=SETTINGS["live"].help).tag(config=True)
    zone = Unicode("", help=SETTINGS["zone"].help).tag(config=True)
    powercap_root = Unicode(_DEFAULT.powercap_root, help=SETTINGS["powercap_root"].help).tag(
        config=True
    )
    cgroup_root = Unicode(_DEFAULT.cgroup_root, help=SETTINGS["cgroup_root"].help).tag(config=True)
    dmi_root = Unicode(_DEFAULT.dmi_root, help=SETTINGS["dmi_root"].help).tag(config=True)
    hwmon_root = Unicode(_DEFAULT.hwmon_root, help=SETTINGS["hwmon_root"].help).tag(config=True)
    power = Dict(help=SETTINGS["power"].help).tag(config=True)
    log_dir = Unicode(_DEFAULT.log_dir, help=SETTINGS["log_dir"].help).tag(config=True)
    memory_records = Int(_DEFAULT.memory_records, help=SETTINGS["memory_records"].help).tag(
        config=True
    )
    store_source = Bool(_DEFAULT.store_source, help=SETTINGS["store_source"].help).tag(config=True)
    dask = Unicode(_DEFAULT.dask, help=SETTINGS["dask"].help).tag(config=True)
    mlflow = Unicode(_DEFAULT.mlflow, help=SETTINGS["mlflow"].help).tag(config=True)
    wandb = Unicode(_DEFAULT.wandb, help=SETTINGS["wandb"].help).tag(config=True)
    embodied = Unicode(_DEFAULT.embodied, help=SETTINGS["embodied"].help).tag(config=True)
    lifetime_years = Float(_DEFAULT.lifetime_years, help=SETTINGS["lifetime_years"].help).tag(
        config=True
    )
    budget_g = Float(-1.0, help=SETTINGS["budget_g"].help + " (negative: unset)").tag(config=True)

    def __init__(self, extension: CarbonExtension | None = None, **kwargs: Any) -> None:
        # config applied by the base class must not reach a session yet
        self.extension: CarbonExtension | None = None
        #: settings of the IPython config whose value has the wrong type (left at their default)
        self.rejected: dict[str, Any] = {}
        super().__init__(**kwargs)
        self.extension = extension
        # Values from ipython_config.py (self.config) apply on top of the environment, one by
        # one: a wrong one is said (with the value used instead) and the others still apply.
        section = self.config.get("Carbon", {}) if self.config else {}
        if extension is None:
            return
        session = extension.session
        for name, value in section.items():
            if name not in SETTINGS:
                continue
            if name in self.rejected:
                session.problem(_ignored(name, value, "the wrong type", session))
                continue
            try:
                session.configure(**{name: self._value(name, value)})
            except ConfigError as exc:
                session.problem(_ignored(name, value, str(exc), session))

    def _load_config(
        self,
        cfg: TraitletsConfig,
        section_names: list[str] | None = None,
        traits: dict[str, Any] | None = None,
    ) -> None:
        """traitlets' loading, less the values of the wrong type (kept in ``rejected``): one
        wrong value in ipython_config.py must not make ``%load_ext`` fail."""
        cfg = deepcopy(cfg)  # the shell's config is not ours to change
        section = cfg["Carbon"] if "Carbon" in cfg else None
        if isinstance(section, dict):
            own = self.traits(config=True)
            for name, value in list(section.items()):
                if name in own and isinstance(value, (str, int, float, bool, dict, type(None))):
                    try:
                        own[name]._validate(self, value)  # traitlets: check and coerce
                    except TraitError:
                        self.rejected[name] = section.pop(name)
        super()._load_config(cfg, section_names, traits)

    @staticmethod
    def _value(name: str, value: Any) -> Any:
        if name in ("intensity", "budget_g") and isinstance(value, (int, float)) and value < 0:
            return None
        if name in ("region", "live", "zone", "log_dir") and value == "":
            return None
        return value

    @observe(*SETTINGS)
    def _changed(self, change: Bunch) -> None:
        if self.extension is None:
            return
        name = change["name"]
        try:
            self.extension.session.configure(**{name: self._value(name, change["new"])})
        except ConfigError as exc:
            self._put_back(name, change["old"])
            raise UsageError(str(exc)) from None

    def _put_back(self, name: str, old: Any) -> None:
        """Undo a rejected value without telling the session, and stay connected to it whatever
        happens (a first change's old value is traitlets' Undefined: the default then)."""
        extension, self.extension = self.extension, None
        try:
            self.set_trait(name, self.traits()[name].default() if old is Undefined else old)
        except Exception:
            pass
        finally:
            self.extension = extension


def _ignored(name: str, value: Any, why: str, session: CarbonSession) -> str:
    used = getattr(session.config, name, None)
    return (
        f"c.Carbon.{name} = {value!r} in the IPython config is ignored ({why}); "
        f"using {used!r}: fix or remove it in ipython_config.py"
    )


@magics_class
class CarbonMagics(Magics):
    def __init__(self, shell: InteractiveShell, extension: CarbonExtension) -> None:
        super().__init__(shell)
        self.extension = extension

    @property
    def session(self) -> CarbonSession:
        return self.extension.session

    @cell_magic
    def carbon(self, line: str, cell: str) -> Any:
        """Measure this cell's energy and CO2e. See ``%carbon help``."""
        try:
            options = parse_cell_line(line)
        except ParseError as exc:
            raise UsageError(str(exc)) from None
        if options.help:
            print(HELP)
            return None
        # Reached when no run-cell hook measures the cell (a silent cell such as a .ipy file run
        # with %run, the body of %%time or %%timeit, a run_cell_magic call): measure the body here.
        ext = self.extension
        measurement = ext.open_magic(options)
        error: BaseException | None = None
        try:
            return _run_body(self.shell, cell)
        except BaseException as exc:
            error = exc
            raise
        finally:
            ext.close_magic(measurement, error)

    # IPython types the named form as a union it cannot call
    @line_magic("carbon")  # type: ignore[arg-type]
    def carbon_line(self, line: str) -> Any:
        """%carbon on|off|status|summary|config|budget|baseline|history|export|reset|help"""
        try:
            command = parse_line(line)
        except ParseError as exc:
            raise UsageError(str(exc)) from None
        handler = getattr(self, f"_cmd_{command.name}")
        try:
            return handler(command)
        except (ConfigError, ValueError) as exc:
            raise UsageError(str(exc)) from None

    # --- subcommands -----------------------------------------------------------------------------

    def _cmd_on(self, command: LineCommand) -> None:
        self.extension.auto = True
        self.extension.auto_quiet = "--quiet" in command.args
        print(
            "jupyter_carbon: measuring every cell"
            + (" without display" if self.extension.auto_quiet else "")
            + " (%carbon off to stop)"
        )

    def _cmd_off(self, command: LineCommand) -> None:
        self.extension.auto = False
        print("jupyter_carbon: stopped measuring every cell")

    def _cmd_status(self, command: LineCommand) -> None:
        print(format_status(self.session, auto=self.extension.auto))

    def _cmd_summary(self, command: LineCommand) -> None:
        return show_summary(self.shell, self.session)

    def _cmd_reset(self, command: LineCommand) -> None:
        count = self.session.ledger.made  # those dropped from memory too
        self.session.reset()
        print(
            f"jupyter_carbon: forgot {plural(count, 'record')} of this session "
            "(the log on disk keeps them)"
        )

    def _cmd_help(self, command: LineCommand) -> None:
        print(HELP)

    def _cmd_config(self, command: LineCommand) -> None:
        if not command.settings:
            print(format_config(self.session.config))
            return
        before = self.session.config
        self.session.configure(**command.settings)
        print(format_config_changes(before, self.session, command.settings))

    def _cmd_baseline(self, command: LineCommand) -> None:
        seconds = command.seconds if command.seconds is not None else 10.0

        def progress(done: float, total: float) -> None:
            print(
                f"\rmeasuring idle power: {done:.0f}/{total:.0f} s — keep the machine idle",
                end="",
                flush=True,
            )

        baseline = measure_baseline(self.session, seconds, progress=progress)
        parts = ", ".join(f"{k.upper()} {format_power(v)}" for k, v in baseline.items())
        print(
            f"\rjupyter_carbon: idle baseline {parts} "
            f"(total {format_power(sum(baseline.values()))}); "
            "records now also show energy above it (marginal)"
        )

    def _cmd_budget(self, command: LineCommand) -> None:
        if command.settings:
            self.session.configure(**command.settings)
        print(f"jupyter_carbon: {budget_status(self.session)}")

    def _cmd_history(self, command: LineCommand) -> None:
        # the log readers load when history is asked for, not at %load_ext
        from .display.history_text import print_history

        print_history(self.session)

    def _cmd_export(self, command: LineCommand) -> None:
        if command.args[0] in FORMATS:
            # not at %load_ext: the formats (and jupyter_carbon.reference they cite) load when asked
            from .formats.publish import render_session

            print(render_session(self.session, command.args), end="")
            return
        # the idle stretches between cells too (kind "idle"), in order of start; those dropped
        # from memory read back from the log, one at a time
        written = itertools.count()
        records = self.session.every_record(idle=True, by_start=True)
        path = export_records((r for r, _ in zip(records, written)), command.args[0])
        print(f"jupyter_carbon: wrote {plural(next(written), 'record')} to {path}")


def _run_body(shell: Any, cell: str) -> Any:
    """Run ``cell`` in the user namespace like %%time does: the last expression is returned."""
    source = shell.transform_cell(cell)
    tree = shell.compile.ast_parse(source)
    tree = shell.transform_ast(tree)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    namespace = shell.user_ns
    exec(shell.compile(tree, "<%%carbon>", "exec"), namespace)
    if last is not None:
        return eval(shell.compile(last, "<%%carbon>", "eval"), namespace)
    return None
