"""One action cannot hold the host: EDIT matching is linear in the file's size, a search
with a catastrophic regex is killed on time, and a step that would overrun the run's wall
time is ended so that the run ends with time_limit.

The red-team pass kept the host CPU busy 91 s with one ambiguous EDIT on a 400,000-line file,
past the run's 20 s wall limit. No EDIT test holds work to a number of seconds: each compares
the time on BIG lines with the time on SMALL lines (BIG / SMALL = 20) in the same test.
Linear work gives a ratio near 20, quadratic work 400; the bound, RATIO, leaves room for a
busy machine on the linear side. The search tests allow 30 times the time they set, where
the old code never returned; the loop tests use a clock that moves at each reading, or check
that a command ended before its natural end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from devbot.agent import Agent, ExitStatus, Limits, Task, get_protocol
from devbot.llm.scripted import ScriptedModel
from devbot.sandbox.local import LocalSandbox
from devbot.tools import ToolResult, Workspace
from devbot.tools.deadline import Deadline
from tests.agent.replies import entry

SMALL, BIG = 20_000, 400_000
RATIO = 80
FLOOR_S = 0.02
"""Below this a measurement is mostly noise; the small time is rounded up to it."""


def _fastest(call: Callable[[], ToolResult], repeats: int) -> tuple[float, ToolResult]:
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - started)
    assert result is not None
    return best, result


def _edit_times(
    tmp_path: Path, text: Callable[[int], str], search: Callable[[int], str]
) -> tuple[float, float, ToolResult]:
    """Seconds for the same kind of failing EDIT on SMALL and on BIG lines, and the BIG result."""
    times: list[float] = []
    for lines, repeats in ((SMALL, 3), (BIG, 1)):
        root = tmp_path / str(lines)
        root.mkdir()
        (root / "big.py").write_text(text(lines))
        edit = partial(Workspace(root).edit_file, "big.py", [(search(lines), "replaced\n")])
        elapsed, result = _fastest(edit, repeats)
        assert not result.ok
        times.append(elapsed)
    return times[0], times[1], result


def _code(lines: int) -> list[str]:
    return [f"    value_{i} = compute({i}, 'x' * {i % 7})" for i in range(lines)]


def test_an_ambiguous_edit_on_a_huge_file_is_linear(tmp_path: Path) -> None:
    small_s, big_s, result = _edit_times(tmp_path, lambda n: "x = 1\n" * n, lambda n: "x = 1\n")
    assert "found more than 100 times" in result.output
    assert "1 | x = 1" in result.output
    assert "5 | x = 1" in result.output
    assert big_s < RATIO * max(small_s, FLOOR_S), (small_s, big_s)


def test_an_ambiguous_shifted_edit_on_a_huge_file_is_linear_in_file_and_block(
    tmp_path: Path,
) -> None:
    """A block of identical lines (50, then 1,000), shifted, fits every place in a file of
    identical lines: the old tolerant pass compared the whole block at each place."""
    small_s, big_s, result = _edit_times(
        tmp_path, lambda n: "    x = 1\n" * n, lambda n: "x = 1\n" * (n // 400)
    )
    assert "found more than 100 times" in result.output
    assert "1 |     x = 1" in result.output
    assert big_s < RATIO * max(small_s, FLOOR_S), (small_s, big_s)


def test_a_not_found_edit_on_a_huge_file_is_linear_in_file_and_block(tmp_path: Path) -> None:
    """The block grows with the file (50 lines, then 1,000): the old tolerant pass and the
    difflib ranking cost file x block; now the cost is file + block."""

    def search(lines: int) -> str:
        middle, size = lines // 2, lines // 400
        return "".join(
            line.replace("compute", "compite") + "\n" for line in _code(lines)[middle:][:size]
        )

    small_s, big_s, result = _edit_times(tmp_path, lambda n: "\n".join(_code(n)) + "\n", search)
    assert "was not found" in result.output
    assert f"{BIG // 2 + 1} |     value_{BIG // 2} = compute({BIG // 2}," in result.output
    assert big_s < RATIO * max(small_s, FLOOR_S), (small_s, big_s)


CATASTROPHIC = r"^(a+)+$"
"""Backtracks over every split of a run of a's: 2**40 tries on the line below."""


