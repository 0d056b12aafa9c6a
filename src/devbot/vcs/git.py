"""A thin, typed wrapper over the git command line, inert against what a repository holds.

Everything devbot changes happens in worktrees of its own; the user's working tree and index
are only read. Pushes name an exact sha and are never forced.

A worktree is written by the agent and by sandboxed commands, so host-side git must never
take orders from it: every command names its git directory and work tree explicitly (the
worktree's own `.git` file, which a sandboxed command can replace, is never read), and runs
with a fixed configuration that switches off everything that would run a program or follow
repository content — hooks, fsmonitor, submodule recursion, the `ext::` transport, and every
configured filter and textconv driver (named in `.gitattributes`, which the agent can write).
Nested repositories the agent creates are never descended into nor committed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from devbot.outward import outward

DEFAULT_NAME = "devbot"
DEFAULT_EMAIL = "devbot@localhost"
SAFE_CONFIG = (
    f"core.hooksPath={os.devnull}",
    "core.fsmonitor=false",
    "core.untrackedCache=false",
    "submodule.recurse=false",
    "diff.ignoreSubmodules=all",
    "status.submoduleSummary=false",
    "fetch.recurseSubmodules=false",
    "push.recurseSubmodules=no",
    "protocol.ext.allow=never",
    "gc.auto=0",
    "maintenance.auto=false",
)
"""`-c` settings on every host git command; command-line config outranks every file."""
_DRIVER_KEYS = r"^(filter\..+\.(clean|smudge|process|required)|diff\..+\.(textconv|command))$"
_INHERITED_REPO_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_PREFIX",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
)
GITLINK_MODE = "160000"
SYMLINK_MODE = "120000"


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


@dataclass(frozen=True)
class RemoteAuth:
    """An HTTP header (`Authorization: ...`) git sends to URLs under `url_prefix` only. It
    reaches git through the environment of each command (`GIT_CONFIG_COUNT`, `_KEY_n`,
    `_VALUE_n`), never through a URL, an argument or a file; `header` is asked anew for each
    command, so a token that expires is renewed."""

    url_prefix: str
    header: Callable[[], str]

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """Variables that add the header to the user's own `GIT_CONFIG_*` ones, if any."""
        try:
            count = max(0, int(base.get("GIT_CONFIG_COUNT", "0") or 0))
        except ValueError:
            count = 0
        return {
            f"GIT_CONFIG_KEY_{count}": f"http.{self.url_prefix}.extraHeader",
            f"GIT_CONFIG_VALUE_{count}": self.header(),
            f"GIT_CONFIG_KEY_{count + 1}": f"http.{self.url_prefix}.followRedirects",
            f"GIT_CONFIG_VALUE_{count + 1}": "false",
            "GIT_CONFIG_COUNT": str(count + 2),
        }


@dataclass(frozen=True)
class Snapshot:
    """The work tree at one moment as a commit whose parent is HEAD (`head`): every file
    git would commit, untracked ones too. No ref points to it."""

    commit: str
    tree: str
    head: str


@dataclass(frozen=True)
class Commit:
    """What `commit_all` did: the new sha (None when nothing changed), and the nested
    repositories and `.git`-named entries it left out of the commit."""

    sha: str | None
    dropped: tuple[str, ...] = ()


