"""Which recipe prepares a repository's environment, from the files the repository declares.

The rules, one function each:

- `.devbot/setup.sh`: the repository says itself how (first; no other rule then applies).
  It runs with `$DEVBOT_ENV` (= /devbot-env) writable and installs there: `bin/`, `venv/bin/`
  and `node_modules/.bin/` go first on PATH, `node_modules/` is shown at /node_modules.
- Python (pyproject.toml, setup.cfg, requirement files; see `python`): a venv at
  /devbot-env/venv with the declared requirements and the test extras, plus pytest when the
  tests run with pytest and nothing declares it.
- Node (package.json with package-lock.json or npm-shrinkwrap.json): `npm ci` in
  /devbot-env, so node_modules lives there and is shown at /node_modules, where Node looks
  from /workspace upwards. Setup sees the manifests, not the sources, so the root package's
  own lifecycle scripts (`prepare: tsc`) are left out; the dependencies' scripts run.
- Go (go.mod): `go mod download` into /devbot-env/go.
- Rust (Cargo.toml): `cargo fetch` into /devbot-env/cargo (one crate: its `src/` is stubbed).

Several ecosystems in one repository make one environment ("python+node"). Every recipe
runs at /workspace on a copy of its inputs only, so an environment depends on nothing but
what its cache key hashes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from devbot.sandbox.base import ENV_ROOT
from devbot.sandbox.detect import detect_test_command
from devbot.sandbox.environment.inputs import Reader, digest, reader
from devbot.sandbox.environment.python import REQUIREMENT_FILES, declared

SETUP_SCRIPT = ".devbot/setup.sh"
VENV = f"{ENV_ROOT}/venv"
NODE_LOCKS = ("npm-shrinkwrap.json", "package-lock.json")
NODE_LINKS = (("node_modules", "/node_modules"),)
NODE_VARIABLES = (
    ("npm_config_update_notifier", "false"),
    ("npm_config_fund", "false"),
    ("npm_config_audit", "false"),
)
MANIFESTS = (
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    *REQUIREMENT_FILES,
    "package.json",
    *NODE_LOCKS,
    ".npmrc",
    "go.mod",
    "go.sum",
    "Cargo.toml",
    "Cargo.lock",
)
PIP_INSTALL = "pip install --no-cache-dir --disable-pip-version-check --no-input --quiet"
WORKSPACE_PTH = (
    "printf '%s\\n' /workspace/src /workspace > "
    f'"$({VENV}/bin/python -c \'import sysconfig; print(sysconfig.get_path("purelib"))\')'
    '/devbot-workspace.pth"'
)


@dataclass(frozen=True)
class Part:
    """What one ecosystem's rule contributes: why, the files it depends on, the command
    (run at /workspace), files devbot writes into the environment first, and what commands
    see afterwards (PATH entries, variables, links)."""

    name: str
    why: str
    inputs: tuple[str, ...]
    command: str
    files: tuple[tuple[str, str], ...] = ()
    path: tuple[str, ...] = ()
    variables: tuple[tuple[str, str], ...] = ()
    links: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Recipe:
    """How to prepare one repository: its parts, and the hash of the inputs they read."""

    parts: tuple[Part, ...]
    digest: str

    @property
    def name(self) -> str:
        return "+".join(part.name for part in self.parts)

    @property
    def why(self) -> str:
        return "; ".join(part.why for part in self.parts)

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for part in self.parts for name in part.inputs))

    @property
    def command(self) -> str:
        return "set -e\n" + "\n".join(f"( {part.command} )" for part in self.parts) + "\n"

    @property
    def files(self) -> tuple[tuple[str, str], ...]:
        return tuple(item for part in self.parts for item in part.files)

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(entry for part in self.parts for entry in part.path))

    @property
    def variables(self) -> tuple[tuple[str, str], ...]:
        return tuple(item for part in self.parts for item in part.variables)

    @property
    def links(self) -> tuple[tuple[str, str], ...]:
        return tuple(dict.fromkeys(item for part in self.parts for item in part.links))


def detect_recipe(root: Path, test_command: str | None = None) -> Recipe | None:
    """The recipe for the repository at `root` (None when it declares nothing to prepare);
    `test_command`, when one is configured, says whether the tests need pytest."""
    read = reader(root)
    script = script_part(read)
    if script is not None:
        parts: tuple[Part, ...] = (script,)
    else:
        found = (
            python_part(read, _needs_pytest(root, test_command)),
            node_part(read),
            go_part(read),
            cargo_part(read),
        )
        parts = tuple(part for part in found if part is not None)
    if not parts:
        return None
    return Recipe(parts, digest(read, (name for part in parts for name in part.inputs)))


def script_part(read: Reader) -> Part | None:
    if read(SETUP_SCRIPT) is None:
        return None
    manifests = tuple(name for name in MANIFESTS if read(name) is not None)
    return Part(
        name="setup.sh",
        why=f"{SETUP_SCRIPT} (the repository's own)",
        inputs=(SETUP_SCRIPT, *manifests),
        command=f"bash {SETUP_SCRIPT}",
        path=(f"{ENV_ROOT}/bin", f"{VENV}/bin", f"{ENV_ROOT}/node_modules/.bin"),
        variables=(("DEVBOT_ENV", ENV_ROOT),),
        links=NODE_LINKS,
    )


def python_part(read: Reader, needs_pytest: bool) -> Part | None:
    found = declared(read)
    lines = list(found.lines)
    why = list(found.found)
    if needs_pytest and "pytest" not in found.names():
        lines.append("pytest")
        why.append("pytest added (the tests run with pytest and nothing declares it)")
    if not lines:
        return None
    command = (
        f"python3 -m venv {VENV} && {VENV}/bin/python -m {PIP_INSTALL}"
        f" -r {ENV_ROOT}/requirements.txt && {WORKSPACE_PTH}"
    )
    return Part(
        name="python",
        why="a venv with " + "; ".join(why),
        inputs=found.inputs,
        command=command,
        files=(("requirements.txt", "\n".join(lines) + "\n"),),
        path=(f"{VENV}/bin",),
        variables=(("VIRTUAL_ENV", VENV),),
    )


def node_part(read: Reader) -> Part | None:
    manifest = read("package.json")
    lock = next((name for name in NODE_LOCKS if read(name) is not None), None)
    if manifest is None or lock is None:
        return None
    try:
        package = json.loads(manifest)
    except ValueError:
        return None
    if not isinstance(package, dict):
        return None
    package.pop("scripts", None)
    copied = [lock, *([".npmrc"] if read(".npmrc") is not None else [])]
    sources = " ".join(f"/workspace/{name}" for name in copied)
    count = sum(len(package.get(key) or {}) for key in ("dependencies", "devDependencies"))
    return Part(
        name="node",
        why=f"npm ci of package.json's {count} dependencies, locked by {lock}",
        inputs=("package.json", *copied),
        command=f"cp {sources} {ENV_ROOT}/ && cd {ENV_ROOT} && npm ci --no-audit --no-fund",
        files=(("package.json", json.dumps(package, indent=2) + "\n"),),
        path=(f"{ENV_ROOT}/node_modules/.bin",),
        variables=NODE_VARIABLES,
        links=NODE_LINKS,
    )


def go_part(read: Reader) -> Part | None:
    if read("go.mod") is None:
        return None
    gopath = f"{ENV_ROOT}/go"
    return Part(
        name="go",
        why="go mod download of go.mod's modules",
        inputs=("go.mod", *(["go.sum"] if read("go.sum") is not None else [])),
        command="go mod download",
        path=(f"{gopath}/bin",),
        variables=(
            ("GOPATH", gopath),
            ("GOMODCACHE", f"{gopath}/pkg/mod"),
            ("GOFLAGS", "-modcacherw"),
            ("GOCACHE", "/tmp/go-build"),
            ("GOTOOLCHAIN", "local"),
        ),
    )


def cargo_part(read: Reader) -> Part | None:
    if read("Cargo.toml") is None:
        return None
    home = f"{ENV_ROOT}/cargo"
    return Part(
        name="rust",
        why="cargo fetch of Cargo.toml's crates",
        inputs=("Cargo.toml", *(["Cargo.lock"] if read("Cargo.lock") is not None else [])),
        command="mkdir -p src && touch src/lib.rs src/main.rs && cargo fetch",
        path=(f"{home}/bin",),
        variables=(("CARGO_HOME", home),),
    )


def _needs_pytest(root: Path, test_command: str | None) -> bool:
    if test_command:
        return "pytest" in test_command
    detected = detect_test_command(root)
    return detected is not None and "pytest" in detected[0]
