"""Text from records made safe to show: on a terminal and in spreadsheet cells.

Labels, flags, file names and the other strings of a log are whatever a notebook (or whoever
edited the file) put there. ``visible`` shows control characters escaped, so a label cannot
move the cursor, recolour the terminal, end a line and forge the next one, or reverse the text
that follows (bidi overrides). ``csv_cell`` applies OWASP's rule against formula injection: a
text cell starting with ``= + - @``, a tab or a carriage return gets a leading apostrophe, so a
spreadsheet shows it instead of evaluating ``=HYPERLINK(...)``.
"""

from __future__ import annotations

import re
from typing import TypeVar

__all__ = ["visible", "csv_cell", "FORMULA_STARTS"]

_T = TypeVar("_T")

#: C0 and C1 controls, DEL, line/paragraph separators, bidi marks/overrides/isolates, surrogates.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: What starts a formula in Excel, LibreOffice and Google Sheets (OWASP "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object, limit: int | None = None) -> str:
    """``text`` (any value: ``str()`` of it) on one line, control characters shown as escapes
    (``\\x1b``, ``\\n``, ``\\u202e``); cut to ``limit`` characters with ``…`` when longer."""
    text = text if isinstance(text, str) else str(text)
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return _UNSAFE.sub(_escape, text)


def csv_cell(value: _T) -> _T | str:
    """``value`` for a CSV cell: text that a spreadsheet would run as a formula gets a leading
    apostrophe; anything else (numbers, None, other text) is returned as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
