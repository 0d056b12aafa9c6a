"""Match a search_files regex against the lines of files, in a child process killed on time.

Python's `re` backtracks: a pattern with nested repetition such as `(a+)+$` takes time
exponential in the length of one line, and a match running in C cannot be interrupted from
Python. So the matching runs in a child interpreter that streams its hits back one line at a
time; when the time is up the child is killed and the hits it sent so far are kept. A
catastrophic pattern costs one CPU core for the time allowed, no more.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devbot.tools.text import decode, is_binary

MAX_LINE_CHARS = 300
CHILD = "from devbot.tools.search import child_main; child_main()"


@dataclass(frozen=True)
class SearchOutcome:
    """Hits as `name:number: line`; `searched` counts text files begun; `finished` is False
    when the time ran out first."""

    hits: list[str]
    searched: int
    finished: bool


def search_lines(
    pattern: str, files: Sequence[tuple[str, Path]], max_hits: int, timeout_s: float
) -> SearchOutcome:
    """Lines of `files` (shown name, path) matching `pattern`, stopping at `max_hits`.

    The pattern must compile (the caller checks it, to word the error for the model).
    """
    request = {
        "pattern": pattern,
        "files": [(name, str(path)) for name, path in files],
        "max_hits": max_hits,
    }
    child = subprocess.Popen(
        [sys.executable, "-P", "-c", CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        output, errors = child.communicate(json.dumps(request).encode(), timeout=timeout_s)
        finished = True
    except subprocess.TimeoutExpired:
        child.kill()
        output, errors = child.communicate()
        finished = False
    if finished and child.returncode != 0:
        last = errors.decode("utf-8", "replace").strip().splitlines()[-1:]
        raise OSError(f"the search process failed ({''.join(last) or child.returncode})")
    hits, searched = [], 0
    for line in output.split(b"\n")[:-1]:
        record = json.loads(line)
        if record is None:
            searched += 1
        else:
            hits.append(record)
    return SearchOutcome(hits, searched, finished)


def child_main() -> None:
    """The child: read the request on stdin, write one JSON value per line on stdout
    (null when a text file is begun, a string for each hit)."""
    request = json.load(sys.stdin)
    regex = re.compile(request["pattern"])
    left = request["max_hits"]
    for name, path in request["files"]:
        try:
            data = Path(path).read_bytes()
        except OSError:
            continue
        if is_binary(data):
            continue
        _send(None)
        for number, line in enumerate(decode(data)[0].split("\n"), 1):
            if regex.search(line):
                _send(f"{name}:{number}: {line.rstrip(chr(13))[:MAX_LINE_CHARS]}")
                left -= 1
                if left <= 0:
                    return


def _send(record: str | None) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
