"""The verification loop: prepare the sandbox the agent's commands and the tests run in, run
the repository's tests there after the agent finishes, hand failures back to it, and say in
the report what was prepared and what passed or failed.

Before the agent starts, the recorded step `choose_sandbox` names the backend and, when no
`setup_command` is set, the recipe of the repository's environment (None when it declares
nothing to prepare: then there is no `setup` step at all). The step `setup` runs the setup
command, or reuses or builds the environment (network only there, by default); what it
recorded decides what every later command mounts, so a resumed run replays the same path.

The agent calls `review_finish` when it wants to finish. Tests run (a recorded step); when
they fail and fix rounds remain, the clipped output goes back to the agent as the answer to
its finish, in the same conversation, and it keeps working. Every decision depends only on
recorded results, so a resumed run takes exactly the same path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devbot.clipping import clip
from devbot.config import Settings
from devbot.sandbox import build_sandbox, choose_backend
from devbot.sandbox.base import EnvironmentMount, Online, Sandbox
from devbot.sandbox.detect import detect_test_command
from devbot.sandbox.environment import (
    EnvironmentCache,
    PreparedEnvironment,
    Recipe,
    detect_recipe,
    prepare_environment,
)
from devbot.templating import render
from devbot.tools.imports import LostNames, lost_names, stale_uses
from devbot.tools.inside import read_inside
from devbot.tools.lint import MAX_BYTES, PYTHON_SUFFIXES, Problem, new_problems
from devbot.vcs.git import Git

StepRecorder = Callable[[str, Callable[[], Any]], Any]
FEEDBACK_CHARS = 6_000
REPORT_CHARS = 4_000
MAX_PROBLEMS = 20
PYTEST_NO_TESTS = 5
MAX_IMPORTERS = 200


@dataclass(frozen=True)
class SandboxChoice:
    """How a run's commands run (recorded): the backend, and the recipe of the environment
    to prepare (None: a setup command is set, environments are off, the backend is local,
    or the repository declares nothing to prepare)."""

    backend: str
    recipe: Recipe | None


def choose_sandbox(settings: Settings, worktree: Path, test_command: str | None) -> SandboxChoice:
    backend = choose_backend(settings).backend
    if settings.setup_command or settings.sandbox_environment == "off" or backend == "local":
        return SandboxChoice(backend, None)
    return SandboxChoice(backend, detect_recipe(worktree, test_command or settings.test_command))


def sandbox_for(settings: Settings, backend: str, mount: EnvironmentMount | None = None) -> Sandbox:
    """The run's sandbox of `backend`, with `mount` and, when `sandbox_network` is `all`,
    network for every command."""
    sandbox = build_sandbox(settings, backend, mount)
    return Online(sandbox) if settings.sandbox_network == "all" else sandbox


@dataclass(frozen=True)
class SetupRun:
    """The setup command's one run (recorded)."""

    command: str
    exit_code: int
    timed_out: bool
    output: str
    network: bool


@dataclass(frozen=True)
class TestRun:
    """One run of the test command (recorded)."""

    command: str
    source: str
    exit_code: int
    timed_out: bool
    duration_s: float
    output: str

    @property
    def found_no_tests(self) -> bool:
        """pytest's exit 5 with its "no tests ran" line: the command collected no test (a
        project without tests yet), which tests nothing rather than failing."""
        return self.exit_code == PYTEST_NO_TESTS and "no tests ran" in self.output

    @property
    def failed(self) -> bool:
        return self.exit_code != 0 and not self.found_no_tests


@dataclass(frozen=True)
class TestSummary:
    """What the report and the verdict need to know about a run's tests."""

    runs: tuple[TestRun, ...]
    fix_rounds: int
    max_test_rounds: int
    setup: SetupRun | None
    sandbox: str
    isolated: bool
    environment: PreparedEnvironment | None = None
    network: str = "setup"
    """`sandbox_network`: when commands had network."""

    @property
    def last(self) -> TestRun | None:
        return self.runs[-1] if self.runs else None

    @property
    def passed(self) -> bool:
        """True when the last test run passed, or when no test ran."""
        return self.last is None or not self.last.failed


