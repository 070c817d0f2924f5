"""``render``: one publication format of the selected records, as text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..sources.cpu_model import read_cpu_info
from .figures import Figures, figures_of
from .methods import latex_escape, methods_text
from .model_card import model_card_yaml
from .options import FORMATS, PublishError, PublishOptions, parse_publish_args
from .sci import Sci, resolve_embodied, sci_of

if TYPE_CHECKING:
    from ..carbon_session import CarbonSession
    from ..record import WindowRecord

__all__ = ["render", "render_session"]


def _embodied_note(options: PublishOptions, figures: Figures) -> tuple[str, Sci | None]:
    embodied, why = resolve_embodied(
        options.embodied, dmi_root=options.dmi_root, this_machine=options.this_machine
    )
    units = options.items if options.items is not None else figures.items
    if units is None:
        return "embodied emissions of the hardware are not included", None
    sci = sci_of(figures, units, embodied, why, options.lifetime_years)
    if sci.embodied_g is None:
        return (
            "embodied emissions of the hardware are not included (M not included in the SCI below)",
            sci,
        )
    return (
        "the SCI below includes embodied emissions "
        f"(M, estimated from {embodied.citation if embodied else ''})",
        sci,
    )


def render(records: Sequence[WindowRecord], options: PublishOptions) -> str:
    """The text of ``options.kind`` for ``records``; raises :class:`PublishError` (one line)."""
    if options.kind not in FORMATS:
        raise PublishError(f"unknown format {options.kind!r}; choose one of: {', '.join(FORMATS)}")
    figures = figures_of(records, options.labels, cpu_model=options.cpu_model)
    if options.kind == "model-card":
        return model_card_yaml(figures, training_type=options.training_type)
    if options.kind == "sci":
        embodied, why = resolve_embodied(
            options.embodied, dmi_root=options.dmi_root, this_machine=options.this_machine
        )
        return sci_of(figures, options.items, embodied, why, options.lifetime_years).line() + "\n"
    note, sci = _embodied_note(options, figures)
    text = methods_text(
        figures, style=options.style, items=options.items, task=options.task, embodied_note=note
    )
    if sci is None:
        return text
    return (
        text + "\n" + (latex_escape(sci.line()) if options.style == "latex" else sci.line()) + "\n"
    )


def render_session(session: CarbonSession, args: Sequence[str]) -> str:
    """``%carbon export model-card|methods|sci …`` for ``session``: its records, its settings
    (``embodied``, ``lifetime_years``, ``dmi_root``) and this machine's CPU model name."""
    config = session.config
    options = parse_publish_args(
        list(args),
        embodied=config.embodied,
        lifetime_years=config.lifetime_years,
        dmi_root=config.dmi_root,
        cpu_model=read_cpu_info().model_name,
    )
    return render(list(session.every_record()), options)  # those dropped from memory too
