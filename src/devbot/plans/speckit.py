"""Spec Kit feature folders (`specs/NNN-feature/`) as plans: read, validate, tick, show.

GitHub's Spec Kit (`specify init`, then `/speckit.specify`, `/speckit.plan`, `/speckit.tasks`)
leaves one folder per feature: `spec.md`, `plan.md`, `tasks.md` and, when the plan needs
them, `data-model.md`, `contracts/`, `research.md`, `quickstart.md`; the project's principles
are in `.specify/memory/constitution.md`. `tasks.md` holds phases (`## Phase 1: Setup`...)
of checklist lines in Spec Kit's strict format:

    - [ ] T001 [P] [US1] Description with file path

`[P]`: may run in parallel with the tasks around it (different files, no dependencies);
`[USn]`: the user story it serves. A ticked task reads `- [X]` (or `- [x]`).

Everything here works on text the caller read (bounded, inside the repository); a folder
that is not a usable feature is refused with `file:line: what is wrong` (PlanError), as a
plan is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from devbot.plans.markdown import Fences
from devbot.plans.plan import PlanError, slugify
from devbot.untrusted import clean_untrusted

DOCUMENTS = ("spec.md", "plan.md", "tasks.md", "data-model.md", "research.md", "quickstart.md")
"""The documents of a feature folder, as Spec Kit names them."""
REQUIRED = ("plan.md", "tasks.md")
"""What `/speckit.implement` requires (its `check-prerequisites --require-tasks`)."""
CONTRACTS = "contracts"
CONSTITUTION = ".specify/memory/constitution.md"
MAX_CONTRACT_FILES = 50
CONTEXT_ORDER = (
    "tasks.md",
    "spec.md",
    "plan.md",
    CONSTITUTION,
    "data-model.md",
    CONTRACTS,
    "research.md",
    "quickstart.md",
)
"""The order documents go into the agent's context while the budget lasts."""
TASK_FORMAT = "`- [ ] T001 [P] [US1] Description with file path`"

_CHECKBOX = re.compile(r"^(\s*)[-*+]\s+\[([ xX])\]\s+(.*)$")
_LOOSE_CHECKBOX = re.compile(r"^\s*(?:[-*+]\s*)?\[([^\]]{0,3})\]\s*(T[\dX]\w*)")
_BARE_TASK = re.compile(r"^\s*(?:[-*+]\s+)?T\d+\b")
_TASK_ID = re.compile(r"^(T\w*)(?=\s|$)\s*(.*)$")
_MARKER = re.compile(r"^\[([^\]]*)\]\s*(.*)$")
_STORY = re.compile(r"^US\d+$")
_PHASE = re.compile(r"^##\s+(.+?)\s*#*\s*$")
_TITLE = re.compile(r"^#\s+(?:Tasks|Feature Specification|Implementation Plan)\s*:\s*(.+?)\s*$")
_PLACEHOLDER = re.compile(r"^\[[A-Z0-9 _#-]+\]$")


@dataclass(frozen=True)
class SpecTask:
    """One line of `tasks.md`. `line` is 1-based; `group` is shared by consecutive `[P]`
    tasks of one phase (a sequential task is a group of its own)."""

    id: str
    description: str
    parallel: bool
    story: str
    phase: str
    line: int
    done: bool
    group: int
    details: str = ""

    @property
    def label(self) -> str:
        """The task as `tasks.md` writes it, without its checkbox."""
        markers = ("[P] " if self.parallel else "") + (f"[{self.story}] " if self.story else "")
        return f"{self.id} {markers}{self.description}"


@dataclass(frozen=True)
class Feature:
    """A validated feature folder. `documents` are (repository path, text) pairs; `skipped`
    names files of `contracts/` left out, with why."""

    folder: str
    title: str
    documents: tuple[tuple[str, str], ...]
    tasks: tuple[SpecTask, ...]
    skipped: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return PurePosixPath(self.folder).name

    @property
    def slug(self) -> str:
        return slugify(self.name) or "feature"

    @property
    def tasks_path(self) -> str:
        return f"{self.folder}/tasks.md"

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(path for path, _ in self.documents)

    def text(self, path: str) -> str:
        return dict(self.documents)[path]

    @property
    def sha(self) -> str:
        """One hash of every document, so the same feature content is run once."""
        digest = hashlib.sha256()
        for path, text in sorted(self.documents):
            digest.update(f"{path}\0{len(text)}\0{text}\0".encode())
        return digest.hexdigest()


def feature_folder(relative: str) -> str:
    """`specs/001-x/` and `./specs/001-x` alike become `specs/001-x`."""
    return PurePosixPath(relative.strip().rstrip("/") or ".").as_posix()


