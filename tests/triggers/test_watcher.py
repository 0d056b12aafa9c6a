"""PlanWatcher with the real watchdog observer on real files.

Negative checks ("this is ignored") write the ignored files first, then a sentinel plan, and wait
for the sentinel: the observer reports events in order, so anything that was going to trigger
would have triggered by then. No test sleeps to prove an absence.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from watchdog.observers.polling import PollingObserver

from devbot.triggers.watcher import ObserverFactory, PlanWatcher

PLAN = "261101__PLAN__add-login.md"
PLAN2 = "261102__PLAN__fix-logout.md"
SENTINEL = "261199__PLAN__sentinel.md"
TIMEOUT = 5.0


class Recorder:
    """An on_plan that records (path, content, monotonic time) and lets tests wait for calls."""

    def __init__(self, action: Callable[[Path], None] | None = None) -> None:
        self.calls: list[tuple[Path, str, float]] = []
        self.action = action
        self._cond = threading.Condition()

    def __call__(self, path: Path) -> None:
        content = path.read_text() if path.exists() else "<missing>"
        with self._cond:
            self.calls.append((path, content, time.monotonic()))
            self._cond.notify_all()
        if self.action is not None:
            self.action(path)

    def wait_for(self, n: int, timeout: float = TIMEOUT) -> bool:
        """True once at least n calls were made, False if timeout passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.calls) >= n, timeout)

    def wait_for_path(self, path: Path, timeout: float = TIMEOUT) -> bool:
        """True once on_plan was called with path, False if timeout passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: any(p == path for p, _, _ in self.calls), timeout)

    @property
    def names(self) -> list[str]:
        return [p.name for p, _, _ in self.calls]


def write(path: Path, text: str = "# plan\n\nDo the thing.\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def settle_with_sentinel(rec: Recorder, folder: Path) -> None:
    """Write a plan and wait for its callback: every earlier event has been handled by then."""
    write(folder / SENTINEL)
    assert rec.wait_for_path(folder / SENTINEL), "sentinel plan never reported"
    assert rec.calls[-1][0] == folder / SENTINEL


MakeWatcher = Callable[..., tuple[PlanWatcher, Recorder]]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    return path.resolve()


@pytest.fixture
def make_watcher(repo: Path) -> Iterator[MakeWatcher]:
    started: list[PlanWatcher] = []

    def make(
        dirs: tuple[str, ...] = ("ai-plans",),
        rec: Recorder | None = None,
        settle_s: float = 0.05,
        observer_factory: ObserverFactory | None = None,
    ) -> tuple[PlanWatcher, Recorder]:
        rec = rec or Recorder()
        watcher = PlanWatcher(repo, dirs, rec, settle_s=settle_s, observer_factory=observer_factory)
        watcher.start()
        started.append(watcher)
        return watcher, rec

    yield make
    for watcher in started:
        watcher.stop()


def test_plan_written_in_chunks_triggers_once_after_close(
    repo: Path, make_watcher: MakeWatcher
) -> None:
    _, rec = make_watcher()
    plan = repo / "ai-plans" / PLAN
    chunks = ["# Add login\n", "\n## Steps\n", "1. form\n", "2. session\n"]
    with plan.open("w") as f:
        for chunk in chunks:
            f.write(chunk)
            f.flush()
            assert not rec.wait_for(1, timeout=0.15), "plan reported while still open"
        closing = time.monotonic()
    assert rec.wait_for(1)
    latency = rec.calls[0][2] - closing
    print(f"close-to-callback latency: {latency * 1000:.1f} ms")
    assert latency < 1.0
    assert rec.calls[0][:2] == (plan, "".join(chunks))
    settle_with_sentinel(rec, plan.parent)
    assert rec.names == [PLAN, SENTINEL]


def test_writes_within_settle_time_coalesce(repo: Path, make_watcher: MakeWatcher) -> None:
    _, rec = make_watcher(settle_s=0.2)
    plan = repo / "ai-plans" / PLAN
    write(plan, "first\n")
    write(plan, "second\n")
    settle_with_sentinel(rec, plan.parent)
    assert rec.names == [PLAN, SENTINEL]
    assert rec.calls[0][1] == "second\n"


def test_ignores_reports_temp_files_dirs_other_folders_and_deletes(
    repo: Path, make_watcher: MakeWatcher
) -> None:
    plans = repo / "ai-plans"
    existing = plans / PLAN2
    write(existing)
    _, rec = make_watcher()
    for name in [
        "261101__REPORT__add-login.md",
        f".{PLAN}.swp",
        f"{PLAN}~",
        f"{PLAN}.tmp",
        f".#{PLAN}",
        "notes.md",
    ]:
        write(plans / name)
    (plans / "261103__PLAN__a-directory.md").mkdir()
    write(plans / "sub" / PLAN)
    write(repo / PLAN)
    write(repo / "other" / PLAN)
    existing.unlink()
    settle_with_sentinel(rec, plans)
    assert rec.names == [SENTINEL]


def test_write_then_delete_within_settle_time_triggers_nothing(
    repo: Path, make_watcher: MakeWatcher
) -> None:
    _, rec = make_watcher(settle_s=0.2)
    plan = repo / "ai-plans" / PLAN
    write(plan)
    plan.unlink()
    settle_with_sentinel(rec, plan.parent)
    assert rec.names == [SENTINEL]


def test_plan_moved_into_folder_triggers(
    repo: Path, tmp_path: Path, make_watcher: MakeWatcher
) -> None:
    _, rec = make_watcher()
    plans = repo / "ai-plans"
    outside = tmp_path / "drafts" / PLAN
    write(outside, "from outside\n")
    os.replace(outside, plans / PLAN)
    assert rec.wait_for(1)
    assert rec.calls[0][:2] == (plans / PLAN, "from outside\n")

    temp = plans / f"{PLAN2}.tmp"
    write(temp, "editor save\n")
    os.replace(temp, plans / PLAN2)
    assert rec.wait_for(2)
    assert rec.calls[1][:2] == (plans / PLAN2, "editor save\n")
    settle_with_sentinel(rec, plans)
    assert rec.names == [PLAN, PLAN2, SENTINEL]


def test_each_new_write_of_a_plan_triggers_again(repo: Path, make_watcher: MakeWatcher) -> None:
    _, rec = make_watcher()
    plan = repo / "ai-plans" / PLAN
    write(plan, "version 1\n")
    assert rec.wait_for(1)
    write(plan, "version 2\n")
    assert rec.wait_for(2)
    assert [c for _, c, _ in rec.calls] == ["version 1\n", "version 2\n"]


def test_scan_finds_plans_present_before_start(repo: Path, make_watcher: MakeWatcher) -> None:
    write(repo / "ai-plans" / PLAN2)
    write(repo / "ai-plans" / PLAN)
    write(repo / "ai-plans" / "261101__REPORT__add-login.md")
    write(repo / "ai-plans" / f"{PLAN}~")
    write(repo / "docs" / "plans" / PLAN)
    watcher, rec = make_watcher(("ai-plans", "docs/plans", "missing"))
    assert watcher.scan() == sorted(
        [repo / "ai-plans" / PLAN, repo / "ai-plans" / PLAN2, repo / "docs" / "plans" / PLAN]
    )
    assert (repo / "missing").is_dir()
    settle_with_sentinel(rec, repo / "ai-plans")
    assert rec.names == [SENTINEL], "plans present before start are the caller's (scan)"


def test_configurable_folders_are_created_and_watched(
    repo: Path, make_watcher: MakeWatcher
) -> None:
    _, rec = make_watcher(("plans/a", "b"))
    assert (repo / "plans" / "a").is_dir()
    assert (repo / "b").is_dir()
    write(repo / "ai-plans" / PLAN)
    write(repo / "plans" / "a" / PLAN)
    assert rec.wait_for(1)
    write(repo / "b" / PLAN2)
    assert rec.wait_for(2)
    settle_with_sentinel(rec, repo / "b")
    assert [p for p, _, _ in rec.calls] == [
        repo / "plans" / "a" / PLAN,
        repo / "b" / PLAN2,
        repo / "b" / SENTINEL,
    ]


def test_failing_on_plan_is_logged_and_later_plans_still_run(
    repo: Path, make_watcher: MakeWatcher, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(path: Path) -> None:
        if path.name == PLAN:
            raise RuntimeError("boom")

    _, rec = make_watcher(rec=Recorder(explode))
    caplog.set_level(logging.ERROR, logger="devbot.watcher")
    write(repo / "ai-plans" / PLAN)
    assert rec.wait_for(1)
    write(repo / "ai-plans" / PLAN2)
    assert rec.wait_for(2)
    assert rec.names == [PLAN, PLAN2]
    errors = [r for r in caplog.records if r.name == "devbot.watcher"]
    assert len(errors) == 1
    assert errors[0].exc_info is not None and "boom" in str(errors[0].exc_info[1])


def test_slow_on_plan_keeps_queueing_in_order(repo: Path, make_watcher: MakeWatcher) -> None:
    release = threading.Event()

    def slow(path: Path) -> None:
        if path.name == PLAN:
            assert release.wait(TIMEOUT)

    watcher, rec = make_watcher(rec=Recorder(slow))
    plans = repo / "ai-plans"
    write(plans / PLAN)
    assert rec.wait_for(1)
    write(plans / PLAN2, "v1\n")
    deadline = time.monotonic() + TIMEOUT
    while plans / PLAN2 not in watcher._pending:  # the observer has seen the close
        assert time.monotonic() < deadline
        time.sleep(0.005)
    time.sleep(0.1)  # past settle_s: the next write is a separate completed write
    write(plans / PLAN2, "v2\n")
    write(plans / SENTINEL)
    assert not rec.wait_for(2, timeout=0.2), "callbacks must run one at a time"
    release.set()
    assert rec.wait_for(4)
    assert rec.names == [PLAN, PLAN2, PLAN2, SENTINEL]


def test_fallback_without_close_events_waits_for_quiet(
    repo: Path, make_watcher: MakeWatcher
) -> None:
    _, rec = make_watcher(settle_s=0.3, observer_factory=lambda: PollingObserver(timeout=0.05))
    plan = repo / "ai-plans" / PLAN
    with plan.open("w") as f:
        for chunk in ["a\n", "b\n"]:
            f.write(chunk)
            f.flush()
            assert not rec.wait_for(1, timeout=0.1)
    assert rec.wait_for(1)
    assert rec.calls[0][:2] == (plan, "a\nb\n")
    settle_with_sentinel(rec, plan.parent)
    assert rec.names == [PLAN, SENTINEL]


def new_threads(before: set[threading.Thread]) -> set[threading.Thread]:
    """Threads alive now that were not alive before (the observer's, the worker)."""
    return {t for t in threading.enumerate() if t.is_alive()} - before


def wait_running(watcher: PlanWatcher) -> bool:
    """Poll (briefly) until run_forever has started the observer."""
    deadline = time.monotonic() + TIMEOUT
    while watcher._observer is None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_run_forever_returns_when_stop_event_is_set(repo: Path) -> None:
    rec = Recorder()
    watcher = PlanWatcher(repo, ["ai-plans"], rec)
    before = set(threading.enumerate())
    stop = threading.Event()
    runner = threading.Thread(target=watcher.run_forever, args=(stop,))
    runner.start()
    assert wait_running(watcher)
    write(repo / "ai-plans" / PLAN)
    assert rec.wait_for(1)
    started = time.monotonic()
    stop.set()
    runner.join(TIMEOUT)
    assert not runner.is_alive()
    print(f"run_forever stopped in {(time.monotonic() - started) * 1000:.1f} ms")
    assert new_threads(before) == set()


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C as at a terminal: a process started in the background by a non-interactive
    shell (as CI may be) inherits SIGINT ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a real SIGINT")
@pytest.mark.usefixtures("ctrl_c_raises")
def test_run_forever_stops_cleanly_on_ctrl_c(repo: Path) -> None:
    watcher = PlanWatcher(repo, ["ai-plans"], Recorder())
    before = set(threading.enumerate())

    def interrupt_when_running() -> None:
        if wait_running(watcher):
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_when_running, daemon=True).start()
    try:
        watcher.run_forever()
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped run_forever")
    assert new_threads(before) == set()
