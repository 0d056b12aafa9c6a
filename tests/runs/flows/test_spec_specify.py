"""A feature laid out by the real Spec Kit CLI (`specify`, PyPI specify-cli, installed by
`scripts/ci/speckit.sh`): `specify init`, then its own create-new-feature and setup-plan
scripts make the folder; the documents its commands would have the agent write are filled
in; Spec Kit's check-prerequisites accepts the folder; devbot runs it end to end."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from devbot.plans.speckit import parse_tasks
from tests.fixtures.engine import PlanRunner
from tests.fixtures.speckit import FOLDER, SPECIFY, TASKS, fixture_files
from tests.runs.flows.test_spec import ALL_TASKS, BRANCH, run_feature


def specify_or_skip() -> str:
    if SPECIFY and Path(SPECIFY).is_file():
        return SPECIFY
    if os.environ.get("CI") == "true":
        pytest.fail("CI must run the Spec Kit test: scripts/ci/speckit.sh did not install it")
    pytest.skip("the Spec Kit CLI is not installed here (bash scripts/ci/speckit.sh ENV_FILE)")


def run(*args: str, cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_feature_made_by_specify_runs_end_to_end(plan_runner: PlanRunner) -> None:
    specify = specify_or_skip()
    work = plan_runner.repo.work
    init = ("init", "--here", "--force", "--non-interactive", "--ignore-agent-tools")
    run(specify, *init, "--integration", "claude", "--script", "sh", cwd=work)
    scripts = work / ".specify" / "scripts" / "bash"
    created = run(
        "bash",
        str(scripts / "create-new-feature.sh"),
        "--json",
        "--short-name",
        "photo-albums",
        "Organize photos into albums by the day they were taken",
        cwd=work,
    )
    assert Path(json.loads(created.splitlines()[-1])["SPEC_FILE"]) == work / FOLDER / "spec.md"
    run("bash", str(scripts / "setup-plan.sh"), "--json", cwd=work)
    assert (work / FOLDER / "plan.md").is_file()  # the plan template, copied by Spec Kit
    # what /speckit.specify, /speckit.plan and /speckit.tasks have the agent write
    for path, text in fixture_files().items():
        if path.startswith(f"{FOLDER}/"):
            (work / path).parent.mkdir(parents=True, exist_ok=True)
            (work / path).write_text(text, encoding="utf-8")
    checked = run(
        "bash",
        str(scripts / "check-prerequisites.sh"),
        "--json",
        "--require-tasks",
        "--include-tasks",
        cwd=work,
    )
    found = json.loads(checked.splitlines()[-1])
    assert Path(found["FEATURE_DIR"]) == work / FOLDER
    constitution = (work / ".specify/memory/constitution.md").read_text(encoding="utf-8")
    assert "<!--" in constitution  # Spec Kit's template, its guidance in HTML comments

    record = run_feature(plan_runner, ALL_TASKS)

    assert record.status == "completed", record.message
    repo = plan_runner.repo
    tasks = parse_tasks(repo.remote_file(BRANCH, TASKS) or "", TASKS)
    assert [t.done for t in tasks] == [True] * 5
    assert repo.remote_file(BRANCH, ".specify/memory/constitution.md") == constitution
    assert repo.remote_file(BRANCH, ".claude/skills/speckit-implement/SKILL.md") is None
    report = repo.remote_file(BRANCH, record.report_path) or ""
    assert "5 of 5 tasks done" in report and "status: completed" in report
