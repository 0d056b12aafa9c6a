"""Benchmark the bounds on one action: failing EDITs on huge files, a catastrophic search.

    .venv/bin/python bench/edit_bench.py [--lines 20000,400000] [--repeats 3]

Each EDIT case goes through `Workspace.edit_file` (reading and decoding the file included) on
a file of each `--lines` size:
- ambiguous_exact: `x = 1` on every line, search `x = 1` (the red-team case);
- ambiguous_shifted: `    x = 1` on every line, a block of lines/400 unindented copies;
- not_found: generated code lines, a block of lines/400 of them with a typo in each line.
The search case runs `^(a+)+$` over the largest file size plus one 41-character trap line,
with `search_timeout_s=1`: the time until search_files returns, and whether the hit before
the trap was kept. Medians of `--repeats`; figures go to bench/results/edit_bounds.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devbot.tools import ToolResult, Workspace

RESULTS = Path(__file__).parent / "results"


def _code(lines: int) -> list[str]:
    return [f"    value_{i} = compute({i}, 'x' * {i % 7})" for i in range(lines)]


def _typo_block(lines: int) -> str:
    middle = _code(lines)[lines // 2 :][: lines // 400]
    return "".join(line.replace("compute", "compite") + "\n" for line in middle)


CASES: dict[str, tuple[Callable[[int], str], Callable[[int], str]]] = {
    "ambiguous_exact": (lambda n: "x = 1\n" * n, lambda n: "x = 1\n"),
    "ambiguous_shifted": (lambda n: "    x = 1\n" * n, lambda n: "x = 1\n" * (n // 400)),
    "not_found": (lambda n: "\n".join(_code(n)) + "\n", _typo_block),
}


def _median_s(call: Callable[[], ToolResult], repeats: int) -> tuple[float, ToolResult]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    assert result is not None
    return statistics.median(times), result


def measure_edit(case: str, lines: int, repeats: int, base: Path) -> dict[str, Any]:
    text, search = CASES[case]
    root = base / f"{case}-{lines}"
    root.mkdir()
    (root / "big.py").write_text(text(lines))
    edits = [(search(lines), "replaced\n")]
    workspace = Workspace(root)
    seconds, result = _median_s(lambda: workspace.edit_file("big.py", edits), repeats)
    says = result.output.split("the search text was ")[1].split(" in big.py")[0]
    return {"case": case, "lines": lines, "seconds": round(seconds, 4), "says": says}


def measure_search(lines: int, repeats: int, base: Path) -> dict[str, Any]:
    root = base / "search"
    root.mkdir()
    normal = "".join(f"line {i}: nothing to see\n" for i in range(lines // 2))
    (root / "big.txt").write_text("aaa\n" + normal + "a" * 40 + "!\n" + normal)
    workspace = Workspace(root, search_timeout_s=1.0)
    seconds, result = _median_s(lambda: workspace.search_files(r"^(a+)+$"), repeats)
    return {
        "lines": lines,
        "search_timeout_s": 1.0,
        "seconds": round(seconds, 3),
        "kept_hit_before_trap": result.output.startswith("big.txt:1: aaa"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", default="20000,400000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(size) for size in args.lines.split(",")]
    with tempfile.TemporaryDirectory(prefix="devbot-edit-bench-") as tmp:
        edits = [measure_edit(c, n, args.repeats, Path(tmp)) for c in CASES for n in sizes]
        search = measure_search(max(sizes), args.repeats, Path(tmp))
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.system()} {platform.release()}, {platform.machine()}",
        "python": sys.version.split()[0],
        "repeats": args.repeats,
        "edits": edits,
        "search": search,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "edit_bounds.json").write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    lines = [
        f"# Bounds on one action ({result['date']}, {result['machine']})",
        "",
        f"Median of {args.repeats}; `Workspace.edit_file` including reading the file.",
        "",
        "| EDIT case | lines | seconds | says |",
        "| --- | --- | --- | --- |",
    ]
    for row in edits:
        lines.append(f"| {row['case']} | {row['lines']} | {row['seconds']:.3f} | {row['says']} |")
    lines += [
        "",
        f"search_files `^(a+)+$` over {search['lines']} lines and a trap line, "
        f"search_timeout_s=1: returned after {search['seconds']:.2f} s; "
        f"hit before the trap kept: {search['kept_hit_before_trap']}.",
    ]
    text = "\n".join(lines) + "\n"
    (RESULTS / "edit_bounds.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