class Verification:
    """The tests of one run: which command, the setup, every test run and its outcome."""

    def __init__(
        self,
        settings: Settings,
        plan_test_command: str | None,
        worktree: Path,
        sandbox: Sandbox,
        record: StepRecorder,
        say: Callable[[str], None] = lambda _line: None,
        *,
        tree: Git | None = None,
    ) -> None:
        self.settings = settings
        self.tree = tree
        """The worktree's git, for the static check of changed Python files (None: none)."""
        self.plan_test_command = plan_test_command
        self.worktree = worktree
        self.sandbox = sandbox
        self.record = record
        self.say = say
        self.setup: SetupRun | None = None
        self.environment: PreparedEnvironment | None = None
        self.runs: list[TestRun] = []
        self.fix_rounds = 0
        self.check_rounds = 0
        self.reviewed_last = False

    def run_setup(
        self,
        recipe: Recipe | None = None,
        cache: EnvironmentCache | None = None,
        *,
        restored: bool = False,
    ) -> None:
        """Before the agent: run `setup_command` once, or prepare the environment of
        `recipe` (from `cache`) and mount it into every later command; with network only
        when `sandbox_network` allows it. A worktree `restored` from its checkpoint lacks
        what setup installed into it (ignored files are not kept): setup runs again there,
        outside the record, when the recorded one ran elsewhere."""
        network = self.settings.sandbox_network in ("setup", "all")
        if not self.settings.setup_command:
            if recipe is not None and cache is not None:
                self._prepare(recipe, cache, network)
            return
        command = self.settings.setup_command
        ran_here = False

        def setup() -> SetupRun:
            nonlocal ran_here
            ran_here = True
            self.say(f"setup: {command}" + (" (network on)" if network else ""))
            result = self.sandbox.run(
                command, self.worktree, self.settings.command_timeout_s, network=network
            )
            output = clip(result.output, REPORT_CHARS)
            return SetupRun(command, result.exit_code, result.timed_out, output, network)

        self.setup = self.record("setup", setup)
        if restored and not ran_here:
            self.say(f"setup again in the restored worktree: {command}")
            self.sandbox.run(
                command, self.worktree, self.settings.command_timeout_s, network=network
            )

    def _prepare(self, recipe: Recipe, cache: EnvironmentCache, network: bool) -> None:
        def setup() -> PreparedEnvironment:
            return prepare_environment(
                recipe,
                self.worktree,
                cache,
                self.settings,
                self.sandbox.name,
                network=network,
                say=self.say,
            )

        prepared: PreparedEnvironment = self.record("setup", setup)
        self.environment = prepared
        mount = prepared.mount
        if mount is not None and not mount.source.is_dir():
            # prepared on another machine (a run taken over), or pruned since: build it here
            self.say(f"environment {prepared.key} is not cached here; preparing it again")
            mount = setup().mount
        if mount is not None:
            self.sandbox = sandbox_for(self.settings, self.sandbox.name, mount)

    def review_finish(self) -> str | None:
        """Called when the agent finishes: None to accept, else why it must go on. Problems
        that stop changed Python code from running go back first, then failing tests."""
        objection = self.review_code()
        if objection is not None:
            return objection
        outcome = self._run_tests()
        self.reviewed_last = True
        if outcome is None or not outcome.failed:
            return None
        if self.fix_rounds >= self.settings.max_test_rounds:
            return None
        self.fix_rounds += 1
        self.reviewed_last = False
        timeout_note = " (it timed out)" if outcome.timed_out else ""
        return render(
            "devbot.runs",
            "tests_failed.txt",
            command=outcome.command,
            backend=self.sandbox.name,
            exit_code=outcome.exit_code,
            timeout_note=timeout_note,
            round=self.fix_rounds,
            max_rounds=self.settings.max_test_rounds,
            output=clip(outcome.output, FEEDBACK_CHARS).rstrip() or "(no output)",
        ).strip()

    def review_code(self) -> str | None:
        """The static check alone (a finish that is not the last, e.g. of one task of a
        Spec Kit feature): None to accept, else the problems the change brought, while
        check rounds remain."""
        problems = self._check_code()
        if not problems or self.check_rounds >= self.settings.max_test_rounds:
            return None
        self.check_rounds += 1
        return render(
            "devbot.runs",
            "code_problems.txt",
            problems="\n".join(problems),
            round=self.check_rounds,
            max_rounds=self.settings.max_test_rounds,
        ).strip()

    def final(self, agent_submitted: bool, *, run_tests: bool = True) -> TestSummary:
        """The verification summary for the report; runs the tests once more unless the
        last test run saw the final tree (or `run_tests` is False, e.g. when cancelled)."""
        if run_tests and not (agent_submitted and self.reviewed_last):
            self._run_tests()
        return TestSummary(
            runs=tuple(self.runs),
            fix_rounds=self.fix_rounds,
            max_test_rounds=self.settings.max_test_rounds,
            setup=self.setup,
            sandbox=self.sandbox.name,
            isolated=self.sandbox.isolated,
            environment=self.environment,
            network=self.settings.sandbox_network,
        )

    def _check_code(self) -> tuple[str, ...]:
        """A recorded static check of the Python files changed since HEAD: what they newly
        fail on (see devbot.tools.lint), at most MAX_PROBLEMS lines."""
        tree = self.tree
        if tree is None:
            return ()

        def check() -> tuple[str, ...]:
            problems: list[str] = []
            lost: list[LostNames] = []
            for path in tree.changed_paths():
                if not path.endswith(PYTHON_SUFFIXES):
                    continue
                after = self._read(path)
                if after is None:
                    continue
                before = tree.read_blob("HEAD", path)
                problems += [_with_hint(p, tree) for p in new_problems(path, before, after)]
                lost += filter(None, [lost_names(path, before, after)])
            problems += [str(p) for p in self._stale_uses(tree, lost)]
            if problems:
                self.say(f"static check: {len(problems)} problem(s) in the changed code")
            return tuple(problems[:MAX_PROBLEMS])

        found: tuple[str, ...] = self.record("check_code", check)
        return found

    def _read(self, path: str) -> str | None:
        try:
            return read_inside(self.worktree, path, MAX_BYTES)
        except (OSError, ValueError):
            return None

    def _stale_uses(self, tree: Git, lost: list[LostNames]) -> list[Problem]:
        """Where other files still import or use what the change took out of a module."""
        if not lost:
            return []
        modules = "|".join(re.escape(entry.module) for entry in lost)
        importing = rf"^[[:space:]]*(from|import)[[:space:]]+({modules})([^A-Za-z0-9_.]|$)"
        importers = tree.grep(importing, "*.py", "*.pyi", limit=MAX_IMPORTERS)
        found: list[Problem] = []
        for path in sorted({path for path, _ in importers}):
            source = self._read(path)
            if source is not None:
                found += stale_uses(path, source, lost)
        return found

    def _run_tests(self) -> TestRun | None:
        """One recorded test run (resolving the command on the tree as it is now)."""

        def verify() -> TestRun | None:
            resolved = resolve_test_command(self.plan_test_command, self.settings, self.worktree)
            if resolved is None:
                return None
            command, source = resolved
            self.say(f"running tests ({source}): {command}")
            network = self.settings.sandbox_network == "all"
            result = self.sandbox.run(
                command, self.worktree, self.settings.command_timeout_s, network=network
            )
            self.say(f"tests exited {result.exit_code} in {result.duration_s:.1f}s")
            duration = round(result.duration_s, 3)
            return TestRun(
                command, source, result.exit_code, result.timed_out, duration, result.output
            )

        outcome: TestRun | None = self.record("verify", verify)
        if outcome is not None:
            self.runs.append(outcome)
        return outcome


