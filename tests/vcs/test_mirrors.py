"""A worker's mirrors: made on first use, fetched before each run, one lock per mirror,
pruned by age and size but never while in use."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from devbot.vcs.mirrors import MirrorCache, file_lock
from devbot.vcs.repository import Repository
from tests.fixtures.repo import OriginRepo, make_origin_repo


def test_a_mirror_is_made_at_first_use_and_sees_new_branches_at_the_next(
    origin_repo: OriginRepo, tmp_path: Path
) -> None:
    cache = MirrorCache(tmp_path / "mirrors")
    mirror = cache.mirror(Repository(f"file://{origin_repo.bare}"), None)
    with mirror.synced() as git:
        assert git.default_branch("origin") == "main"
        assert not git.ref_exists("refs/remotes/origin/feature")
    origin_repo.git("push", "--quiet", "origin", "HEAD:refs/heads/feature")
    with mirror.synced() as git:
        assert git.ref_exists("refs/remotes/origin/feature")
        assert not (git.git_dir / "hooks").exists()  # no templates, no hook samples
    assert cache.paths() == [mirror.git.git_dir]


def test_the_lock_keeps_a_second_holder_out_until_the_first_lets_go(tmp_path: Path) -> None:
    lock = tmp_path / "m.lock"
    order: list[str] = []
    inside = threading.Event()

    def second() -> None:
        inside.wait()
        with file_lock(lock):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with file_lock(lock):
        inside.set()
        with file_lock(lock, wait=False) as held:
            assert held is False
        order.append("first")
    thread.join(timeout=10)
    assert order == ["first", "second"]


def test_prune_removes_old_then_least_recently_used_but_never_one_in_use(tmp_path: Path) -> None:
    cache = MirrorCache(tmp_path / "mirrors")
    mirrors = []
    for name in ("old", "lru", "fresh", "busy"):
        origin = make_origin_repo(tmp_path / name)
        mirror = cache.mirror(Repository(f"file://{origin.bare}"), None)
        with mirror.synced():
            pass
        mirrors.append(mirror)
    old, lru, fresh, busy = (m.git.git_dir for m in mirrors)
    now = time.time()
    for path, age_days in ((old, 40), (lru, 2), (fresh, 1), (busy, 50)):
        stamp = now - age_days * 86400
        os.utime(path.with_suffix(".used"), (stamp, stamp))
    (busy / "worktrees" / "run-1").mkdir(parents=True)  # a run's worktree lives here

    size = sum(f.stat().st_size for f in fresh.rglob("*") if f.is_file())
    removed = cache.prune(max_age_s=30 * 86400, max_bytes=int(size * 2.5), now=now)

    assert removed == [old, lru]
    assert fresh.is_dir() and busy.is_dir() and not old.exists() and not lru.exists()
