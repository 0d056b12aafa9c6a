"""A thin, typed wrapper over the git command line.

Everything devbot changes happens in worktrees of its own; the user's working tree and index
are only read. Pushes name an exact sha and are never forced. Hooks are switched off for the
commands devbot runs, because a workspace the agent edited may hold the hook scripts
(`core.hooksPath` pointing into the tree) and they would run on the host, outside the sandbox.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DEFAULT_NAME = "devbot"
DEFAULT_EMAIL = "devbot@localhost"
_NO_HOOKS = ("-c", f"core.hooksPath={os.devnull}")
_INHERITED_REPO_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX")


class GitError(RuntimeError):
    """A git command failed; carries the command, its exit code and git's own words."""

    def __init__(self, command: Sequence[str], returncode: int, stderr: str) -> None:
        self.command = tuple(command)
        self.returncode = returncode
        self.stderr = stderr.strip()
        super().__init__(f"{' '.join(self.command)} failed (exit {returncode}): {self.stderr}")


@dataclass(frozen=True)
class Change:
    """One file changed between two commits. A rename is a D of the old path plus an A of the
    new path whose `old_path` names the old one; line counts of a rename sit on the A."""

    status: Literal["A", "M", "D"]
    path: str
    old_path: str | None = None
    added_lines: int = 0
    deleted_lines: int = 0
    binary: bool = False