def _huge_file_with_a_trap(root: Path) -> None:
    normal = "".join(f"line {i}: nothing to see\n" for i in range(200_000))
    (root / "big.txt").write_text("aaa\n" + normal + "a" * 40 + "!\n" + normal)


def test_a_catastrophic_search_is_stopped_at_its_time_limit(tmp_path: Path) -> None:
    _huge_file_with_a_trap(tmp_path)
    workspace = Workspace(tmp_path, search_timeout_s=1.0)
    started = time.monotonic()
    result = workspace.search_files(CATASTROPHIC)
    assert time.monotonic() - started < 30
    assert not result.ok
    assert result.output.startswith("big.txt:1: aaa\n")
    assert "stopped after 1s, in file 1 of those to search" in result.output
    assert "(a+)+" in result.output


def test_a_catastrophic_search_ends_at_the_run_deadline(tmp_path: Path) -> None:
    _huge_file_with_a_trap(tmp_path)
    deadline = Deadline(time.monotonic() + 1.0)
    started = time.monotonic()
    result = Workspace(tmp_path).search_files(CATASTROPHIC, deadline=deadline)
    assert time.monotonic() - started < 30
    assert not result.ok
    assert "run's time limit was reached" in result.output


TASK = Task("Tidy", "Tidy big.py.")


def _observations(trajectory: list[dict[str, Any]]) -> list[str]:
    return [event["content"] for event in trajectory if event["kind"] == "action"]


def test_a_command_that_would_overrun_ends_the_run_with_time_limit(tmp_path: Path) -> None:
    script = [
        entry("text", ("run", "sleep 10"), ("write", "late.txt", "x\n")),
        entry("text", ("finish", "Ran out of time while sleeping.")),
    ]
    limits = Limits(max_steps=10, max_usd=0, max_wall_s=1.0)
    agent = Agent(
        ScriptedModel.from_replies(script),
        get_protocol("text"),
        Workspace(tmp_path),
        LocalSandbox(),
        limits,
        command_timeout_s=300.0,
    )
    started = time.monotonic()
    result = agent.run(TASK)
    assert time.monotonic() - started < 10
    assert result.exit_status is ExitStatus.TIME_LIMIT
    assert result.summary == "Ran out of time while sleeping."
    stopped, not_run = _observations(result.trajectory)
    assert "killed: the run's time limit was reached" in stopped
    assert not_run.startswith("Not run")
    assert not (tmp_path / "late.txt").exists()


def test_an_edit_that_would_overrun_ends_the_run_with_time_limit(tmp_path: Path) -> None:
    """Each clock reading moves the clock by a second, so the edit's checks between lines
    find the deadline passed part way through the 200,000 lines."""
    code = _code(200_000)
    (tmp_path / "big.py").write_text("\n".join(code) + "\n")
    typo = "".join(line.replace("compute", "compite") + "\n" for line in code[150_000:150_040])
    script = [
        entry("text", ("edit", "big.py", [(typo, "replaced\n")]), ("write", "late.txt", "x\n")),
        entry("text", ("finish", "Ran out of time in big.py.")),
    ]
    ticks = iter(range(10**9))
    agent = Agent(
        ScriptedModel.from_replies(script),
        get_protocol("text"),
        Workspace(tmp_path),
        LocalSandbox(),
        Limits(max_steps=10, max_usd=0, max_wall_s=100.0),
        clock=lambda: float(next(ticks)),
    )
    result = agent.run(TASK)
    assert result.exit_status is ExitStatus.TIME_LIMIT
    assert result.summary == "Ran out of time in big.py."
    stopped, not_run = _observations(result.trajectory)
    assert "time limit was reached while this action was still working" in stopped
    assert not_run.startswith("Not run")
    assert not (tmp_path / "late.txt").exists()
