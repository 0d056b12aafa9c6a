"""OutputBuffer keeps what `clip` would show of a stream, whatever its chunking."""

from __future__ import annotations

import random

import pytest

from devbot.clipping import clip
from devbot.sandbox.output import OutputBuffer


def _fed(data: bytes, max_chars: int, seed: int) -> str:
    chunks = random.Random(seed)
    buffer = OutputBuffer(max_chars)
    position = 0
    while position < len(data):
        size = chunks.randint(1, 700)
        buffer.feed(data[position : position + size])
        position += size
    return buffer.text()


@pytest.mark.parametrize("max_chars", [0, 1, 10, 100, 1000])
@pytest.mark.parametrize("seed", range(5))
def test_streamed_output_equals_clip_of_the_whole(max_chars: int, seed: int) -> None:
    lines = [f"line {i} é€ {'x' * (i % 37)}\n" for i in range(400)]
    data = "".join(lines).encode()
    assert _fed(data, max_chars, seed) == clip(data.decode(), max_chars)


def test_short_output_is_kept_whole_and_bad_bytes_are_replaced() -> None:
    data = b"ok \xff\xfe end\n"
    assert _fed(data, 1000, 0) == data.decode(errors="replace")


def test_a_long_stream_keeps_head_tail_and_counts_the_middle() -> None:
    buffer = OutputBuffer(100)
    buffer.feed(b"HEAD\n")
    for _ in range(1000):
        buffer.feed(b"m" * 999 + b"\n")
    buffer.feed(b"TAIL\n")
    text = buffer.text()
    assert text.startswith("HEAD\n")
    assert text.endswith("TAIL\n")
    assert "characters clipped" in text
    assert len(text) < 200
