"""Find the command that runs a repository's tests, when nobody configured one.

Only what the repository declares counts: a pytest configuration or dependency (or a Python
manifest next to `test_*.py` files), an npm `test` script that is not npm's placeholder, a
Go module, a Cargo crate, a Makefile `test` target. Guessing from file names alone would
run the wrong tool more often than not. The command names the tool, not a path: with a
prepared environment (`environment`), `python3` and `npm` on PATH are the environment's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

NPM_PLACEHOLDER = "no test specified"
_MAKE_TEST = re.compile(r"^test\s*:", re.M)
_PYTEST_FILES = ("pytest.ini", "conftest.py", "tests/conftest.py")
_PYTEST_SECTIONS = {
    "pyproject.toml": "[tool.pytest",
    "setup.cfg": "[tool:pytest]",
    "tox.ini": "[pytest]",
}
_REQUIREMENTS = (
    "requirements-dev.txt",
    "requirements_dev.txt",
    "requirements.txt",
    "dev-requirements.txt",
)
_PYTHON_MANIFESTS = ("pyproject.toml", "setup.cfg", "setup.py", *_REQUIREMENTS)


def detect_test_command(root: Path) -> tuple[str, str] | None:
    """(command, why) for the first test tool `root` declares, in the order pytest, npm,
    go, cargo, make; None when it declares none."""
    for detector in (_pytest, _npm, _go, _cargo, _make):
        found = detector(root)
        if found is not None:
            return found
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    except OSError:
        return ""


def _pytest(root: Path) -> tuple[str, str] | None:
    command = "python3 -m pytest -q"
    for name in _PYTEST_FILES:
        if (root / name).is_file():
            return command, f"{name} exists"
    for name, marker in _PYTEST_SECTIONS.items():
        if marker in _read(root / name):
            return command, f"{name} configures pytest"
    for name in (*_REQUIREMENTS, "pyproject.toml"):
        if re.search(r"(^|[\s\"'])pytest\b", _read(root / name), re.M):
            return command, f"{name} depends on pytest"
    manifest = next((n for n in _PYTHON_MANIFESTS if (root / n).is_file()), None)
    if manifest is not None and _has_test_files(root):
        return command, f"{manifest} and test_*.py files (pytest runs unittest tests too)"
    return None


def _has_test_files(root: Path) -> bool:
    """True when the root or its tests/ folder (at any depth) holds a test_*.py file."""
    found = (*root.glob("test_*.py"), *root.glob("*_test.py"))
    tests = root / "tests"
    return bool(found) or (tests.is_dir() and next(tests.rglob("test_*.py"), None) is not None)


def _npm(root: Path) -> tuple[str, str] | None:
    text = _read(root / "package.json")
    if not text:
        return None
    try:
        scripts = json.loads(text).get("scripts") or {}
    except (ValueError, AttributeError):
        return None
    test = scripts.get("test") if isinstance(scripts, dict) else None
    if isinstance(test, str) and test.strip() and NPM_PLACEHOLDER not in test:
        return "npm test", "package.json has a test script"
    return None


def _go(root: Path) -> tuple[str, str] | None:
    return ("go test ./...", "go.mod exists") if (root / "go.mod").is_file() else None


def _cargo(root: Path) -> tuple[str, str] | None:
    return ("cargo test", "Cargo.toml exists") if (root / "Cargo.toml").is_file() else None


def _make(root: Path) -> tuple[str, str] | None:
    for name in ("Makefile", "makefile", "GNUmakefile"):
        if _MAKE_TEST.search(_read(root / name)):
            return "make test", f"{name} has a test target"
    return None