class Git:
    """Runs git in `cwd` (a repository or one of its worktrees)."""

    def __init__(self, cwd: Path, timeout_s: float | None = 600.0) -> None:
        self.cwd = Path(cwd)
        self.timeout_s = timeout_s
        self._identity: tuple[str, ...] | None = None

    def run(self, *args: str, input: str | None = None) -> str:
        """Run `git <args>`; return stdout without its final newline, raise GitError on failure."""
        result = self._exec(args, input=input)
        if result.returncode != 0:
            raise GitError(("git", *args), result.returncode, result.stderr)
        return result.stdout.removesuffix("\n")

    def toplevel(self) -> Path:
        return Path(self.run("rev-parse", "--show-toplevel"))

    def default_branch(self, remote: str = "origin") -> str:
        """origin/HEAD, else the remote's HEAD (ls-remote), else the current branch, else main."""
        local = self._exec(("symbolic-ref", "--quiet", f"refs/remotes/{remote}/HEAD"))
        prefix = f"refs/remotes/{remote}/"
        if local.returncode == 0 and local.stdout.startswith(prefix):
            return local.stdout.strip().removeprefix(prefix)
        listed = self._exec(("ls-remote", "--symref", remote, "HEAD"))
        if listed.returncode == 0:
            for line in listed.stdout.splitlines():
                if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
                    return line.removeprefix("ref: refs/heads/").removesuffix("\tHEAD")
        current = self._exec(("symbolic-ref", "--quiet", "--short", "HEAD"))
        if current.returncode == 0 and current.stdout.strip():
            return current.stdout.strip()
        return "main"

    def ref_exists(self, ref: str) -> bool:
        return self._exec(("rev-parse", "--verify", "--quiet", f"{ref}^{{object}}")).returncode == 0

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether `descendant` already contains `ancestor` (a fast-forward is possible)."""
        return self._exec(("merge-base", "--is-ancestor", ancestor, descendant)).returncode == 0

    def remote_branch_exists(self, remote: str, branch: str) -> bool:
        return f"refs/heads/{branch}" in self._remote_heads(remote, f"refs/heads/{branch}")

    def unique_branch(self, base_name: str, remote: str) -> str:
        """`base_name`, or `base_name-2`, `-3`, ... : the first name free locally and on remote
        (a remote that is not configured holds no names; one that cannot be reached raises)."""
        local = self.run("for-each-ref", "--format=%(refname)", "refs/heads/").splitlines()
        taken = {ref.removeprefix("refs/heads/") for ref in local}
        if remote in self.run("remote").split():
            taken |= {ref.removeprefix("refs/heads/") for ref in self._remote_heads(remote)}
        parents = sorted(ref for ref in taken if base_name.startswith(ref + "/"))
        if parents:
            raise GitError(
                ("git", "branch", base_name),
                128,
                f"branch {parents[0]!r} exists, so no branch can be created under it",
            )
        candidate, number = base_name, 1
        while _clashes(candidate, taken):
            number += 1
            candidate = f"{base_name}-{number}"
        return candidate

    def add_worktree(self, path: Path, branch: str, start_point: str) -> None:
        """Create `branch` at `start_point` (no upstream tracking) checked out at `path`."""
        self.run("worktree", "add", "--no-track", "-b", branch, str(path), start_point)

    def attach_worktree(self, path: Path, branch: str) -> None:
        """Check out an existing branch (local, or a remote-tracking one git can guess) at path."""
        self.run("worktree", "add", str(path), branch)

    def remove_worktree(self, path: Path) -> None:
        """Remove the worktree at `path` with whatever it holds; fine when it is already gone."""
        result = self._exec(("worktree", "remove", "--force", str(path)))
        if result.returncode != 0 and Path(path).exists():
            raise GitError(
                ("git", "worktree", "remove", str(path)), result.returncode, result.stderr
            )
        self.run("worktree", "prune")

    def head_sha(self) -> str:
        return self.run("rev-parse", "HEAD")

    def tree_differs_from_head(self) -> bool:
        """True when tracked files changed (staged or not) or untracked, non-ignored files exist."""
        status = self.run(
            "--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=all"
        )
        return bool(status)

    def commit_all(self, message: str) -> str | None:
        """Stage everything and commit; None (and no commit) when nothing changed."""
        if not self.tree_differs_from_head():
            return None
        self.run("add", "--all")
        if self._exec(("diff", "--cached", "--quiet")).returncode == 0:
            return None
        self.run(*_NO_HOOKS, "commit", "--quiet", "--no-verify", "--file=-", input=message)
        return self.head_sha()

    def push(self, remote: str, sha: str, branch: str) -> None:
        """Push exactly `sha` to `branch` on `remote`; never forced, so a rejection raises."""
        self.run(*_NO_HOOKS, "push", "--quiet", remote, f"{sha}:refs/heads/{branch}")

    def fetch(self, remote: str, branch: str) -> str:
        """Update `remote/branch` from the remote; return the fetched sha."""
        tracking = f"refs/remotes/{remote}/{branch}"
        self.run("fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:{tracking}")
        return self.run("rev-parse", tracking)

    def changes_between(self, base: str, head: str) -> list[Change]:
        """Files added, modified and deleted from `base` to `head`, with line counts."""
        diff = ("diff", "--no-ext-diff", "--no-textconv", "-M", "-z")
        statuses = self.run(*diff, "--name-status", base, head).split("\0")
        counts = _numstat(self.run(*diff, "--numstat", base, head))
        changes: list[Change] = []
        index = 0
        while index < len(statuses) - 1:
            code = statuses[index][:1]
            if code in ("R", "C"):
                old, new = statuses[index + 1], statuses[index + 2]
                index += 3
                added, deleted, binary = counts.get(new, (0, 0, False))
                if code == "R":
                    changes.append(Change("D", old))
                changes.append(Change("A", new, old, added, deleted, binary))
                continue
            path = statuses[index + 1]
            index += 2
            added, deleted, binary = counts.get(path, (0, 0, False))
            status: Literal["A", "M", "D"] = "A" if code == "A" else "D" if code == "D" else "M"
            changes.append(Change(status, path, None, added, deleted, binary))
        return changes

    def file_exists_at(self, ref: str, path: str) -> bool:
        return self._exec(("cat-file", "-e", f"{ref}:{path}")).returncode == 0

    def _remote_heads(self, remote: str, *patterns: str) -> set[str]:
        result = self._exec(("ls-remote", "--heads", remote, *patterns))
        if result.returncode not in (0, 2):
            raise GitError(
                ("git", "ls-remote", "--heads", remote), result.returncode, result.stderr
            )
        return {line.split("\t", 1)[1] for line in result.stdout.splitlines() if "\t" in line}

    def _exec(
        self, args: Sequence[str], input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = ["git", *self._identity_args(), *args]
        try:
            return subprocess.run(
                command,
                cwd=self.cwd,
                env=_environment(),
                input=input,
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GitError(command, -1, f"timed out after {self.timeout_s} s") from None
        except OSError as exc:
            raise GitError(command, -1, str(exc)) from None

    def _identity_args(self) -> tuple[str, ...]:
        """`-c user.name/-c user.email` for what neither config nor environment provides."""
        if self._identity is None:
            self._identity = ()
            missing: tuple[str, ...] = ()
            for key, value, variables in (
                ("user.name", DEFAULT_NAME, ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME")),
                ("user.email", DEFAULT_EMAIL, ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL")),
            ):
                if all(os.environ.get(name) for name in variables):
                    continue
                configured = self._exec(("config", "--get", key))
                if configured.returncode != 0 or not configured.stdout.strip():
                    missing += ("-c", f"{key}={value}")
            self._identity = missing
        return self._identity


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _INHERITED_REPO_VARS}
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def _clashes(name: str, taken: set[str]) -> bool:
    """True when `name` exists or has branches nested under it (`name/...`)."""
    return any(ref == name or ref.startswith(name + "/") for ref in taken)


def _numstat(output: str) -> dict[str, tuple[int, int, bool]]:
    """Map each new path to (added, deleted, binary) from `git diff --numstat -z`."""
    fields = output.split("\0")
    counts: dict[str, tuple[int, int, bool]] = {}
    index = 0
    while index < len(fields) and fields[index]:
        added, deleted, path = fields[index].split("\t", 2)
        index += 1
        if not path:
            path = fields[index + 1]
            index += 2
        binary = added == "-"
        counts[path] = (0 if binary else int(added), 0 if binary else int(deleted), binary)
    return counts
