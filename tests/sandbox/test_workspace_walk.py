"""The workspace walk, its hand-over to the sandbox's uid, and the disk watcher — on real trees."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from devbot.sandbox.ownership import Identity, hand_over
from devbot.sandbox.quota import DiskWatch
from devbot.sandbox.tree import MAX_DEPTH, remove_created, scan

MIB = 1024 * 1024


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.py").write_text("a = 1\n")
    (root / "README").write_text("readme\n")
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "big").write_bytes(b"x" * MIB)
    return folder


def _deep(root: Path, levels: int) -> Path:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(levels):
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        os.close(os.open("leaf", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    finally:
        os.close(fd)
    return root / "d"


def test_scan_lists_every_entry_and_never_follows_a_symlink(ws: Path, outside: Path) -> None:
    (ws / "escape").symlink_to(outside)
    before = scan(ws)
    assert before.paths == {"src", "src/a.py", "README", "escape"}
    assert before.used_bytes < MIB
    assert before.unmeasured == 0
    (ws / "src" / "b.bin").write_bytes(b"y" * MIB)
    assert scan(ws).used_bytes - before.used_bytes >= MIB


def test_hard_links_count_once(ws: Path) -> None:
    (ws / "one").write_bytes(b"z" * MIB)
    single = scan(ws).used_bytes
    os.link(ws / "one", ws / "two")
    assert scan(ws).used_bytes == single


def test_remove_created_deletes_only_new_entries_and_not_through_symlinks(
    ws: Path, outside: Path
) -> None:
    before = scan(ws)
    (ws / "src" / "new.py").write_text("new\n")
    (ws / "build" / "lib").mkdir(parents=True)
    (ws / "build" / "lib" / "x.o").write_bytes(b"o")
    (ws / "link").symlink_to(outside)
    (ws / "src" / "a.py").write_text("changed\n")
    assert remove_created(ws, before) == 3
    assert scan(ws).paths == before.paths
    assert (ws / "src" / "a.py").read_text() == "changed\n"
    assert (outside / "big").stat().st_size == MIB


def test_trees_deeper_than_the_walk_are_unmeasured_and_still_removed(ws: Path) -> None:
    before = scan(ws)
    _deep(ws, MAX_DEPTH + 50)
    assert scan(ws).unmeasured == 1
    assert remove_created(ws, before) == 1
    assert not (ws / "d").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may open any directory")
def test_a_locked_new_directory_is_unlocked_and_removed(ws: Path) -> None:
    before = scan(ws)
    (ws / "locked" / "inner").mkdir(parents=True)
    (ws / "locked" / "inner" / "f").write_text("f")
    (ws / "locked").chmod(0)
    assert scan(ws).unmeasured == 1
    assert remove_created(ws, before) == 1
    assert not (ws / "locked").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="handing files to another uid needs root")
def test_hand_over_gives_entries_to_the_sandbox_but_not_git_or_the_top(ws: Path) -> None:
    identity = Identity(65534, 65534)
    (ws / ".git").mkdir()
    (ws / ".git" / "config").write_text("[core]\n")
    (ws / "linked").write_text("l")
    os.link(ws / "linked", ws.parent / "linked-outside")
    (ws / "to-readme").symlink_to("README")
    snapshot = hand_over(ws, identity)
    assert "src/a.py" in snapshot.paths
    for name in ("src", "src/a.py", "README", "to-readme"):
        info = os.lstat(ws / name)
        assert (info.st_uid, info.st_gid) == (65534, 65534), name
    assert os.lstat(ws / ".git").st_uid == 0
    assert os.lstat(ws / ".git" / "config").st_uid == 0
    assert os.lstat(ws / "linked").st_uid == 0
    top = os.lstat(ws)
    assert top.st_uid == 0 and top.st_gid == 65534
    assert top.st_mode & (stat.S_ISVTX | stat.S_IRWXG) == stat.S_ISVTX | stat.S_IRWXG


def test_the_watcher_stops_a_command_past_the_quota_and_removes_its_files(ws: Path) -> None:
    exceeded = threading.Event()
    before = scan(ws)
    with (
        DiskWatch(ws, before, 2 * MIB, exceeded.set) as watch,
        open(ws / "src" / "grow.bin", "wb") as out,
    ):
        while not exceeded.is_set():
            out.write(b"g" * 256 * 1024)
            out.flush()
            os.fsync(out.fileno())
            exceeded.wait(0.01)
    assert watch.overrun is not None
    assert watch.overrun.added_bytes >= 2 * MIB
    assert watch.overrun.removed == 1
    assert not (ws / "src" / "grow.bin").exists()


def test_the_final_check_catches_what_the_watcher_had_no_time_to_see(ws: Path) -> None:
    before = scan(ws)
    with DiskWatch(ws, before, MIB, lambda: None) as watch:
        (ws / "fast.bin").write_bytes(b"f" * 2 * MIB)
    assert watch.overrun is not None and watch.overrun.removed == 1
    assert not (ws / "fast.bin").exists()


def test_growth_under_the_quota_is_left_alone(ws: Path) -> None:
    before = scan(ws)
    with DiskWatch(ws, before, 8 * MIB, lambda: None) as watch:
        (ws / "small.txt").write_text("small\n")
    assert watch.overrun is None
    assert (ws / "small.txt").exists()
