"""Where a path of a git tree really leads, given the tree's symbolic links.

A checkout follows symbolic links; a diff does not. So a change can look harmless in a diff
(`ci/deploy.yml`) and still rewrite a protected file (`.github` is a link to `ci`), and a
link the agent adds can point anywhere on the machine of whoever checks the branch out.
`resolve_in_tree` walks a path the way the kernel would, over the links recorded in a tree,
and says where it ends inside the tree, or that it leaves it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

MAX_LINK_HOPS = 40
"""The kernel's own limit (ELOOP) on links followed while resolving one path."""


def resolve_in_tree(path: str, links: Mapping[str, str]) -> str | None:
    """The tree path `path` leads to when every link on the way is followed (`""` is the
    root), or None when it leaves the tree (an absolute target, `..` above the root, or
    more than MAX_LINK_HOPS links)."""
    if path.startswith("/"):
        return None
    pending = [part for part in path.split("/") if part]
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if not resolved:
                return None
            resolved.pop()
            continue
        candidate = "/".join([*resolved, part])
        target = links.get(candidate)
        if target is None:
            resolved.append(part)
            continue
        hops += 1
        if hops > MAX_LINK_HOPS or target.startswith("/") or not target:
            return None
        pending = [p for p in target.split("/") if p] + pending
    return "/".join(resolved)


def link_escapes(path: str, target: str, links: Mapping[str, str]) -> bool:
    """True when the link at `path` with `target` leads out of the tree or into a `.git`."""
    if target.startswith("/"):
        return True
    resolved = resolve_in_tree(posixpath.join(posixpath.dirname(path), target), links)
    if resolved is None:
        return True
    return any(part.lower() == ".git" for part in resolved.split("/"))
