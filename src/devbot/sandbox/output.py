"""Collect a command's output in bounded memory: its first and last characters, and a count.

A command may print gigabytes; devbot keeps only what `clipping.clip` would show of it. Bytes
are decoded as they arrive (leniently, so a cut never splits a character), the first
`max_chars` characters are kept, then a sliding window of the last `max_chars`, and everything
in between is only counted. `text()` equals `clip` of the whole decoded output.
"""

from __future__ import annotations

import codecs
from collections import deque

from devbot.clipping import clip, clip_ends


class OutputBuffer:
    """Head and tail of a byte stream, at most about 2 x `max_chars` characters held."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max(max_chars, 0)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._head: list[str] = []
        self._head_len = 0
        self._tail: deque[str] = deque()
        self._tail_len = 0
        self._total = 0

    def feed(self, data: bytes) -> None:
        self._add(self._decoder.decode(data))

    def text(self) -> str:
        """The clipped output (call once the stream has ended)."""
        self._add(self._decoder.decode(b"", final=True))
        head = "".join(self._head)
        tail = "".join(self._tail)[-self.max_chars :] if self.max_chars else ""
        if self._total == len(head) + len(tail):
            return clip(head + tail, self.max_chars)
        return clip_ends(head, tail, self._total, self.max_chars)

    def _add(self, text: str) -> None:
        if not text:
            return
        self._total += len(text)
        room = self.max_chars - self._head_len
        if room > 0:
            self._head.append(text[:room])
            self._head_len += min(room, len(text))
            text = text[room:]
        if not text or not self.max_chars:
            return
        if len(text) >= self.max_chars:
            self._tail.clear()
            text = text[-self.max_chars :]
            self._tail_len = 0
        self._tail.append(text)
        self._tail_len += len(text)
        while self._tail_len - len(self._tail[0]) >= self.max_chars:
            self._tail_len -= len(self._tail.popleft())
