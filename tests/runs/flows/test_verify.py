"""The verification loop end to end: real DBOS, real git, a real sandbox, scripted model.

The repository's test (`python3 check_greet.py`) fails on the model's first attempt; the
model is shown the failing output and fixes the code — or never does.
"""

from __future__ import annotations

import sys

import pytest
import yaml

from devbot.runs.flows import verify
from tests.fixtures.engine import PlanRunner
from tests.fixtures.sandbox import require_backend

CHECK = (
    "@@WRITE check_greet.py\n"
    "from greeting import greet\n\n"
    "result = greet('Ann')\n"
    "assert result == 'Hello, Ann!', f'greet returned {result!r}'\n"
    "print('greet ok')\n"
    "@@END\n"
)
BUGGY = "@@WRITE greeting.py\ndef greet(name):\n    return 'Hi ' + name\n@@END\n"
FIXED = "@@WRITE greeting.py\ndef greet(name):\n    return f'Hello, {name}!'\n@@END\n"
FINISH = "@@FINISH\nAdded greet().\n@@END\n"
TEST_COMMAND = {"title": "Greeting", "test_command": "python3 check_greet.py"}


@pytest.fixture(params=["docker", "bwrap"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    require_backend(name)
    return name


def _report(runner: PlanRunner, branch: str, path: str) -> tuple[dict[str, object], str]:
    text = runner.repo.remote_file(branch, path)
    assert text is not None
    _, front, body = text.split("---\n", 2)
    return yaml.safe_load(front), body


def test_failing_tests_go_back_to_the_agent_which_fixes_them(
    plan_runner: PlanRunner, backend: str
) -> None:
    replies = [{"text": CHECK + BUGGY + FINISH}, {"text": FIXED + FINISH}]
    record = plan_runner.run(replies, frontmatter=TEST_COMMAND, sandbox=backend)

    assert record.status == "completed", record.message
    assert record.model_calls == 2
    events = plan_runner.store().events(record.id)
    reviews = [event for event in events if event["kind"] == "review"]
    assert len(reviews) == 1
    assert "greet returned 'Hi Ann'" in reviews[0]["content"]
    assert "Fix round 1 of 3" in reviews[0]["content"]
    repo = plan_runner.repo
    assert "Hello, {name}!" in (repo.remote_file("devbot/task", "greeting.py") or "")
    front, body = _report(plan_runner, "devbot/task", record.report_path)
    assert front["status"] == "completed"
    assert f"`python3 check_greet.py` (from the plan) passed in the `{backend}` sandbox" in body
    assert "2 test runs, 1 of at most 3 fix rounds" in body
    assert "Test runs in order: exit 1, exit 0." in body
    assert "nothing was isolated" not in body


def test_tests_never_fixed_push_a_failed_branch_with_the_failing_output(
    plan_runner: PlanRunner, backend: str
) -> None:
    replies = [{"text": CHECK + BUGGY + FINISH}, {"text": FINISH}]
    record = plan_runner.run(
        replies, frontmatter=TEST_COMMAND, sandbox=backend, max_test_rounds="1"
    )

    assert record.status == "failed"
    assert record.message == "tests failed after 1 fix round: `python3 check_greet.py` exited 1"
    assert record.model_calls == 2
    repo = plan_runner.repo
    assert repo.remote_sha("devbot/task") == record.head_sha
    assert "Hi " in (repo.remote_file("devbot/task", "greeting.py") or "")
    front, body = _report(plan_runner, "devbot/task", record.report_path)
    assert front["status"] == "failed"
    notes = body.split("# Testing Notes", 1)[1]
    assert "failed (exit 1)" in notes
    assert "Failing output (clipped):" in notes
    assert "AssertionError: greet returned 'Hi Ann'" in notes


def test_local_backend_runs_tests_but_the_report_warns_nothing_was_isolated(
    plan_runner: PlanRunner,
) -> None:
    replies = [{"text": CHECK + FIXED + FINISH}]
    record = plan_runner.run(replies, frontmatter=TEST_COMMAND, sandbox="local")

    assert record.status == "completed", record.message
    _front, body = _report(plan_runner, "devbot/task", record.report_path)
    assert "Warning: nothing was isolated" in body
    assert "passed in the `local` sandbox" in body


def test_no_test_command_and_nothing_detected_says_no_test_ran(
    plan_runner: PlanRunner,
) -> None:
    replies = [{"text": FIXED + FINISH}]
    record = plan_runner.run(replies, sandbox="local")

    assert record.status == "completed", record.message
    _front, body = _report(plan_runner, "devbot/task", record.report_path)
    assert "No test command was configured or detected: no test ran." in body


def test_setup_command_runs_first_in_the_sandbox(plan_runner: PlanRunner, backend: str) -> None:
    (plan_runner.repo.work / "devbot.toml").write_text(
        'setup_command = "echo installed > .setup-done"\n'
        'test_command = "test -f .setup-done && python3 check_greet.py"\n'
    )
    plan_runner.repo.git("add", "devbot.toml")
    plan_runner.repo.git("commit", "-qm", "config")
    plan_runner.repo.git("push", "-q", "origin", "HEAD:main")
    replies = [{"text": CHECK + FIXED + FINISH}]
    record = plan_runner.run(replies, sandbox=backend)

    assert record.status == "completed", record.message
    _front, body = _report(plan_runner, "devbot/task", record.report_path)
    assert "Setup `echo installed > .setup-done` succeeded (with network)." in body
    assert "(from the settings) passed" in body


def test_code_that_cannot_run_goes_back_to_the_agent_before_the_tests(
    plan_runner: PlanRunner,
) -> None:
    """Seen with Qwen2.5-Coder-1.5B: an edit that replaced the function it still calls, then
    FINISH. The static check sends it back with the line; a problem the repository already
    had is not the agent's."""
    plan_runner.repo.commit({"legacy.py": "def old():\n    return gone\n"}, "legacy code")
    broken = (
        "@@EDIT utils.py\n@@OLD\ndef add(a: int, b: int) -> int:\n    return a + b\n"
        "@@NEW\ndef add3(a: int, b: int, c: int) -> int:\n    return add(a, b) + c\n@@END\n"
        + FINISH
    )
    add3 = "def add3(a: int, b: int, c: int) -> int:\n"
    fixed = (
        f"@@EDIT utils.py\n@@OLD\n{add3}@@NEW\ndef add(a: int, b: int) -> int:\n"
        f"    return a + b\n\n\n{add3}@@END\n{FINISH}"
    )
    record = plan_runner.run([{"text": broken}, {"text": fixed}], sandbox="local")
    assert record.status == "completed", record.message
    assert record.model_calls == 2
    events = plan_runner.store().events(record.id)
    (review,) = [e["content"] for e in events if e["kind"] == "review"]
    assert "utils.py:5: undefined name 'add'" in review
    assert "legacy.py" not in review
    pushed = plan_runner.repo.remote_file("devbot/task", "utils.py") or ""
    assert "def add(a: int, b: int)" in pushed and "def add3(" in pushed


def test_an_undefined_name_the_repository_defines_comes_with_where(
    plan_runner: PlanRunner,
) -> None:
    test_body = "def test_add():\n    assert add(1, 2) == 3\n    assert add(0, 0) == 0\n"
    missing = f"@@WRITE tests/test_more.py\n{test_body}@@END\n{FINISH}"
    imported = f"@@WRITE tests/test_more.py\nfrom utils import add\n\n\n{test_body}@@END\n{FINISH}"
    record = plan_runner.run([{"text": missing}, {"text": imported}], sandbox="local")
    assert record.status == "completed", record.message
    events = plan_runner.store().events(record.id)
    (review,) = [e["content"] for e in events if e["kind"] == "review"]
    assert "tests/test_more.py:2: undefined name 'add' (and on 1 more line)" in review
    assert "`add` is defined at utils.py:4: import it from there." in review


def test_a_rename_that_leaves_importers_behind_goes_back_with_each_stale_use(
    plan_runner: PlanRunner,
) -> None:
    """Seen with Qwen2.5-Coder-1.5B: `add` renamed in utils.py only; tests/test_utils.py
    still imports it. No per-file check sees that; the import check names the line."""
    renamed = (
        "@@EDIT utils.py\n@@OLD\ndef add(a: int, b: int) -> int:\n@@NEW\n"
        "def plus(a: int, b: int) -> int:\n@@END\n" + FINISH
    )
    importer = (
        "@@EDIT tests/test_utils.py\n@@OLD\nfrom utils import add, shout\n@@NEW\n"
        "from utils import plus as add, shout\n@@END\n" + FINISH
    )
    replies = [{"text": renamed}, {"text": importer}]
    record = plan_runner.run(replies, sandbox="local", max_test_rounds="1")
    assert record.status == "completed", record.message
    events = plan_runner.store().events(record.id)
    (review,) = [e["content"] for e in events if e["kind"] == "review"]
    assert (
        "tests/test_utils.py:1: imports add from utils, which utils.py no longer defines;"
        " it defines plus now" in review
    )
    assert "from utils import add, shout" in review


def test_a_test_command_that_collects_no_test_tests_nothing_and_fails_nothing(
    plan_runner: PlanRunner,
) -> None:
    pytest_command = f"{sys.executable} -m pytest -q -p no:cacheprovider --ignore=tests"
    replies = [{"text": FIXED + FINISH}]
    frontmatter = {"title": "Greeting", "test_command": pytest_command}
    record = plan_runner.run(replies, frontmatter=frontmatter, sandbox="local")

    assert record.status == "completed", record.message
    assert record.model_calls == 1
    _front, body = _report(plan_runner, "devbot/task", record.report_path)
    assert "found no tests (exit 5, nothing was tested)" in body
    assert "Failing output" not in body


def test_only_pytests_no_tests_line_makes_exit_5_a_non_failure() -> None:
    def run(exit_code: int, output: str) -> verify.TestRun:
        return verify.TestRun("make test", "from the plan", exit_code, False, 0.1, output)

    assert not run(5, "\nno tests ran in 0.01s\n").failed
    assert run(5, "make: *** [test] Error 5").failed
    assert run(1, "no tests ran in 0.01s").failed
    assert not run(0, "1 passed").failed