class Git:
    """Runs git on one repository: `git_dir` and `work_tree` (None for a bare repository)
    are always passed explicitly. Build one with `Git.repository(path)` for the user's own
    checkout and `.worktree(path)` for a worktree devbot created from it."""

    def __init__(
        self,
        git_dir: Path | None,
        work_tree: Path | None,
        timeout_s: float | None = 600.0,
        *,
        records: Path | None = None,
        auth: RemoteAuth | None = None,
    ):
        """`git_dir` None: a linked worktree's, looked up in `records` (the common git
        directory) when the first command needs it. `auth`: what git sends to the remote."""
        self._git_dir = Path(git_dir) if git_dir is not None else None
        self._records = records
        self.auth = auth
        self.work_tree = Path(work_tree) if work_tree is not None else None
        self.timeout_s = timeout_s
        self._identity: tuple[str, ...] | None = None
        self._drivers: tuple[str, ...] | None = None

    @classmethod
    def repository(cls, path: Path, timeout_s: float | None = 600.0) -> Git:
        """The repository (bare or not) at or above `path`: a user's own checkout or a
        mirror devbot made, never a worktree the agent worked in (use `.worktree`)."""
        probe = cls(Path(os.devnull), None, timeout_s)
        found = probe._exec(
            ("rev-parse", "--path-format=absolute", "--git-dir", "--is-bare-repository"),
            cwd=Path(path),
            explicit=False,
        )
        if found.returncode != 0:
            raise GitError(("git", "rev-parse", "--git-dir"), found.returncode, found.stderr)
        git_dir, bare = found.stdout.split("\n")[:2]
        if bare == "true":
            return cls(Path(git_dir), None, timeout_s)
        top = probe._exec(("rev-parse", "--show-toplevel"), cwd=Path(path), explicit=False)
        if top.returncode != 0:
            raise GitError(("git", "rev-parse", "--show-toplevel"), top.returncode, top.stderr)
        return cls(Path(git_dir), Path(top.stdout.strip()), timeout_s)

    @property
    def common_dir(self) -> Path:
        """The git directory shared by all worktrees (this one's own for a main checkout)."""
        marker = self.git_dir / "commondir"
        if marker.is_file():
            return (self.git_dir / marker.read_text(encoding="utf-8").strip()).resolve()
        return self.git_dir

    @property
    def git_dir(self) -> Path:
        if self._git_dir is None:
            self._git_dir = self._admin_dir()
        return self._git_dir

    def worktree(self, path: Path) -> Git:
        """Git for a linked worktree of this repository at `path`, its git directory taken
        from this repository's own records (`worktrees/*/gitdir`), never from `path/.git`.
        The records are read at the first command, so a replayed run may name a worktree
        that is gone as long as it runs nothing there."""
        return Git(None, Path(path), self.timeout_s, records=self.common_dir, auth=self.auth)

    @classmethod
    def init_mirror(
        cls, path: Path, url: str, remote: str, *, auth: RemoteAuth | None = None
    ) -> Git:
        """A bare repository at `path` (which must not exist) whose `remote` is `url`, with
        every branch of the remote fetched into `refs/remotes/<remote>/*` and the remote's
        default branch known. Built in a scratch folder beside `path` and renamed into place,
        so a crash never leaves half a mirror there."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".init-{path.name}-", dir=path.parent))
        try:
            probe = cls(Path(os.devnull), None)
            init = ("init", "--quiet", "--bare", "--template=", str(scratch))
            done = probe._exec(init, cwd=path.parent, explicit=False)
            if done.returncode != 0:
                raise GitError(("git", *init), done.returncode, done.stderr)
            git = cls(scratch, None, auth=auth)
            git.run("config", f"remote.{remote}.url", url)
            git.run("config", f"remote.{remote}.fetch", f"+refs/heads/*:refs/remotes/{remote}/*")
            git.fetch_all(remote)
            git.run("remote", "set-head", remote, "--auto")
            scratch.rename(path)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return cls(path, None, auth=auth)

    def fetch_all(self, remote: str) -> None:
        """Bring every branch of `remote` into `refs/remotes/<remote>/*`, dropping those the
        remote deleted (a mirror's fetch before each run)."""
        self.run("fetch", "--quiet", "--prune", "--no-tags", "--no-write-fetch-head", remote)

    def _admin_dir(self) -> Path:
        assert self._records is not None and self.work_tree is not None
        wanted = os.path.realpath(self.work_tree / ".git")
        admin_root = self._records / "worktrees"
        for admin in sorted(admin_root.iterdir()) if admin_root.is_dir() else []:
            record = admin / "gitdir"
            if record.is_file():
                recorded = record.read_text(encoding="utf-8").strip()
                if os.path.realpath(recorded) == wanted:
                    return admin
        raise GitError(
            ("git", "worktree", "list"),
            128,
            f"{self.work_tree} is not a worktree of {self._records}",
        )

    def run(self, *args: str, input: str | None = None) -> str:
        """Run `git <args>`; return stdout without its final newline, raise GitError on failure."""
        result = self._exec(args, input=input)
        if result.returncode != 0:
            raise GitError(("git", *args), result.returncode, result.stderr)
        return result.stdout.removesuffix("\n")

    def run_bytes(self, *args: str) -> bytes:
        """Run `git <args>`; its stdout exactly as git wrote it."""
        done = self._spawn(args, None, None, True)
        if done.returncode != 0:
            raise GitError(("git", *args), done.returncode, _text(done.stderr))
        return done.stdout

    def toplevel(self) -> Path:
        if self.work_tree is None:
            raise GitError(("git", "rev-parse", "--show-toplevel"), 128, "a bare repository")
        return self.work_tree

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

    def add_detached_worktree(self, path: Path, ref: str) -> None:
        """Check out `ref` at `path` with a detached HEAD (no branch is created)."""
        self.run("worktree", "add", "--detach", str(path), ref)

    def attach_worktree(self, path: Path, branch: str) -> None:
        """Check out an existing branch (local, or a remote-tracking one git can guess) at path."""
        self.run("worktree", "add", str(path), branch)

    def remove_worktree(self, path: Path) -> None:
        """Remove the worktree at `path` with whatever it holds; fine when it is already gone."""
        result = self._exec(("worktree", "remove", "--force", "--force", str(path)))
        if result.returncode != 0 and Path(path).exists():
            raise GitError(
                ("git", "worktree", "remove", str(path)), result.returncode, result.stderr
            )
        self.run("worktree", "prune")

    def head_sha(self) -> str:
        return self.run("rev-parse", "HEAD")

    def tree_differs_from_head(self) -> bool:
        """True when tracked files changed (staged or not) or untracked, non-ignored files exist
        (nested repositories and `.git`-named entries do not count: they are never committed)."""
        return self._differs(_exclusions(self.unsafe_entries()))

    def commit_all(self, message: str) -> Commit:
        """Stage everything but nested repositories and `.git`-named entries, and commit with
        `message` passed through the outward gate. `sha` is None (and no commit made) when
        nothing changed."""
        unsafe = self.unsafe_entries()
        spec = _exclusions(unsafe)
        dropped = self._not_ignored(unsafe)
        if not self._differs(spec):
            return Commit(None, dropped)
        self.run("add", "--all", "--", *spec)
        if self._exec(("diff", "--cached", "--quiet", "--ignore-submodules=all")).returncode == 0:
            return Commit(None, dropped)
        self.run("commit", "--quiet", "--no-verify", "--file=-", input=outward(message))
        return Commit(self.head_sha(), dropped)

    def unsafe_entries(self) -> tuple[str, ...]:
        """Work-tree paths git must never stage: directories holding a nested repository (a
        `.git` entry) and entries named `.git` in another case; symlinks are not followed."""
        if self.work_tree is None:
            return ()
        root = self.work_tree
        found: list[str] = []
        for directory, subdirectories, names in os.walk(root):
            here = Path(directory)
            entries = [*subdirectories, *names]
            if here != root and ".git" in entries:
                found.append(here.relative_to(root).as_posix())
                subdirectories[:] = []
                continue
            for entry in entries:
                if entry.lower() == ".git" and not (here == root and entry == ".git"):
                    found.append((here / entry).relative_to(root).as_posix())
            subdirectories[:] = [d for d in subdirectories if d.lower() != ".git"]
        return tuple(sorted(found))

    def changed_paths(self) -> list[str]:
        """Work-tree files that differ from HEAD: modified, added or untracked (not ignored),
        never deleted ones; a rename gives its new path."""
        status = self.run(
            "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignore-submodules=all"
        )
        records = iter(status.split("\0"))
        changed: list[str] = []
        for record in records:
            if len(record) < 4:
                continue
            code, path = record[:2], record[3:]
            if "R" in code or "C" in code:
                next(records, None)  # the old path follows
            if "D" not in code:
                changed.append(path)
        return changed

    def grep(self, pattern: str, *pathspecs: str, limit: int = 20) -> list[tuple[str, int]]:
        """(path, line) of the first `limit` work-tree lines, tracked or untracked, that
        match the extended regular expression `pattern`."""
        found = self._exec(
            ("grep", "-n", "-I", "-z", "--untracked", "-E", "-e", pattern, "--", *pathspecs)
        )
        hits: list[tuple[str, int]] = []
        for record in found.stdout.splitlines()[:limit]:
            path, _, rest = record.partition("\0")
            number, _, _ = rest.partition("\0")
            if number.isdigit():
                hits.append((path, int(number)))
        return hits

    def _differs(self, spec: Sequence[str]) -> bool:
        status = self.run(
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--ignore-submodules=all",
            "--",
            *spec,
        )
        return bool(status)

    def _not_ignored(self, paths: Sequence[str]) -> tuple[str, ...]:
        """`paths` without those .gitignore covers (they would not be committed anyway)."""
        if not paths:
            return ()
        checked = self._exec(("check-ignore", "-z", "--stdin"), input="\0".join(paths) + "\0")
        ignored = set(checked.stdout.split("\0")) if checked.returncode in (0, 1) else set()
        return tuple(path for path in paths if path not in ignored)

    def work_tree_object(self) -> str:
        """The tree object of the work tree as `commit_all` would commit it (untracked files
        in, nested repositories and `.git` entries out), built in a scratch index, so
        neither the worktree's index nor any ref changes."""
        spec = _exclusions(self.unsafe_entries())
        with tempfile.TemporaryDirectory(prefix="devbot-index-") as scratch:
            index = Path(scratch) / "index"
            own = self.git_dir / "index"
            if own.is_file():
                shutil.copyfile(own, index)  # its stat cache makes `add` cheap
            env = {"GIT_INDEX_FILE": str(index)}
            self._checked(("add", "--all", "--", *spec), env=env)
            return self._checked(("write-tree",), env=env)

    def snapshot(self, tree: str, message: str) -> Snapshot:
        """A commit of `tree` whose parent is HEAD; no ref points to it."""
        head = self.head_sha()
        return Snapshot(self.run("commit-tree", tree, "-p", head, input=message), tree, head)

    def current_branch(self) -> str:
        """The branch HEAD is on, "" for a detached HEAD."""
        found = self._exec(("symbolic-ref", "--quiet", "--short", "HEAD"))
        return found.stdout.strip() if found.returncode == 0 else ""

    def pack(self, tip: str, base: str) -> bytes:
        """A thin pack of the objects reachable from `tip` and not from `base`."""
        revs = f"{tip}\n^{base}\n".encode()
        command = ("pack-objects", "--stdout", "--thin", "--revs", "--delta-base-offset", "-q")
        done = self._spawn(command, revs, None, True)
        if done.returncode != 0:
            raise GitError(("git", *command), done.returncode, _text(done.stderr))
        return done.stdout

    def unpack(self, pack: bytes) -> None:
        """Add the objects of a (thin) `pack` made by `pack` to this repository."""
        command = ("index-pack", "--stdin", "--fix-thin")
        done = self._spawn(command, pack, None, True)
        if done.returncode != 0:
            raise GitError(("git", *command), done.returncode, _text(done.stderr))

    def has_commit(self, sha: str) -> bool:
        return self._exec(("cat-file", "-e", f"{sha}^{{commit}}")).returncode == 0

    def put_snapshot(self, snapshot: str) -> None:
        """Make the work tree hold exactly the files of commit `snapshot` (deleting those it
        lacks) while HEAD and the index stay where they are."""
        self.run("read-tree", "-m", "-u", "HEAD", snapshot)
        self.run("reset", "--quiet")

    def listed_files(self) -> list[str]:
        """Tracked and untracked-but-not-ignored files of the work tree, root-relative."""
        listed = self.run("ls-files", "--cached", "--others", "--exclude-standard", "-z")
        return [name for name in listed.split("\0") if name]

    def push(self, remote: str, sha: str, branch: str) -> None:
        """Push exactly `sha` to `branch` on `remote`; never forced, so a rejection raises."""
        self.run("push", "--quiet", "--no-verify", remote, f"{sha}:refs/heads/{branch}")

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

    def tree_entry(self, ref: str, path: str) -> tuple[str, str] | None:
        """(mode, object id) of `path` in the tree of `ref`, or None when absent."""
        listed = self._exec(("ls-tree", "-z", ref, "--", path))
        if listed.returncode != 0 or not listed.stdout:
            return None
        meta, _, name = listed.stdout.rstrip("\0").partition("\t")
        if name != path:
            return None
        mode, _kind, oid = meta.split()
        return mode, oid

    def read_blob(self, ref: str, path: str) -> str | None:
        """The text of a regular file `path` at `ref`; None when absent or not a regular
        file (a symlink's "content" is its target, which must never pass for a file)."""
        entry = self.tree_entry(ref, path)
        if entry is None or entry[0] not in ("100644", "100755"):
            return None
        return self.run_bytes("cat-file", "blob", entry[1]).decode("utf-8", errors="replace")

    def symlinks_at(self, ref: str) -> dict[str, str]:
        """Every symbolic link in the tree of `ref`: path -> target as stored."""
        listed = self.run("ls-tree", "-r", "-z", ref)
        links: dict[str, str] = {}
        for record in listed.split("\0"):
            meta, _, name = record.partition("\t")
            if meta.startswith(SYMLINK_MODE + " "):
                links[name] = _text(self.run_bytes("cat-file", "blob", meta.split()[2]))
        return links

    def _remote_heads(self, remote: str, *patterns: str) -> set[str]:
        result = self._exec(("ls-remote", "--heads", remote, *patterns))
        if result.returncode not in (0, 2):
            raise GitError(
                ("git", "ls-remote", "--heads", remote), result.returncode, result.stderr
            )
        return {line.split("\t", 1)[1] for line in result.stdout.splitlines() if "\t" in line}

    def _checked(self, args: Sequence[str], *, env: Mapping[str, str]) -> str:
        done = self._exec(args, env=env)
        if done.returncode != 0:
            raise GitError(("git", *args), done.returncode, done.stderr)
        return done.stdout.strip()

    def _exec(
        self,
        args: Sequence[str],
        input: str | None = None,
        *,
        cwd: Path | None = None,
        explicit: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> _Done:
        data = input.encode() if input is not None else None
        done = self._spawn(args, data, cwd, explicit, env)
        return _Done(done.returncode, _text(done.stdout), _text(done.stderr))

    def _spawn(
        self,
        args: Sequence[str],
        input: bytes | None,
        cwd: Path | None,
        explicit: bool,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        command = self._command(args, explicit)
        environment = _environment()
        if self.auth is not None:
            environment.update(self.auth.environment(environment))
        environment.update(env or {})
        try:
            return subprocess.run(
                command,
                cwd=cwd or self.work_tree or self.git_dir,
                env=environment,
                input=input,
                capture_output=True,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GitError(command, -1, f"timed out after {self.timeout_s} s") from None
        except OSError as exc:
            raise GitError(command, -1, str(exc)) from None

    def _command(self, args: Sequence[str], explicit: bool) -> list[str]:
        command = ["git", *self._location(explicit), *_config_args()]
        if explicit and args[:1] != ("config",):
            command += [*self._driver_args(), *self._identity_args()]
        return [*command, *args]

    def _location(self, explicit: bool) -> tuple[str, ...]:
        if not explicit:
            return ()
        if self.work_tree is None:
            return (f"--git-dir={self.git_dir}",)
        return (f"--git-dir={self.git_dir}", f"--work-tree={self.work_tree}")

    def _driver_args(self) -> tuple[str, ...]:
        """`-c` settings that neutralise every filter and diff driver the config defines: an
        empty filter, `cat` as textconv and `true` as external diff (git refuses empty ones)."""
        if self._drivers is None:
            listed = self._exec(("config", "--name-only", "--get-regexp", _DRIVER_KEYS))
            names = listed.stdout.split() if listed.returncode == 0 else []
            self._drivers = tuple(
                item for name in names for item in ("-c", f"{name}={_neutral(name)}")
            )
        return self._drivers

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


@dataclass(frozen=True)
class _Done:
    returncode: int
    stdout: str
    stderr: str


def _text(data: bytes) -> str:
    """Git's output as text: UTF-8, undecodable bytes kept as surrogate escapes."""
    return data.decode("utf-8", errors="surrogateescape")


def _neutral(key: str) -> str:
    """The harmless value for a driver key of `_DRIVER_KEYS`."""
    for suffix, value in ((".required", "false"), (".textconv", "cat"), (".command", "true")):
        if key.endswith(suffix):
            return value
    return ""


def _config_args() -> tuple[str, ...]:
    return tuple(item for setting in SAFE_CONFIG for item in ("-c", setting))


def _exclusions(paths: Sequence[str]) -> tuple[str, ...]:
    """A pathspec for the whole tree except `paths` (git's `:(exclude)` magic)."""
    if not paths:
        return ()
    return (".", *(f":(exclude,literal){path}" for path in paths))


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _INHERITED_REPO_VARS}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_OPTIONAL_LOCKS"] = "0"
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
