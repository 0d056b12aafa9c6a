"""Benchmark prepared environments: setup on a second run against the first, per backend.

    .venv/bin/python bench/environment_bench.py [--runs 3]

Per backend (docker, bwrap — each when it works here) and per repository (a Python package
whose tests need pytest; a Node package with one locked dependency), `--runs` times each:
- first: `prepare_environment` with an empty cache (the venv or node_modules is built from
  the package registries, network on);
- second: the same call again (the entry is found and mounted, no setup runs);
- test: the repository's tests run offline in the sandbox with the environment mounted.
Medians, and second/first as a ratio (target < 5%). Figures go to
bench/results/environment.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from devbot.config import Settings
from devbot.sandbox.environment import EnvironmentCache, detect_recipe, prepare_environment
from devbot.sandbox.select import build_sandbox, bwrap_status, docker_status

RESULTS = Path(__file__).parent / "results"
LOCK = Path(__file__).parents[1] / "tests" / "fixtures" / "repos" / "is-number-package-lock.json"
REPOSITORIES: Mapping[str, tuple[Mapping[str, str], str]] = {
    "python": (
        {
            "pyproject.toml": '[project]\nname = "calc"\nversion = "0.1.0"\n'
            '[project.optional-dependencies]\ntest = ["pytest"]\n',
            "src/calc/__init__.py": "def add(a, b):\n    return a + b\n",
            "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n"
            "    assert add(2, 3) == 5\n",
        },
        "python3 -m pytest -q",
    ),
    "node": (
        {
            "package.json": '{"name": "demo", "version": "1.0.0", "private": true,'
            ' "devDependencies": {"is-number": "7.0.0"}}\n',
            "package-lock.json": LOCK.read_text(),
            "test.js": "if (!require('is-number')(5)) process.exit(1);\n",
        },
        "node test.js",
    ),
}


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def measure(backend: str, name: str, runs: int) -> dict[str, float]:
    files, test_command = REPOSITORIES[name]
    settings = Settings(sandbox=backend, command_timeout_s=300)
    firsts, seconds, tests = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="devbot-envbench-") as folder:
            repo = Path(folder) / "repo"
            _write(repo, files)
            recipe = detect_recipe(repo, test_command)
            assert recipe is not None
            cache = EnvironmentCache(Path(folder) / "envs")
            started = time.perf_counter()
            first = prepare_environment(recipe, repo, cache, settings, backend, network=True)
            firsts.append(time.perf_counter() - started)
            assert first.mount is not None, first.output
            started = time.perf_counter()
            second = prepare_environment(recipe, repo, cache, settings, backend, network=True)
            seconds.append(time.perf_counter() - started)
            assert second.cached
            sandbox = build_sandbox(settings, backend, second.mount)
            started = time.perf_counter()
            result = sandbox.run(test_command, repo, 120)
            tests.append(time.perf_counter() - started)
            assert result.exit_code == 0, result.output
    first_s, second_s = statistics.median(firsts), statistics.median(seconds)
    return {
        "first_setup_s": round(first_s, 3),
        "second_setup_s": round(second_s, 4),
        "ratio": round(second_s / first_s, 4),
        "offline_test_s": round(statistics.median(tests), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    backends = [
        name
        for name, works in (
            ("docker", docker_status(Settings().sandbox_image)[0]),
            ("bwrap", bwrap_status()[0]),
        )
        if works
    ]
    figures = {
        f"{backend}/{name}": measure(backend, name, args.runs)
        for backend in backends
        for name in REPOSITORIES
    }
    lines = [
        "# Prepared environments: setup time of a second run against the first",
        "",
        f"{dt.date.today()} · {platform.machine()} · medians of {args.runs} · target ratio < 5%",
        "",
        "| backend/repository | first setup | second setup | ratio | tests offline |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, row in figures.items():
        lines.append(
            f"| {label} | {row['first_setup_s']:.2f} s | {row['second_setup_s'] * 1000:.0f} ms"
            f" | {row['ratio'] * 100:.1f}% | {row['offline_test_s']:.2f} s |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "environment.md").write_text(text)
    (RESULTS / "environment.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