def parse_feature(
    folder: str, documents: Mapping[str, str], skipped: Sequence[str] = ()
) -> Feature:
    """Validate a feature read by the caller: `documents` maps repository paths (the
    folder's documents, `contracts/...` files, the constitution) to their text."""
    folder = feature_folder(folder)
    for name in REQUIRED:
        if f"{folder}/{name}" not in documents:
            raise PlanError(f"{folder}/{name}", _missing(name))
    tasks_path = f"{folder}/tasks.md"
    tasks = parse_tasks(documents[tasks_path], tasks_path)
    ordered = tuple(sorted(documents.items(), key=lambda item: _context_rank(folder, item[0])))
    return Feature(
        folder=folder,
        title=_title(folder, documents),
        documents=ordered,
        tasks=tasks,
        skipped=tuple(skipped),
    )


def _missing(name: str) -> str:
    command = "/speckit.tasks" if name == "tasks.md" else "/speckit.plan"
    return f"this feature folder has no {name}: write it with Spec Kit's {command} first"


def _context_rank(folder: str, path: str) -> tuple[int, str]:
    relative = path.removeprefix(f"{folder}/")
    key = CONTRACTS if relative.startswith(f"{CONTRACTS}/") else relative
    key = CONSTITUTION if path == CONSTITUTION else key
    return (CONTEXT_ORDER.index(key) if key in CONTEXT_ORDER else len(CONTEXT_ORDER), path)


def _title(folder: str, documents: Mapping[str, str]) -> str:
    """`# Tasks: X` of tasks.md, else `# Feature Specification: X` of spec.md, unless X
    is still a template placeholder; else the folder's name."""
    for name in ("tasks.md", "spec.md", "plan.md"):
        for line in _lines(documents.get(f"{folder}/{name}", ""))[:40]:
            match = _TITLE.match(line)
            if match and not _PLACEHOLDER.match(match.group(1)):
                return match.group(1)
    return PurePosixPath(folder).name


def _lines(text: str) -> list[str]:
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _outside_markup(lines: list[str]) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) of the lines outside fenced code and HTML comments."""
    fences = Fences()
    in_comment = False
    for number, line in enumerate(lines, start=1):
        if in_comment:
            in_comment = "-->" not in line
            continue
        if fences.is_code(line):
            continue
        if line.lstrip().startswith("<!--"):
            in_comment = "-->" not in line
            continue
        yield number, line


@dataclass
class _Reading:
    """The state of one pass over tasks.md."""

    shown: str
    tasks: list[SpecTask] = field(default_factory=list)
    first_line: dict[str, int] = field(default_factory=dict)
    phase: str = ""
    group: int = 0
    last_parallel: bool = False


def parse_tasks(text: str, shown: str) -> tuple[SpecTask, ...]:
    """The task lines of `tasks.md`, in file order; PlanError naming the line of the first
    malformed one, of a task id used twice, or the file when it has no task at all."""
    reading = _Reading(shown)
    for number, line in _outside_markup(_lines(text)):
        heading = _PHASE.match(line)
        if heading:
            reading.phase, reading.last_parallel = heading.group(1), False
            continue
        checkbox = _CHECKBOX.match(line)
        if checkbox:
            _task_line(reading, number, checkbox)
        elif reading.tasks and line.startswith((" ", "\t")) and line.strip():
            _add_detail(reading, line)
        else:
            _refuse_near_miss(reading, number, line)
    if not reading.tasks:
        raise PlanError(shown, f"no task lines: Spec Kit writes each task as {TASK_FORMAT}")
    return tuple(reading.tasks)


def _task_line(reading: _Reading, number: int, checkbox: re.Match[str]) -> None:
    indent, mark, rest = checkbox.groups()
    shown = reading.shown
    task_id = _TASK_ID.match(rest)
    if task_id is None or not re.fullmatch(r"T\d+", task_id.group(1)):
        if indent and reading.tasks and task_id is None:  # a sub-item of the task above
            _add_detail(reading, checkbox.group(0))
            return
        found = task_id.group(1) if task_id else rest.split(" ", 1)[0]
        why = (
            f"{found!r} is not a task id (T followed by digits)"
            if task_id
            else "the task id is missing after the checkbox"
        )
        raise PlanError(shown, f"{why}; a task line reads {TASK_FORMAT}", number)
    identifier, rest = task_id.groups()
    parallel, story, description = _markers(rest, identifier, shown, number)
    if not description:
        raise PlanError(shown, f"task {identifier} has no description", number)
    if identifier in reading.first_line:
        first = reading.first_line[identifier]
        raise PlanError(
            shown, f"task id {identifier} is used twice (first on line {first})", number
        )
    reading.first_line[identifier] = number
    if not (parallel and reading.last_parallel):
        reading.group += 1
    reading.last_parallel = parallel
    task = SpecTask(
        identifier, description, parallel, story, reading.phase, number, mark != " ", reading.group
    )
    reading.tasks.append(task)


def _markers(rest: str, identifier: str, shown: str, number: int) -> tuple[bool, str, str]:
    """The `[P]` and `[USn]` markers after a task id, and the description after them."""
    parallel, story = False, ""
    while marker := _MARKER.match(rest):
        value, rest = marker.groups()
        if value == "P" and not parallel:
            parallel = True
        elif _STORY.match(value) and not story:
            story = value
        else:
            raise PlanError(
                shown,
                f"task {identifier}: [{value}] is not a marker Spec Kit uses ([P] for "
                f"parallel, [US1] for a user story, each once); a task line reads {TASK_FORMAT}",
                number,
            )
    return parallel, story, rest.strip()


def _add_detail(reading: _Reading, line: str) -> None:
    last = reading.tasks[-1]
    details = f"{last.details}\n{line.strip()}".strip()
    reading.tasks[-1] = replace(last, details=details)


def _refuse_near_miss(reading: _Reading, number: int, line: str) -> None:
    """A line meant as a task whose checkbox is malformed (`- [] T001`, `-[ ]T001`, `[~]`),
    or, inside a `## Phase` section, a task id with no checkbox at all."""
    loose = _LOOSE_CHECKBOX.match(line)
    if loose:
        raise PlanError(
            reading.shown,
            f"malformed checkbox [{loose.group(1)}] before {loose.group(2)}; "
            f"a task line reads {TASK_FORMAT} (`- [X]` when done)",
            number,
        )
    in_phase = reading.phase.lower().startswith("phase")
    if in_phase and not line.startswith((" ", "\t")) and _BARE_TASK.match(line):
        raise PlanError(
            reading.shown, f"a task line without its checkbox; write it as {TASK_FORMAT}", number
        )


def tick(text: str, task: SpecTask) -> str:
    """`text` with `task`'s checkbox ticked (`- [X]`, as `/speckit.implement` marks it);
    every other byte as it was. The line is found by the task's id."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        match = _CHECKBOX.match(line.rstrip("\r\n"))
        if match and _TASK_ID.match(match.group(3)) and match.group(3).split()[0] == task.id:
            start = line.index("[", len(match.group(1)))
            lines[index] = f"{line[:start]}[X]{line[start + 3 :]}"
            return "".join(lines)
    raise ValueError(f"task {task.id} is not in tasks.md")


