"""Property test: resolving a path over a tree's symbolic links (what the change-set guard
and the escaping-link check rely on) agrees with the kernel on a real directory tree."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from devbot.vcs.links import link_escapes, resolve_in_tree

NAMES = st.sampled_from(["a", "b", "c", ".github", "ci"])
PART = st.one_of(NAMES, st.just(".."), st.just("."))
RELATIVE = st.lists(PART, min_size=1, max_size=5).map("/".join)
TARGET = st.one_of(RELATIVE, st.just("/etc"), st.just("/"))
DIRS = st.lists(st.lists(NAMES, min_size=1, max_size=3).map("/".join), max_size=6)
LINKS = st.dictionaries(st.lists(NAMES, min_size=1, max_size=3).map("/".join), TARGET, max_size=5)


def _materialise(root: Path, dirs: list[str], links: dict[str, str]) -> dict[str, str]:
    """Create the folders, then the links whose place is free; the links actually made."""
    for folder in dirs:
        try:
            (root / folder).mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            continue
    made: dict[str, str] = {}
    for path, target in sorted(links.items()):
        place = root / path
        if os.path.realpath(place.parent) != str(place.parent):
            continue  # the link's folder is reached through a link: git cannot store that
        if not place.parent.is_dir() or os.path.lexists(place):
            continue
        place.symlink_to(target)
        made[path] = target
    return made


@settings(max_examples=150, deadline=None)
@given(dirs=DIRS, links=LINKS, probes=st.lists(RELATIVE, min_size=1, max_size=6))
def test_resolution_over_links_matches_the_kernel(
    dirs: list[str], links: dict[str, str], probes: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(os.path.realpath(folder)) / "tree"
        root.mkdir()
        made = _materialise(root, dirs, links)
        for probe in probes:
            virtual = resolve_in_tree(probe, made)
            try:
                real = os.path.realpath(root / probe, strict=True)
            except FileNotFoundError:
                real = os.path.realpath(root / probe)
            except OSError:  # a loop: the kernel gives up, and so must the resolver
                assert virtual is None
                continue
            inside = real == str(root) or real.startswith(str(root) + os.sep)
            if virtual is None:
                assert not inside or _through_missing(root, probe), (probe, made, real)
            else:
                assert real == str(root / virtual).rstrip("/"), (probe, made, real, virtual)


def _through_missing(root: Path, probe: str) -> bool:
    """realpath keeps `..` lexical past a missing folder; the resolver does not need to."""
    current = root
    for part in probe.split("/"):
        if part in ("", "."):
            continue
        if not current.exists():
            return True
        current = current / part
    return False


@given(target=TARGET)
def test_absolute_targets_and_climbs_above_the_root_escape(target: str) -> None:
    if target.startswith("/") or resolve_in_tree(f"a/{target}", {}) is None:
        assert link_escapes("a/link", target, {})
