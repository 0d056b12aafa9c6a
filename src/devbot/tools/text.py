"""What counts as a text file, and how its bytes decode so that a write gives them back."""

from __future__ import annotations

import codecs

SNIFF_BYTES = 8192


def is_binary(data: bytes) -> bool:
    return b"\0" in data[:SNIFF_BYTES]


def decode(data: bytes) -> tuple[str, str]:
    """Text and the encoding that writes it back byte for byte."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError:
            return data.decode("latin-1"), "latin-1"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"
