"""The rules that choose how to prepare a repository, one ecosystem at a time."""

from __future__ import annotations

import json
from pathlib import Path

from devbot.sandbox.detect import detect_test_command
from devbot.sandbox.environment.recipes import Recipe, detect_recipe

PYPROJECT = """\
[project]
name = "greet"
version = "0.1.0"
dependencies = ["six>=1.16"]

[project.optional-dependencies]
test = ["pytest>=7"]
docs = ["sphinx"]
dev = ["greet[test]", "black"]
"""
LOCK = {
    "name": "app",
    "lockfileVersion": 3,
    "packages": {"": {"dependencies": {"is-number": "7.0.0"}}},
}
PACKAGE = {
    "name": "app",
    "scripts": {"test": "node test.js", "prepare": "tsc"},
    "dependencies": {"is-number": "7.0.0"},
}


def _repo(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _requirements(recipe: Recipe | None) -> list[str]:
    assert recipe is not None
    files = dict(recipe.files)
    return files["requirements.txt"].splitlines()


def test_a_repository_without_manifests_has_nothing_to_prepare(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"utils.py": "x = 1\n", "tests/test_utils.py": "def test(): pass\n"})
    assert detect_recipe(repo) is None


def test_python_installs_the_dependencies_and_test_extras_in_a_venv(tmp_path: Path) -> None:
    recipe = detect_recipe(_repo(tmp_path, {"pyproject.toml": PYPROJECT}))

    assert recipe is not None
    assert recipe.name == "python"
    assert _requirements(recipe) == ["six>=1.16", "pytest>=7", "black"]
    assert "extra [test]" in recipe.why and "extra [dev]" in recipe.why
    assert recipe.inputs == ("pyproject.toml",)
    assert recipe.path == ("/devbot-env/venv/bin",)
    assert "python3 -m venv /devbot-env/venv" in recipe.command
    assert "-r /devbot-env/requirements.txt" in recipe.command
    assert "devbot-workspace.pth" in recipe.command
    assert "install -e" not in recipe.command


def test_pytest_is_added_when_the_tests_need_it_and_nothing_declares_it(tmp_path: Path) -> None:
    repo = _repo(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "p"\ndependencies = ["six"]\n',
            "tests/test_p.py": "def test(): pass\n",
        },
    )
    assert detect_test_command(repo) == (
        "python3 -m pytest -q",
        "pyproject.toml and test_*.py files (pytest runs unittest tests too)",
    )
    recipe = detect_recipe(repo)
    assert _requirements(recipe) == ["six", "pytest"]
    assert recipe is not None and "pytest added" in recipe.why


def test_a_configured_test_command_decides_whether_pytest_is_needed(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"requirements.txt": "six\n", "test_x.py": "def test(): pass\n"})
    assert _requirements(detect_recipe(repo, "python3 -m unittest")) == ["six"]
    assert _requirements(detect_recipe(repo, "pytest -x")) == ["six", "pytest"]


def test_dependency_groups_are_read_with_their_includes(tmp_path: Path) -> None:
    pyproject = (
        '[project]\nname = "p"\n\n[dependency-groups]\n'
        'lint = ["ruff"]\ntest = ["pytest", {include-group = "lint"}]\n'
    )
    recipe = detect_recipe(_repo(tmp_path, {"pyproject.toml": pyproject}))
    assert _requirements(recipe) == ["pytest", "ruff"]


def test_setup_cfg_requirements_and_extras(tmp_path: Path) -> None:
    cfg = (
        "[options]\ninstall_requires =\n    six\n    attrs; python_version>'3'\n\n"
        "[options.extras_require]\ntesting =\n    pytest\n"
    )
    recipe = detect_recipe(_repo(tmp_path, {"setup.cfg": cfg}))
    assert _requirements(recipe) == ["six", "attrs; python_version>'3'", "pytest"]


