"""Which GPUs this process sees: the runtimes' visibility variables, parsed as they parse them.

``CUDA_VISIBLE_DEVICES`` (NVIDIA) holds indices or UUID prefixes (``GPU-…``), truncated at the
first invalid entry as CUDA does. On AMD, ``ROCR_VISIBLE_DEVICES`` (indices or UUIDs) filters
first, then ``HIP_VISIBLE_DEVICES`` (or, when unset, ``CUDA_VISIBLE_DEVICES``) indexes into what
is left, as the ROCm runtime does.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["visible_indices", "amd_visible_indices"]


def visible_indices(env_value: str | None, uuids: list[str]) -> list[int]:
    """Indices selected by a ``CUDA_VISIBLE_DEVICES``-style value (None: all of them)."""
    if env_value is None:
        return list(range(len(uuids)))
    chosen: list[int] = []
    for item in (part.strip() for part in env_value.split(",")):
        if item.isdigit() and int(item) < len(uuids):
            index = int(item)
        else:
            matches = [i for i, uuid in enumerate(uuids) if item and uuid.startswith(item)]
            if len(matches) != 1:
                break  # CUDA ignores this entry and all after it
            index = matches[0]
        if index in chosen:
            break
        chosen.append(index)
    return chosen


def amd_visible_indices(environ: Mapping[str, str], uuids: list[str]) -> list[int]:
    """Indices (in HIP order) visible to this process under the ROCm visibility variables."""
    order = list(range(len(uuids)))
    rocr = environ.get("ROCR_VISIBLE_DEVICES")
    if rocr is not None:
        order = [order[i] for i in visible_indices(rocr, uuids)]
    hip = environ.get("HIP_VISIBLE_DEVICES")
    if hip is None:
        hip = environ.get("CUDA_VISIBLE_DEVICES")
    if hip is not None:
        order = [order[i] for i in visible_indices(hip, [uuids[j] for j in order])]
    return order