def _with_hint(problem: Problem, tree: Git) -> str:
    """The problem, and for an undefined name where the repository defines it at the top
    of a module (so an import is likely what is missing)."""
    name = problem.undefined
    if not name.isidentifier():
        return str(problem)
    defined = (
        rf"^((async[[:space:]]+)?(def|class)[[:space:]]+{name}[^A-Za-z0-9_]|{name}[[:space:]]*[:=])"
    )
    places = [(p, n) for p, n in tree.grep(defined, "*.py", "*.pyi") if p != problem.path]
    if not places:
        return str(problem)
    where = ", ".join(f"{p}:{n}" for p, n in places[:3])
    hint = render("devbot.runs", "code_problem_defined.txt", name=name, where=where).strip()
    return f"{problem}\n  {hint}"


def resolve_test_command(
    plan_test_command: str | None, settings: Settings, worktree: Path
) -> tuple[str, str] | None:
    """(command, where it came from): the plan, else devbot.toml/env, else detection."""
    if plan_test_command:
        return plan_test_command, "from the plan"
    if settings.test_command:
        return settings.test_command, "from the settings"
    detected = detect_test_command(worktree)
    if detected is None:
        return None
    command, why = detected
    return command, f"detected: {why}"


def tests_failure(tests: TestSummary) -> str | None:
    """Why the tests make a run fail, or None when they passed or none ran."""
    last = tests.last
    if last is None or not last.failed:
        return None
    rounds = tests.fix_rounds
    after = f" after {rounds} fix round{'s' if rounds != 1 else ''}" if rounds else ""
    how = "timed out" if last.timed_out else f"exited {last.exit_code}"
    return f"tests failed{after}: `{last.command}` {how}"


