"""Clean text written by people on a forge (comments, issues) before an agent reads it.

Hidden HTML comments and invisible or direction-changing characters let a comment say one
thing on screen and another to a model (prompt injection); both are removed.
"""

from __future__ import annotations

import re
import unicodedata

_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_INVISIBLE_RANGES = (
    (0x200B, 0x200F),  # zero-width space/joiners, LRM, RLM
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x2064),  # word joiner, invisible operators
    (0x2066, 0x2069),  # bidi isolates
    (0xFE00, 0xFE0F),  # variation selectors
    (0xE0000, 0xE007F),  # tag characters ("ASCII smuggling")
    (0xE0100, 0xE01EF),  # variation selectors supplement
)
_INVISIBLE_SINGLE = {0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x180E, 0x3164, 0xFEFF, 0xFFA0}


def _invisible(char: str) -> bool:
    code = ord(char)
    if code in _INVISIBLE_SINGLE or any(low <= code <= high for low, high in _INVISIBLE_RANGES):
        return True
    return unicodedata.category(char) == "Cf"


def clean_untrusted(text: str) -> str:
    """`text` without HTML comments (also an unclosed one) and invisible characters."""
    without_comments = _HTML_COMMENT.sub("", text)
    return "".join(char for char in without_comments if not _invisible(char)).strip()
