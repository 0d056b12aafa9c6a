"""HTTP/1.1 spoken by hand over sockets, for clients no library would be: stalled, oversized,
chunked without end, malformed. Waits are on socket events (readable, closed), never sleeps.
"""

from __future__ import annotations

import json
import selectors
import socket
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body or b"{}")


def connect(port: int, timeout: float = 30.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def head(method: str, path: str, headers: Sequence[tuple[str, str | bytes]]) -> bytes:
    """A request line and headers; values may be bytes (to send what is not ASCII)."""
    lines = [f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()]
    for name, value in headers:
        raw = value if isinstance(value, bytes) else value.encode("latin-1")
        lines.append(name.encode() + b": " + raw + b"\r\n")
    return b"".join(lines) + b"\r\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def read_answer(sock: socket.socket) -> Answer | None:
    """The server's answer, or None when it closed or reset the connection without one."""
    buffer = b""
    try:
        while b"\r\n\r\n" not in buffer:
            data = sock.recv(CHUNK)
            if not data:
                return None
            buffer += data
        top, _, rest = buffer.partition(b"\r\n\r\n")
        status_line, *lines = top.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            data = sock.recv(CHUNK)
            if not data:
                break
            rest += data
    except (ConnectionResetError, BrokenPipeError):
        return None
    return Answer(int(status_line.split()[1]), headers, rest[:length])


def exchange(port: int, request: bytes, timeout: float = 30.0) -> Answer | None:
    """Send one whole request on a new connection; its answer (None: closed without one)."""
    with connect(port, timeout) as sock:
        try:
            sock.sendall(request)
        except (ConnectionResetError, BrokenPipeError):
            return None
        return read_answer(sock)


def filler(total: int) -> Iterator[bytes]:
    """`total` bytes of filler, 64 KiB at a time, never all in memory."""
    data = b"x" * CHUNK
    for _ in range(total // CHUNK):
        yield data


def pieces(body: bytes) -> Iterator[bytes]:
    """`body` in 64 KiB pieces."""
    return (body[start : start + CHUNK] for start in range(0, len(body), CHUNK))


def upload_chunked(
    port: int, headers: Sequence[tuple[str, str]], parts: Iterable[bytes]
) -> tuple[int, Answer | None]:
    """POST `parts` as chunks, stopping as soon as the server answers or closes the
    connection; (body bytes sent, the answer or None when closed without one)."""
    sent = 0
    with connect(port, timeout=60) as sock:
        sock.sendall(head("POST", "/webhook", [*headers, ("Transfer-Encoding", "chunked")]))
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            try:
                for part in parts:
                    if selector.select(timeout=0):
                        break
                    sock.sendall(chunk(part))
                    sent += len(part)
                else:
                    sock.sendall(b"0\r\n\r\n")
            except (ConnectionResetError, BrokenPipeError):
                return sent, None
        return sent, read_answer(sock)


def wait_closed(
    sockets: Iterable[socket.socket], timeout: float, until_open: int = 0
) -> set[socket.socket]:
    """Wait until the server has closed all but `until_open` of `sockets` (EOF or reset;
    anything it sends first is read and dropped), at most `timeout` s (0: look once, without
    waiting); the sockets still open at the end."""
    still_open = set(sockets)
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        for sock in still_open:
            selector.register(sock, selectors.EVENT_READ)
        while len(still_open) > until_open:
            left = deadline - time.monotonic()
            events = selector.select(timeout=max(0.0, left))
            for key, _ in events:
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    if sock.recv(CHUNK):
                        continue
                except ConnectionResetError:
                    pass
                selector.unregister(sock)
                still_open.discard(sock)
            if not events and left <= 0:
                break
    return still_open


def proc_figure(pid: int, name: str) -> int:
    """A memory figure of process `pid` from /proc/PID/status (`VmRSS`, `VmHWM`), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return int(value.split()[0]) * 1024
    raise KeyError(name)