def testing_notes(tests: TestSummary) -> tuple[str, ...]:
    """The report's Testing Notes: what ran where, what passed or failed, failing output."""
    notes: list[str] = []
    if not tests.isolated:
        notes.append(
            f"Warning: nothing was isolated. The `{tests.sandbox}` sandbox ran every command on"
            " the host with the user's rights and network; only the environment was filtered."
        )
    notes += _environment_notes(tests)
    setup = tests.setup
    if setup:
        verdict = "succeeded" if setup.exit_code == 0 else f"failed (exit {setup.exit_code})"
        network = "with" if setup.network else "without"
        notes.append(f"Setup `{setup.command}` {verdict} ({network} network).")
        if setup.exit_code != 0:
            notes.append(_fenced("Setup output (clipped)", setup.output))
    last = tests.last
    if last is None:
        notes.append("No test command was configured or detected: no test ran.")
        return tuple(notes)
    runs = tests.runs
    if last.found_no_tests:
        verdict = f"found no tests (exit {last.exit_code}, nothing was tested)"
    elif last.exit_code == 0:
        verdict = "passed"
    else:
        verdict = f"failed (exit {last.exit_code})"
    notes.append(
        f"`{last.command}` ({last.source}) {verdict} in the `{tests.sandbox}`"
        f" sandbox; {len(runs)} test run{'s' if len(runs) != 1 else ''},"
        f" {tests.fix_rounds} of at most {tests.max_test_rounds} fix rounds."
    )
    if len(runs) > 1:
        history = ", ".join(
            "timed out" if run.timed_out else f"exit {run.exit_code}" for run in runs
        )
        notes.append(f"Test runs in order: {history}.")
    if last.timed_out:
        notes.append("The last test run timed out.")
    if last.failed:
        notes.append(_fenced("Failing output (clipped)", last.output))
    return tuple(notes)


def _environment_notes(tests: TestSummary) -> list[str]:
    """What was prepared and how: reused, built, or failed (with its output)."""
    prepared = tests.environment
    if prepared is None:
        return []
    if prepared.cached:
        template = "environment_reused.txt"
    elif prepared.mount is not None:
        template = "environment_built.txt"
    else:
        template = "environment_failed.txt"
    how = "timed out" if prepared.timed_out else f"exit {prepared.exit_code}"
    note = render(
        "devbot.runs",
        template,
        recipe=prepared.recipe,
        why=prepared.why,
        key=prepared.key,
        seconds=f"{prepared.seconds:.2f}",
        how=how,
        network=render("devbot.runs", f"network_{tests.network}.txt").strip(),
    ).strip()
    if template == "environment_failed.txt":
        return [note, _fenced("Setup output (clipped)", prepared.output)]
    return [note]


def _fenced(title: str, output: str) -> str:
    body = clip(output, REPORT_CHARS).strip().replace("```", "'''") or "(no output)"
    return f"{title}:\n\n```\n{body}\n```"
