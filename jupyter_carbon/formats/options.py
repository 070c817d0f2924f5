"""What to publish: the options of ``%carbon export model-card|methods|sci`` and the report's.

Light on purpose (imported by the magics' parser): no figures, tables or third-party code.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FORMATS",
    "PublishError",
    "PublishOptions",
    "parse_publish_args",
    "PUBLISH_USAGE",
    "DEFAULT_LIFETIME_YEARS",
]

#: What ``%carbon export`` and ``jupyter-carbon report`` can write besides CSV/JSON/HTML.
FORMATS = ("model-card", "methods", "sci")
DEFAULT_LIFETIME_YEARS = 4.0
PUBLISH_USAGE = (
    "%carbon export model-card|methods [markdown|latex]|sci [--label L …] [--items N] [--task T] "
    "[--training-type T] [--embodied auto|none|KEY|KG] [--lifetime-years Y]"
)


class PublishError(ValueError):
    """Bad input for a publication format (unknown label, no records, bad option); one line."""


@dataclass(frozen=True)
class PublishOptions:
    """What to publish and how (see ``publish.render``)."""

    kind: str
    labels: tuple[str, ...] = ()
    style: str = "markdown"  # methods: markdown or latex
    items: int | None = None
    task: str | None = None
    training_type: str | None = None
    embodied: str | None = "auto"
    lifetime_years: float = DEFAULT_LIFETIME_YEARS
    cpu_model: str | None = None
    dmi_root: str = "/sys/class/dmi/id"
    #: the records were made on this machine (``embodied=auto`` may match it)
    this_machine: bool = True


_VALUED = {"--label": "labels", "-l": "labels", "--items": "items", "-n": "items", "--task": "task",
           "--training-type": "training_type", "--embodied": "embodied",
           "--lifetime-years": "lifetime_years"}  # fmt: skip


def _positive(name: str, text: str, kind: type) -> float:
    try:
        value = kind(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise PublishError(f"{name} {text!r} is not a number; usage: {PUBLISH_USAGE}") from None
    if not value > 0:
        raise PublishError(f"{name} {text!r} must be positive; usage: {PUBLISH_USAGE}")
    return value


def parse_publish_args(args: list[str] | tuple[str, ...], **defaults: object) -> PublishOptions:
    """``["methods", "latex", "--items", "1000"]`` → PublishOptions; raises PublishError."""
    if not args or args[0] not in FORMATS:
        got = args[0] if args else ""
        raise PublishError(
            f"unknown format {got!r}; choose one of: {', '.join(FORMATS)} "
            "(or a path ending in .csv or .json)"
        )
    kind, rest = args[0], list(args[1:])
    values: dict[str, object] = dict(defaults)
    labels: list[str] = []
    if kind == "methods" and rest and not rest[0].startswith("-"):
        style = rest.pop(0).lower()
        if style not in ("markdown", "latex"):
            raise PublishError(f"unknown methods format {style!r}; choose markdown or latex")
        values["style"] = style
    i = 0
    while i < len(rest):
        name, eq, inline = rest[i].partition("=") if rest[i].startswith("--") else (rest[i], "", "")
        if name not in _VALUED:
            raise PublishError(f"unknown option {rest[i]!r}; usage: {PUBLISH_USAGE}")
        if not eq:
            i += 1
            if i >= len(rest):
                raise PublishError(f"{name} needs a value; usage: {PUBLISH_USAGE}")
            inline = rest[i]
        key = _VALUED[name]
        if key == "labels":
            labels.append(inline)
        elif key == "items":
            values["items"] = int(_positive(name, inline, int))
        elif key == "lifetime_years":
            values["lifetime_years"] = float(_positive(name, inline, float))
        else:
            values[key] = inline
        i += 1
    return PublishOptions(kind, labels=tuple(labels), **values)  # type: ignore[arg-type]
