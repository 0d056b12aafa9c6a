"""Python: the requirements a repository declares for running its tests, read, never run.

Sources, all that exist: PEP 621 `[project] dependencies` and the optional dependencies
named like test extras (`test`, `tests`, `testing`, `dev`; an extra naming the project
itself, `pkg[test]`, is expanded), PEP 735 `[dependency-groups]` of the same names,
setup.cfg's `install_requires` and those `extras_require`, and requirement files
(`requirements.txt`, `requirements-dev.txt`...; `-r` files are followed, `-c` files copied).

Nothing is built: no build backend, no setup.py, no `pip install -e .`, which would write
`*.egg-info` and `build/` into the worktree that devbot commits, and pin the project's code
of the day the environment was cached. The workspace itself is put on the environment's
path instead (a `.pth` file: `/workspace/src`, then `/workspace`), which is what an editable
install does for a pure-Python project. Dependencies declared only in setup.py, Poetry's
own tables or `dynamic` metadata are not seen: such a repository says what to install in
`.devbot/setup.sh`.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from devbot.sandbox.environment.inputs import Reader

TEST_NAMES = ("test", "tests", "testing", "dev")
REQUIREMENT_FILES = (
    "requirements.txt",
    "requirements-dev.txt",
    "requirements_dev.txt",
    "dev-requirements.txt",
    "requirements-test.txt",
    "requirements_test.txt",
    "test-requirements.txt",
)
MAX_INCLUDES = 20
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?")
_LOCAL = re.compile(r"^(\.|/|file:|-e\b|--editable\b)")
_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)[\s=]+(\S+)$")


@dataclass(frozen=True)
class Declared:
    """What a repository declares: requirement lines for pip, the files they came from (its
    inputs) and, per file, what was taken from it."""

    lines: tuple[str, ...]
    inputs: tuple[str, ...]
    found: tuple[str, ...]

    def names(self) -> set[str]:
        return {name for line in self.lines if (name := requirement_name(line))}


def requirement_name(line: str) -> str | None:
    """The normalized project name of a PEP 508 requirement (None for pip options)."""
    if line.lstrip().startswith("-"):
        return None
    found = _NAME.match(line)
    return re.sub(r"[-_.]+", "-", found.group(1)).lower() if found else None


def declared(read: Reader) -> Declared:
    """Every requirement the repository declares for its tests, with where it was found."""
    lines: list[str] = []
    inputs: list[str] = []
    found: list[str] = []
    for source in (_pyproject, _setup_cfg, *(_requirements_file(n) for n in REQUIREMENT_FILES)):
        result = source(read)
        if result is None:
            continue
        lines += [line for line in result.lines if line not in lines]
        inputs += result.inputs
        found += result.found
    return Declared(tuple(lines), tuple(dict.fromkeys(inputs)), tuple(found))


def _pyproject(read: Reader) -> Declared | None:
    data = _toml(read("pyproject.toml"))
    if data is None:
        return None
    project = _table(data.get("project"))
    name = requirement_name(str(project.get("name", ""))) or ""
    extras = _table(project.get("optional-dependencies"))
    lines = _strings(project.get("dependencies"))
    chosen = [extra for extra in TEST_NAMES if extra in extras]
    for extra in _expand(chosen, extras, name):
        lines += _strings(extras.get(extra))
    groups = _table(data.get("dependency-groups"))
    chosen_groups = [group for group in TEST_NAMES if group in groups]
    for group in chosen_groups:
        lines += _group(groups, group, set())
    lines = [line for line in lines if requirement_name(line) != name or not name]
    said = [f"{len(lines)} requirement(s)"]
    said += [f"extra [{extra}]" for extra in chosen]
    said += [f"group {group}" for group in chosen_groups]
    return Declared(tuple(lines), ("pyproject.toml",), (f"pyproject.toml: {', '.join(said)}",))


def _expand(chosen: list[str], extras: dict[str, Any], project: str) -> list[str]:
    """The chosen extras and those they pull in through the project's own name."""
    result: list[str] = []
    pending = list(chosen)
    while pending:
        extra = pending.pop(0)
        if extra in result:
            continue
        result.append(extra)
        for line in _strings(extras.get(extra)):
            found = _NAME.match(line)
            if found and requirement_name(line) == project and found.group(2):
                pending += [part.strip() for part in found.group(2)[1:-1].split(",")]
    return [extra for extra in result if extra in extras]


def _group(groups: dict[str, Any], name: str, seen: set[str]) -> list[str]:
    """PEP 735: a group's strings and the groups it includes (each once)."""
    if name in seen:
        return []
    seen.add(name)
    entries = groups.get(name)
    lines: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, str):
            lines.append(entry)
        elif isinstance(entry, dict) and isinstance(entry.get("include-group"), str):
            lines += _group(groups, entry["include-group"], seen)
    return lines


def _setup_cfg(read: Reader) -> Declared | None:
    data = read("setup.cfg")
    if data is None:
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(data.decode("utf-8", errors="replace"))
    except configparser.Error:
        return None
    lines = _cfg_list(parser.get("options", "install_requires", fallback=""))
    chosen = []
    if parser.has_section("options.extras_require"):
        for extra in TEST_NAMES:
            if parser.has_option("options.extras_require", extra):
                chosen.append(extra)
                lines += _cfg_list(parser.get("options.extras_require", extra))
    if not lines:
        return None
    said = ", ".join([f"{len(lines)} requirement(s)", *(f"extra [{e}]" for e in chosen)])
    return Declared(tuple(lines), ("setup.cfg",), (f"setup.cfg: {said}",))


def _requirements_file(name: str) -> Callable[[Reader], Declared | None]:
    def source(read: Reader) -> Declared | None:
        inputs: list[str] = []
        left_out: list[str] = []
        lines = _requirement_lines(read, name, inputs, left_out)
        if not inputs:
            return None
        said = f"{name}: {len(lines)} line(s)"
        if left_out:
            said += f" ({len(left_out)} local path(s) left out: {', '.join(left_out[:3])})"
        return Declared(tuple(lines), tuple(inputs), (said,))

    return source


def _requirement_lines(
    read: Reader, name: str, inputs: list[str], left_out: list[str]
) -> list[str]:
    """The lines pip gets from requirement file `name`: `-r` files inlined, `-c` files kept
    (they are copied to the same path under /workspace), local paths and editable installs
    left out; `inputs` collects every file read."""
    if name in inputs or len(inputs) >= MAX_INCLUDES:
        return []
    data = read(name)
    if data is None:
        return []
    inputs.append(name)
    folder = PurePosixPath(name).parent
    lines: list[str] = []
    text = data.decode("utf-8", errors="replace").replace("\\\n", " ")
    for raw in text.splitlines():
        line = " ".join(re.sub(r"(^|\s)#.*$", "", raw).split())
        include = _INCLUDE.match(line)
        if not line:
            continue
        if include and include.group(1) in ("-r", "--requirement"):
            lines += _requirement_lines(read, str(folder / include.group(2)), inputs, left_out)
        elif include:
            constraint = str(folder / include.group(2))
            if read(constraint) is not None:
                inputs.append(constraint)
                lines.append(f"-c /workspace/{constraint}")
        elif _LOCAL.match(line):
            left_out.append(line)
        else:
            lines.append(line)
    return lines


def _toml(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        return tomllib.loads(data.decode("utf-8", errors="replace"))
    except tomllib.TOMLDecodeError:
        return None


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _cfg_list(value: str) -> list[str]:
    return [part.strip() for part in value.splitlines() if part.strip()]
