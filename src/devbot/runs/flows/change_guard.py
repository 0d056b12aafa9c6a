"""The last look before a push: what a run's commits may not change.

One guard for every kind of run. It refuses a change set that

- touches a protected path: `.github/**` (workflows, actions, CODEOWNERS…) and the globs of
  `protected_paths`, also when reached through a symbolic link of the tree (`.github` a link
  to `ci`, so `ci/deploy.yml` is a workflow); unless `allow_workflow_changes` is true;
- adds or changes a symbolic link that leads out of the tree (or into a `.git`), which
  would point into the machine of whoever checks the branch out.

The work stays committed in the worktree; the run says what was refused and why.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from devbot.config import Settings
from devbot.vcs.git import Git
from devbot.vcs.links import link_escapes, resolve_in_tree

ALWAYS_PROTECTED = (".github/**",)


@dataclass(frozen=True)
class Refusal:
    """Why a change set is not pushed."""

    protected: tuple[str, ...]
    escaping_links: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.protected or self.escaping_links)

    def reason(self) -> str:
        parts: list[str] = []
        if self.protected:
            listed = ", ".join(f"`{path}`" for path in self.protected)
            parts.append(
                f"the change touches protected paths ({listed}) and "
                "`allow_workflow_changes` is false"
            )
        if self.escaping_links:
            listed = ", ".join(f"`{path}`" for path in self.escaping_links)
            parts.append(f"it adds symbolic links that lead out of the repository ({listed})")
        return "refused to push: " + "; ".join(parts)


def check_change_set(git: Git, base: str, head: str, settings: Settings) -> Refusal:
    """What in `base..head` must not be pushed (falsy when nothing)."""
    changes = git.changes_between(base, head)
    changed = sorted({c.path for c in changes} | {c.old_path for c in changes if c.old_path})
    head_links, base_links = git.symlinks_at(head), git.symlinks_at(base)
    protected: tuple[str, ...] = ()
    if not settings.allow_workflow_changes:
        patterns = (*ALWAYS_PROTECTED, *settings.protected_paths)
        protected = tuple(protected_paths(changed, patterns, [head_links, base_links]))
    escaping = tuple(
        path
        for path in changed
        if path in head_links and link_escapes(path, head_links[path], head_links)
    )
    return Refusal(protected, escaping)


def protected_paths(
    changed: Iterable[str], patterns: Sequence[str], trees: Sequence[Mapping[str, str]]
) -> list[str]:
    """The paths of `changed` a pattern protects, directly or through a symbolic link of
    one of `trees` (path -> target) that a pattern protects: its target is protected too."""
    regexes = [_glob(pattern) for pattern in patterns]
    prefixes: set[str] = set()
    grew = True
    while grew:
        grew = False
        for links in trees:
            for link, target in links.items():
                if not (_matches(link, regexes) or _under(link, prefixes)):
                    continue
                joined = posixpath.join(posixpath.dirname(link), target)
                resolved = resolve_in_tree(joined, links)
                if resolved and resolved not in prefixes:
                    prefixes.add(resolved)
                    grew = True
    return [path for path in changed if _matches(path, regexes) or _under(path, prefixes)]


def _matches(path: str, regexes: Sequence[re.Pattern[str]]) -> bool:
    return any(regex.fullmatch(path) for regex in regexes)


def _under(path: str, prefixes: Iterable[str]) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def _glob(pattern: str) -> re.Pattern[str]:
    """A gitignore-like glob: `**` spans folders, `*` and `?` stay within one; `dir/**`
    also matches `dir` itself."""
    pattern = pattern.strip().strip("/")
    out = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("/**", index) and index + 3 == len(pattern):
            out += "(?:/.*)?"
            index += 3
        elif pattern.startswith("**/", index):
            out += "(?:.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            out += ".*"
            index += 2
        elif pattern[index] == "*":
            out += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            out += "[^/]"
            index += 1
        else:
            out += re.escape(pattern[index])
            index += 1
    return re.compile(out, re.IGNORECASE)