def test_requirement_files_follow_includes_and_leave_local_paths_out(tmp_path: Path) -> None:
    repo = _repo(
        tmp_path,
        {
            "requirements.txt": "six==1.16.0  # pinned\n",
            "requirements-dev.txt": (
                "-r requirements/base.txt\n-c constraints.txt\n-e .\n./vendored\npytest\n"
            ),
            "requirements/base.txt": "attrs \\\n  --hash=sha256:abc\n",
            "constraints.txt": "attrs<24\n",
        },
    )
    recipe = detect_recipe(repo)
    assert _requirements(recipe) == [
        "six==1.16.0",
        "attrs --hash=sha256:abc",
        "-c /workspace/constraints.txt",
        "pytest",
    ]
    assert recipe is not None
    assert set(recipe.inputs) == {
        "requirements.txt",
        "requirements-dev.txt",
        "requirements/base.txt",
        "constraints.txt",
    }
    assert "2 local path(s) left out" in recipe.why


def test_node_needs_a_lock_file_and_leaves_the_root_package_scripts_out(tmp_path: Path) -> None:
    assert detect_recipe(_repo(tmp_path, {"package.json": json.dumps(PACKAGE)})) is None
    repo = _repo(tmp_path, {"package-lock.json": json.dumps(LOCK), ".npmrc": "fund=false\n"})

    recipe = detect_recipe(repo)

    assert recipe is not None and recipe.name == "node"
    assert recipe.inputs == ("package.json", "package-lock.json", ".npmrc")
    package = json.loads(dict(recipe.files)["package.json"])
    assert "scripts" not in package
    assert package["dependencies"] == {"is-number": "7.0.0"}
    assert "cp /workspace/package-lock.json /workspace/.npmrc /devbot-env/" in recipe.command
    assert "npm ci" in recipe.command
    assert recipe.links == (("node_modules", "/node_modules"),)
    assert recipe.path == ("/devbot-env/node_modules/.bin",)


def test_go_and_rust_fetch_into_the_environment(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"go.mod": "module x\n", "Cargo.toml": '[package]\nname = "x"\n'})
    recipe = detect_recipe(repo)

    assert recipe is not None and recipe.name == "go+rust"
    assert "( go mod download )" in recipe.command
    assert "cargo fetch" in recipe.command
    variables = dict(recipe.variables)
    assert variables["GOMODCACHE"] == "/devbot-env/go/pkg/mod"
    assert variables["CARGO_HOME"] == "/devbot-env/cargo"


def test_several_ecosystems_make_one_environment(tmp_path: Path) -> None:
    repo = _repo(
        tmp_path,
        {
            "requirements.txt": "six\n",
            "package.json": json.dumps(PACKAGE),
            "package-lock.json": json.dumps(LOCK),
        },
    )
    recipe = detect_recipe(repo)
    assert recipe is not None and recipe.name == "python+node"
    assert recipe.path == ("/devbot-env/venv/bin", "/devbot-env/node_modules/.bin")


def test_the_repository_setup_script_comes_first_and_alone(tmp_path: Path) -> None:
    repo = _repo(
        tmp_path,
        {".devbot/setup.sh": "pip install x\n", "pyproject.toml": PYPROJECT, "go.mod": "m\n"},
    )
    recipe = detect_recipe(repo)

    assert recipe is not None and recipe.name == "setup.sh"
    assert recipe.command.endswith("( bash .devbot/setup.sh )\n")
    assert recipe.inputs == (".devbot/setup.sh", "pyproject.toml", "go.mod")
    assert dict(recipe.variables) == {"DEVBOT_ENV": "/devbot-env"}


def test_the_digest_follows_the_inputs_and_only_them(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"pyproject.toml": PYPROJECT, "README.md": "hi\n"})
    first = detect_recipe(repo)
    (repo / "README.md").write_text("changed\n")
    assert detect_recipe(repo) == first
    (repo / "pyproject.toml").write_text(PYPROJECT.replace("1.16", "1.17"))
    changed = detect_recipe(repo)
    assert changed is not None and first is not None
    assert changed.digest != first.digest


def test_a_manifest_that_is_a_link_out_of_the_repository_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret-package\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "requirements.txt").symlink_to(outside)
    (repo / ".devbot").symlink_to(tmp_path)
    (tmp_path / "setup.sh").write_text("echo hi\n")
    assert detect_recipe(repo) is None


def test_malformed_manifests_are_passed_over(tmp_path: Path) -> None:
    repo = _repo(
        tmp_path,
        {"pyproject.toml": "[project\n", "package.json": "{", "package-lock.json": "{}"},
    )
    assert detect_recipe(repo) is None
