"""The `devbot` command line, as a user runs it."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from devbot.runs.runtime import default_forge
from devbot.triggers.cli import main
from devbot.vcs.forge import LocalForge
from tests.fixtures.devbot_process import free_port
from tests.fixtures.engine import PlanRunner, plan_text
from tests.fixtures.repo import OriginRepo

HELLO = "@@WRITE hello.txt\nworld\n@@END\n@@FINISH\nCreated hello.txt.\n@@END\n"


def test_demo_leaves_a_pushed_branch_with_hello_and_a_completed_report(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVBOT_")}
    done = subprocess.run(
        [sys.executable, "-m", "devbot", "demo", "--dir", str(demo_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pull request #1" in done.stdout
    assert "step 1 model" in done.stdout

    bare = demo_dir / "origin.git"
    branches = subprocess.run(
        ["git", "branch", "--list", "devbot/*"], cwd=bare, capture_output=True, text=True
    ).stdout.split()
    assert branches == ["devbot/hello-world"]

    def show(path: str) -> str:
        return subprocess.run(
            ["git", "show", f"devbot/hello-world:{path}"], cwd=bare, capture_output=True, text=True
        ).stdout

    assert show("hello.txt") == "world\n"
    listing = subprocess.run(
        ["git", "ls-tree", "--name-only", "devbot/hello-world", "ai-plans/"],
        cwd=bare,
        capture_output=True,
        text=True,
    ).stdout.split()
    report = next(name for name in listing if "__REPORT__" in name)
    front = yaml.safe_load(show(report).split("---\n")[1])
    assert front["status"] == "completed"
    assert front["files_created"] == 1


def test_demo_refuses_a_directory_that_is_not_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keep.txt").write_text("mine\n")
    assert main(["demo", "--dir", str(tmp_path)]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text() == "mine\n"


def test_init_writes_config_and_example_plan_once(
    origin_repo: OriginRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--repo", str(origin_repo.work)]) == 0
    config = origin_repo.work / "devbot.toml"
    plans = list((origin_repo.work / "ai-plans").glob("*__PLAN__example.md"))
    assert config.is_file() and len(plans) == 1
    config.write_text('model = "openai/gpt-5"\n')
    assert main(["init", "--repo", str(origin_repo.work)]) == 0
    assert config.read_text() == 'model = "openai/gpt-5"\n'
    assert "kept devbot.toml" in capsys.readouterr().out


def test_init_config_is_valid_toml_with_every_key_commented() -> None:
    import tomllib

    from devbot.config import Settings
    from devbot.templating import render

    text = render("devbot.triggers", "devbot.toml")
    assert tomllib.loads(text) == {}
    uncommented = "\n".join(
        line[2:] for line in text.splitlines() if line.startswith("# ") and " = " in line
    )
    keys = set(tomllib.loads(uncommented))
    assert keys <= set(Settings.__dataclass_fields__)
    assert {"model", "protocol", "test_command", "plan_dirs", "max_steps", "max_usd"} <= keys


def test_run_completes_and_runs_lists_and_shows_it(
    plan_runner: PlanRunner, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    work = plan_runner.repo.work
    plan = plan_runner.write_plan(plan_text("Create hello.txt.", title="Hello"), slug="hello")
    script = plan_runner.script_file([{"text": HELLO}])
    monkeypatch.delenv("DEVBOT_MODEL", raising=False)

    assert main(["run", str(plan), "--model", f"scripted/{script}"]) == 0
    out = capsys.readouterr().out
    assert "completed (submitted)" in out
    assert "git diff main...devbot/hello" in out

    assert main(["runs", "--repo", str(work)]) == 0
    listing = capsys.readouterr().out
    assert "completed" in listing and "devbot/hello" in listing
    run_id = listing.splitlines()[1].split()[0]

    assert main(["runs", "--repo", str(work), "show", run_id[:20]]) == 0
    shown = capsys.readouterr().out
    assert "@@WRITE hello.txt" in shown and "exit_status: submitted" in shown


def test_run_refuses_a_malformed_plan_with_file_and_line_and_runs_nothing(
    plan_runner: PlanRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = plan_runner.write_plan("---\ntitle: [unclosed\n---\n\nBody.\n", slug="broken")
    script = plan_runner.script_file([{"text": HELLO}])

    assert main(["run", str(plan), "--model", f"scripted/{script}"]) == 2
    err = capsys.readouterr().err
    assert "261124__PLAN__broken.md:2" in err
    assert plan.read_text() == "---\ntitle: [unclosed\n---\n\nBody.\n"
    assert plan_runner.repo.git("branch", "--list", "devbot/*") == ""
    assert plan_runner.store().recent() == []


def test_run_with_a_bad_setting_names_it(
    plan_runner: PlanRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = plan_runner.write_plan(plan_text("Body.", title="T"))
    assert main(["run", str(plan), "--max-steps", "many"]) == 2
    assert "max_steps" in capsys.readouterr().err


def test_failed_run_exits_1(plan_runner: PlanRunner, capsys: pytest.CaptureFixture[str]) -> None:
    plan = plan_runner.write_plan(plan_text("Body.", title="T"))
    script = plan_runner.script_file([{"text": "no actions here"}] * 5)
    code = main(["run", str(plan), "--model", f"scripted/{script}", "--max-steps", "2"])
    assert code == 1
    assert "failed" in capsys.readouterr().out


def test_run_without_the_provider_key_is_refused_before_anything_starts(
    plan_runner: PlanRunner, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    plan = plan_runner.write_plan(plan_text("Body.", title="T"))
    assert main(["run", str(plan), "--model", "anthropic/claude-sonnet-4-5"]) == 2
    assert "ANTHROPIC_API_KEY" in capsys.readouterr().err
    assert plan_runner.store().recent() == []
    assert plan_runner.repo.git("branch", "--list", "devbot/*") == ""


def test_a_run_whose_model_is_unreachable_leaves_origin_and_the_forge_untouched(
    plan_runner: PlanRunner, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-unreachable")
    monkeypatch.setenv("DEVBOT_MODEL_RETRIES", "0")
    base = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    plan = plan_runner.write_plan(plan_text("Body.", title="T"))
    code = main(["run", str(plan), "--model", "openai/gpt-4o-mini", "--api-base", base])

    out = capsys.readouterr().out
    assert code == 1
    assert "nothing was pushed" in out and base in out and "OPENAI_API_KEY" in out
    assert "(not pushed)" in out and "pull request local://" not in out
    assert "devbot/" not in plan_runner.repo.git("ls-remote", "--heads", "origin")
    forge = default_forge(plan_runner.settings([]), plan_runner.repo.work)
    assert isinstance(forge, LocalForge) and forge.list_pull_requests() == []


def _actions(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.Action]]:
    found: list[tuple[str, argparse.Action]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += [(f"{name} {where}", a) for where, a in _actions(child)]
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            found.append((action.dest, action))
    return found


def test_every_option_and_argument_says_what_it_is_for() -> None:
    from devbot.triggers.cli import build_parser

    actions = _actions(build_parser())
    assert len(actions) > 40
    assert [where for where, action in actions if not action.help] == []
    commands_with_repo = {where.split()[0] for where, a in actions if a.dest == "repo"}
    assert commands_with_repo >= {"init", "run", "watch", "serve", "runs", "worker", "sandbox"}


def test_runs_take_repo_after_the_action_too_and_list_is_the_table(
    plan_runner: PlanRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    record = plan_runner.run([{"text": HELLO}])
    plan_runner.close()
    work = str(plan_runner.repo.work)
    assert main(["runs", "show", "--repo", work, record.id]) == 0
    assert "exit_status: submitted" in capsys.readouterr().out
    assert main(["runs", "list", "--repo", work]) == 0
    assert record.id in capsys.readouterr().out


def test_outside_a_repository_devbot_says_to_use_repo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["runs"]) == 2
    err = capsys.readouterr().err
    assert "is not inside a git repository" in err and "--repo PATH" in err


def test_a_misspelt_setting_gets_a_suggestion(origin_repo: OriginRepo) -> None:
    from devbot.config import ConfigError, load_settings

    (origin_repo.work / "devbot.toml").write_text("max_stpes = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"max_stpes \(did you mean max_steps\?\)"):
        load_settings(origin_repo.work, environ={})


def test_init_says_the_example_is_an_example_and_what_to_do_next(
    origin_repo: OriginRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--repo", str(origin_repo.work)]) == 0
    out = capsys.readouterr().out
    assert "is an example: `devbot watch` leaves it alone" in out
    assert "Next steps:" in out and "devbot run ai-plans/" in out
