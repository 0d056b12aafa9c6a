"""Prepared environments end to end: real DBOS, git, sandbox and package registries.

A Python package whose tests need pytest (not on the host's /usr) and a Node package whose
test needs a locked dependency: the first run prepares the environment with network, the
second reuses it without running setup, a changed manifest makes a new one; the tests run
offline from the environment each time.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.fixtures.engine import PlanRunner
from tests.fixtures.sandbox import require_backend

FIXTURES = Path(__file__).parents[2] / "fixtures" / "repos"
PYPROJECT = (
    '[project]\nname = "calc"\nversion = "0.1.0"\ndependencies = ["six"]\n'
    '[project.optional-dependencies]\ntest = ["pytest"]\n'
)
PYTHON_FILES = {
    "pyproject.toml": PYPROJECT,
    "src/calc/__init__.py": "import six\n\n\ndef add(a, b):\n    return a + b\n",
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
}
PACKAGE_JSON = (
    '{"name": "demo", "version": "1.0.0", "private": true,\n'
    ' "scripts": {"test": "node test.js"},\n'
    ' "devDependencies": {"is-number": "7.0.0"}}\n'
)
NODE_FILES = {
    "package.json": PACKAGE_JSON,
    "package-lock.json": (FIXTURES / "is-number-package-lock.json").read_text(),
    "test.js": "const isNumber = require('is-number');\nif (!isNumber(5)) process.exit(1);\n",
}
FINISH = "@@FINISH\nDone.\n@@END\n"


@pytest.fixture(params=["docker", "bwrap"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    require_backend(name)
    return name


def _notes(runner: PlanRunner, slug: str, reply: str, backend: str) -> str:
    record = runner.run([{"text": reply + FINISH}], slug=slug, sandbox=backend)
    assert record.status == "completed", record.message
    text = runner.repo.remote_file(f"devbot/{slug}", record.report_path)
    assert text is not None
    _, front, body = text.split("---\n", 2)
    assert yaml.safe_load(front)["status"] == "completed"
    return body.split("# Testing Notes", 1)[1]


def _key(notes: str) -> str:
    found = re.search(r"(?:cached as |from the cache \()`([0-9a-f]{16})`", notes)
    assert found, notes
    return found.group(1)


def test_python_tests_run_with_the_prepared_venv_reused_and_rebuilt(
    plan_runner: PlanRunner, backend: str
) -> None:
    plan_runner.repo.commit(PYTHON_FILES, "calc")
    first = _notes(plan_runner, "one", "@@WRITE NOTES.md\nfirst\n@@END\n", backend)
    second = _notes(plan_runner, "two", "@@WRITE NOTES.md\nsecond\n@@END\n", backend)
    plan_runner.repo.commit(
        {"pyproject.toml": PYPROJECT.replace('["six"]', '["six", "attrs"]')}, "six"
    )
    third = _notes(plan_runner, "three", "@@WRITE NOTES.md\nthird\n@@END\n", backend)

    assert "Environment: `python` prepared in" in first
    assert "2 requirement(s), extra [test]" in first
    assert "for setup only; the agent's commands and the tests ran offline" in first
    assert "`python3 -m pytest" in first and "passed" in first
    assert "Environment: `python` reused from the cache" in second
    assert "no setup ran" in second and _key(second) == _key(first)
    assert "Environment: `python` prepared in" in third and _key(third) != _key(first)
    assert "passed" in second and "passed" in third


def test_node_tests_run_with_node_modules_from_npm_ci_reused_and_rebuilt(
    plan_runner: PlanRunner, backend: str
) -> None:
    plan_runner.repo.commit(NODE_FILES, "node")
    first = _notes(plan_runner, "one", "@@WRITE NOTES.md\nfirst\n@@END\n", backend)
    second = _notes(plan_runner, "two", "@@WRITE NOTES.md\nsecond\n@@END\n", backend)
    changed = PACKAGE_JSON.replace('"private": true', '"private": true, "license": "MIT"')
    plan_runner.repo.commit({"package.json": changed}, "license")
    third = _notes(plan_runner, "three", "@@WRITE NOTES.md\nthird\n@@END\n", backend)

    assert "Environment: `node` prepared in" in first and "package-lock.json" in first
    assert "`npm test` (detected" in first and "passed" in first
    assert "Environment: `node` reused from the cache" in second
    assert _key(second) == _key(first)
    assert "Environment: `node` prepared in" in third and _key(third) != _key(first)
    assert "node_modules" not in plan_runner.repo.git("ls-tree", "-r", "--name-only", "devbot/two")
