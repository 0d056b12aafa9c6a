"""The cache of prepared environments: complete entries only, one build per key at a time,
sealed after the build, bounded."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from devbot.sandbox.environment.cache import Entry, EnvironmentCache
from devbot.sandbox.ownership import Identity, sandbox_identity

KEYS = [f"{n:016x}" for n in range(1, 6)]


def _entry(key: str) -> Entry:
    return Entry(key, "python", "a venv", time.time(), 1.5, 0, Path())


def _build(
    cache: EnvironmentCache, key: str, size: int = 10, owner: Identity | None = None
) -> Entry:
    with cache.scratch(key, (("requirements.txt", "six\n"),), owner) as scratch:
        (scratch.environment / "venv").mkdir()
        (scratch.environment / "venv" / "blob").write_bytes(b"x" * size)
        return cache.commit(key, scratch, _entry(key), owner)


def test_a_committed_entry_is_found_with_what_it_is(tmp_path: Path) -> None:
    cache = EnvironmentCache(tmp_path / "envs")
    assert cache.find(KEYS[0]) is None

    built = _build(cache, KEYS[0])

    found = cache.find(KEYS[0])
    assert found is not None
    assert replace(found, used_at=0.0) == replace(built, used_at=0.0)
    assert found.recipe == "python" and found.build_s == 1.5
    assert found.size_bytes > 0
    assert (found.path / "requirements.txt").read_text() == "six\n"
    assert sorted(p.name for p in (tmp_path / "envs").iterdir()) == [KEYS[0], f"{KEYS[0]}.json"]


def test_a_build_that_is_not_committed_leaves_nothing(tmp_path: Path) -> None:
    cache = EnvironmentCache(tmp_path / "envs")
    with pytest.raises(RuntimeError), cache.scratch(KEYS[0], (), None) as scratch:
        (scratch.environment / "half").write_text("x")
        raise RuntimeError("setup failed")
    assert list((tmp_path / "envs").iterdir()) == []
    assert cache.find(KEYS[0]) is None


def test_an_entry_without_its_metadata_is_incomplete_and_pruned(tmp_path: Path) -> None:
    cache = EnvironmentCache(tmp_path / "envs")
    _build(cache, KEYS[0])
    (tmp_path / "envs" / f"{KEYS[0]}.json").unlink()
    assert cache.find(KEYS[0]) is None
    cache.prune()
    assert not (tmp_path / "envs" / KEYS[0]).exists()


def test_a_second_build_of_one_key_waits_for_the_first_and_finds_its_entry(
    tmp_path: Path,
) -> None:
    cache = EnvironmentCache(tmp_path / "envs")
    building = threading.Event()
    release = threading.Event()
    builds: list[str] = []
    found: list[Entry | None] = []

    def first() -> None:
        with cache.lock(KEYS[0]):
            building.set()
            release.wait(10)
            builds.append("first")
            _build(cache, KEYS[0])

    def second() -> None:
        building.wait(10)
        with cache.lock(KEYS[0]):
            entry = cache.find(KEYS[0])
            if entry is None:
                builds.append("second")
            found.append(entry)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    building.wait(10)
    with cache.lock(KEYS[0], wait=False) as free:
        assert not free
    release.set()
    for thread in threads:
        thread.join(10)
    assert builds == ["first"]
    assert found and found[0] is not None and found[0].key == KEYS[0]


def test_a_racing_second_commit_keeps_the_first_entry(tmp_path: Path) -> None:
    cache = EnvironmentCache(tmp_path / "envs")
    first = _build(cache, KEYS[0], size=10)
    again = _build(cache, KEYS[0], size=5000)
    assert again.built_at == first.built_at
    assert (first.path / "venv" / "blob").stat().st_size == 10
    assert not [p for p in (tmp_path / "envs").iterdir() if p.name.startswith(".")]


def test_prune_removes_scratch_of_crashed_builds_but_not_of_a_running_one(
    tmp_path: Path,
) -> None:
    root = tmp_path / "envs"
    cache = EnvironmentCache(root)
    (root / f".build-{KEYS[0]}-dead").mkdir(parents=True)
    (root / f".inputs-{KEYS[0]}-dead").mkdir()
    (root / f".build-{KEYS[1]}-live").mkdir()
    (root / "notes.txt").write_text("not the cache's")
    with cache.lock(KEYS[1]):
        cache.prune()
    names = {p.name for p in root.iterdir()}
    assert f".build-{KEYS[1]}-live" in names
    assert not {f".build-{KEYS[0]}-dead", f".inputs-{KEYS[0]}-dead"} & names
    assert "notes.txt" in names


def test_prune_keeps_the_most_recently_used_within_the_bounds(tmp_path: Path) -> None:
    cache = EnvironmentCache(tmp_path / "envs", max_entries=3)
    now = time.time()
    for age, key in enumerate(KEYS):
        _build(cache, key)
        meta = tmp_path / "envs" / f"{key}.json"
        os.utime(meta, (now - 100 * age, now - 100 * age))

    removed = cache.prune(keep=KEYS[4])

    assert sorted(removed) == sorted(KEYS[2:4])
    assert [entry.key for entry in cache.entries()] == [KEYS[0], KEYS[1], KEYS[4]]


def test_prune_removes_entries_unused_for_too_long_and_past_the_size_bound(
    tmp_path: Path,
) -> None:
    cache = EnvironmentCache(tmp_path / "envs", max_age_s=3600, max_bytes=30_000)
    for key in KEYS[:3]:
        _build(cache, key, size=40_000 if key == KEYS[1] else 100)
    old = time.time() - 7200
    os.utime(tmp_path / "envs" / f"{KEYS[2]}.json", (old, old))
    os.utime(tmp_path / "envs" / f"{KEYS[0]}.json")

    assert sorted(cache.prune()) == sorted(KEYS[1:3])
    assert [entry.key for entry in cache.entries()] == [KEYS[0]]


@pytest.mark.skipif(os.geteuid() != 0, reason="the hand-over needs root")
def test_an_entry_built_by_the_sandbox_uid_is_handed_back_and_not_writable_by_it(
    tmp_path: Path,
) -> None:
    owner = sandbox_identity()
    assert owner is not None
    cache = EnvironmentCache(tmp_path / "envs")
    with cache.scratch(KEYS[0], (("requirements.txt", "six\n"),), owner) as scratch:
        assert scratch.environment.stat().st_uid == owner.uid
        assert (scratch.environment / "requirements.txt").stat().st_uid == owner.uid
        shared = scratch.environment / "shared"
        shared.mkdir()
        os.chown(shared, owner.uid, owner.gid)
        shared.chmod(0o777)
        (shared / "link").symlink_to("/etc/passwd")
        os.chown(shared / "link", owner.uid, owner.gid, follow_symlinks=False)
        entry = cache.commit(KEYS[0], scratch, _entry(KEYS[0]), owner)
    for path in (entry.path, entry.path / "shared", entry.path / "shared" / "link"):
        info = path.lstat()
        assert (info.st_uid, info.st_gid) == (0, 0), path
    assert (entry.path / "shared").stat().st_mode & 0o777 == 0o755
    assert Path("/etc/passwd").stat().st_uid == 0