def merge_ticks(text: str, ticked_elsewhere: str, shown: str) -> str:
    """`text` with the tasks ticked in `ticked_elsewhere` (the branch of an earlier run of
    the feature) ticked too, so a new run goes on where the earlier one stopped."""
    try:
        earlier = {task.id for task in parse_tasks(ticked_elsewhere, shown) if task.done}
    except PlanError:
        return text
    for task in parse_tasks(text, shown):
        if task.id in earlier and not task.done:
            text = tick(text, task)
    return text


def documents_context(feature: Feature, budget_tokens: int) -> str:
    """The feature's documents for the agent's first message, in `CONTEXT_ORDER`, cleaned
    of HTML comments and hidden characters, within `budget_tokens` (characters / 4): a
    document that does not fit is clipped with a note, those after it are named only."""
    budget = max(budget_tokens, 0) * 4
    parts: list[str] = []
    left_out: list[str] = []
    for path, raw in feature.documents:
        text = clean_untrusted(raw)
        if budget < 200:
            left_out.append(path)
            continue
        shown, note = _clip(text, budget - len(path) - 20)
        block = f"=== {path} ===\n{shown}" + (f"\n{note}" if note else "")
        parts.append(block)
        budget -= len(block)
    if left_out:
        parts.append(
            "Not shown (over the budget), READ them when you need them: " + ", ".join(left_out)
        )
    if feature.skipped:
        parts.append("Not shown: " + "; ".join(feature.skipped))
    return "\n\n".join(parts)


def _clip(text: str, room: int) -> tuple[str, str]:
    """`text` whole, or its first lines that fit in `room` characters and a note."""
    if len(text) <= room:
        return text, ""
    lines = text.split("\n")
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > room:
            break
        kept.append(line)
        used += len(line) + 1
    note = f"[... {len(lines) - len(kept)} more lines left out: READ the file for the rest]"
    return "\n".join(kept), note


def progress_markdown(
    tasks: Sequence[SpecTask], notes: Mapping[str, str], done_ids: set[str] | None = None
) -> str:
    """The task list by phase with its checkboxes (`done_ids` ticked as well), each task's
    note after it: for a pull request's body."""
    done = {task.id for task in tasks if task.done} | (done_ids or set())
    lines: list[str] = []
    phase: str | None = None
    for task in tasks:
        if task.phase != phase:
            phase = task.phase
            lines += ["", f"#### {phase}" if phase else "#### Tasks"]
        mark = "x" if task.id in done else " "
        note = f" — {notes[task.id]}" if notes.get(task.id) else ""
        lines.append(f"- [{mark}] {task.label}{note}")
    return "\n".join(lines).strip()
