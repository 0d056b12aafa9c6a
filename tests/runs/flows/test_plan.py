"""Plan runs end to end: real DBOS on SQLite, real git with a bare origin, scripted model."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from devbot.runs.runtime import default_forge
from devbot.vcs.forge import LocalForge
from tests.fixtures.engine import PlanRunner
from tests.fixtures.model_servers import OpenAIServer

HELLO = (
    "@@WRITE hello.txt\nworld\n@@END\n"
    "@@FINISH\nCreated hello.txt.\n- Added `hello.txt` containing `world`.\n@@END\n"
)


def _report(runner: PlanRunner, branch: str, path: str) -> tuple[dict[str, object], str]:
    text = runner.repo.remote_file(branch, path)
    assert text is not None, f"no {path} on origin {branch}"
    _, front, body = text.split("---\n", 2)
    return yaml.safe_load(front), body


def test_hello_plan_becomes_a_pushed_branch_with_report_and_one_pr(
    plan_runner: PlanRunner,
) -> None:
    repo = plan_runner.repo
    (repo.work / "README.md").write_text("my uncommitted edit\n", encoding="utf-8")

    record = plan_runner.run([{"text": HELLO}], body="Create hello.txt with 'world'.")

    assert record.status == "completed", record.message
    assert record.exit_status == "submitted"
    assert record.branch == "devbot/task"
    assert record.model_calls == 1 and record.steps == 1
    assert repo.remote_file("devbot/task", "hello.txt") == "world\n"
    assert repo.remote_sha("devbot/task") == record.head_sha
    front, body = _report(plan_runner, "devbot/task", record.report_path)
    assert front["status"] == "completed"
    assert (front["files_created"], front["files_modified"], front["files_deleted"]) == (1, 0, 0)
    assert front["plan_file"] == "ai-plans/261124__PLAN__task.md"
    assert "- `hello.txt`: new file, 1 line" in body
    assert "Added `hello.txt` containing `world`." in body
    assert repo.remote_file("devbot/task", "ai-plans/261124__PLAN__task.md") is not None
    # the user's own tree is untouched, and the worktree is gone after the push
    assert repo.git("status", "--porcelain") == " M README.md\n?? ai-plans/"
    assert (repo.work / "README.md").read_text(encoding="utf-8") == "my uncommitted edit\n"
    assert not (repo.work / "hello.txt").exists()
    assert "worktrees" not in repo.git("worktree", "list")
    forge = default_forge(plan_runner.settings([]), repo.work)
    assert isinstance(forge, LocalForge)
    prs = forge.list_pull_requests()
    assert [(pr.head, pr.base, pr.title) for pr in prs] == [("devbot/task", "main", "Task")]
    assert "Created hello.txt." in prs[0].body


def test_the_agent_is_refused_its_plan_and_report_with_a_reason(plan_runner: PlanRunner) -> None:
    plan, report = (
        "ai-plans/261124__PLAN__task.md",
        f"ai-plans/{dt.date.today():%y%m%d}__REPORT__task.md",
    )
    meddle = f"@@WRITE {plan}\nDone already.\n@@END\n@@WRITE {report}\nMy report.\n@@END\n"
    record = plan_runner.run([{"text": meddle}, {"text": HELLO}], body="Create hello.txt.")
    assert record.status == "completed", record.message
    original = plan_runner.repo.remote_file("devbot/task", plan) or ""
    assert "Done already." not in original and "Create hello.txt." in original
    events = plan_runner.runtime.store.events(record.id)
    refused = [e["content"] for e in events if e["kind"] == "action" and not e["ok"]]
    assert record.report_path == report
    assert [text.split(" is the")[0] for text in refused] == [plan, report]
    assert "is the plan of this task" in refused[0] and "is the report of this run" in refused[1]


def test_multi_file_plan_with_edit_delete_and_a_failing_edit_fixed_next_turn(
    plan_runner: PlanRunner,
) -> None:
    first = (
        "@@EDIT utils.py\n@@OLD\ndef add(a, b):\n@@NEW\ndef add(a: int, b: int, c: int = 0) -> int:"
        "\n@@END\n@@WRITE greeting.py\ndef greet(name: str) -> str:\n"
        '    return f"Hello, {name}!"\n@@END\n@@DELETE README.md\n'
    )
    second = (
        "@@EDIT utils.py\n@@OLD\ndef add(a: int, b: int) -> int:\n    return a + b\n"
        "@@NEW\ndef add(a: int, b: int, c: int = 0) -> int:\n    return a + b + c\n@@END\n"
        "@@FINISH\nExtended add, added greeting.py, removed the README.\n@@END\n"
    )
    record = plan_runner.run([{"text": first}, {"text": second}])

    assert record.status == "completed", record.message
    assert record.model_calls == 2
    repo = plan_runner.repo
    assert "return a + b + c" in (repo.remote_file("devbot/task", "utils.py") or "")
    assert repo.remote_file("devbot/task", "greeting.py") is not None
    assert repo.remote_file("devbot/task", "README.md") is None
    front, body = _report(plan_runner, "devbot/task", record.report_path)
    assert (front["files_created"], front["files_modified"], front["files_deleted"]) == (1, 1, 1)
    assert "- `README.md`: deleted" in body
    events = plan_runner.store().events(record.id)
    failed = [e for e in events if e["kind"] == "action" and not e["ok"]]
    assert len(failed) == 1
    assert "def add(a: int, b: int) -> int:" in failed[0]["content"]  # nearest real line


def test_a_run_that_hits_the_step_limit_still_pushes_and_reports_why(
    plan_runner: PlanRunner,
) -> None:
    busy = {"text": "@@WRITE notes.txt\nstill working\n@@END\n"}
    record = plan_runner.run([busy, busy, busy, {"text": "Wrapping up: wrote notes."}], max_steps=2)

    assert record.status == "failed"
    assert record.exit_status == "step_limit"
    assert plan_runner.repo.remote_file("devbot/task", "notes.txt") == "still working\n"
    front, body = _report(plan_runner, "devbot/task", record.report_path)
    assert front["status"] == "failed"
    assert "step_limit" in body
    assert "[failed] Task" in [pr.title for pr in _prs(plan_runner)]


def test_garbled_replies_end_the_run_with_format_errors(plan_runner: PlanRunner) -> None:
    garbled = {"text": "I think we should write the file now."}
    record = plan_runner.run([garbled] * 5, max_format_errors=2)

    assert record.status == "failed"
    assert record.exit_status == "format_errors"
    assert record.model_calls == 2
    front, _ = _report(plan_runner, "devbot/task", record.report_path)
    assert front["status"] == "failed"
    assert front["files_created"] == 0


def test_a_model_refused_at_the_first_turn_pushes_nothing_and_says_what_to_fix(
    plan_runner: PlanRunner,
) -> None:
    denied = {"error": {"kind": "auth", "message": "invalid x-api-key", "retryable": False}}
    record = plan_runner.run([denied])

    assert record.status == "failed"
    assert record.exit_status == "model_error"
    assert "invalid x-api-key" in record.message
    assert "nothing was pushed" in record.message and "`model` setting" in record.message
    assert plan_runner.repo.remote_sha("devbot/task") is None
    assert _prs(plan_runner) == []
    assert "worktrees" not in plan_runner.repo.git("worktree", "list")


def test_a_model_error_after_work_still_pushes_the_work(plan_runner: PlanRunner) -> None:
    down = {"error": {"kind": "server", "message": "overloaded", "retryable": False}}
    record = plan_runner.run([{"text": "@@WRITE a.txt\na\n@@END\n"}, down])

    assert (record.status, record.exit_status) == ("failed", "model_error")
    assert plan_runner.repo.remote_file("devbot/task", "a.txt") == "a\n"


def test_wall_time_limit(plan_runner: PlanRunner) -> None:
    slow = {"text": "@@WRITE a.txt\na\n@@END\n", "delay": 0.4}
    record = plan_runner.run([slow] * 5, max_wall_s=0.3)

    assert record.exit_status == "time_limit"
    assert record.status == "failed"


def test_failing_test_command_marks_the_run_failed_and_reports_the_output(
    plan_runner: PlanRunner,
) -> None:
    record = plan_runner.run(
        [{"text": HELLO}],
        frontmatter={"title": "Task", "test_command": "echo boom-output; exit 3"},
        max_test_rounds="0",
    )

    assert record.status == "failed"
    assert "exited 3" in record.message
    front, body = _report(plan_runner, "devbot/task", record.report_path)
    assert front["status"] == "failed"
    assert "boom-output" in body


def test_passing_test_command_is_in_the_testing_notes(plan_runner: PlanRunner) -> None:
    record = plan_runner.run([{"text": HELLO}], test_command="test -f hello.txt")

    assert record.status == "completed"
    _, body = _report(plan_runner, "devbot/task", record.report_path)
    assert "`test -f hello.txt` (from the settings) passed" in body


def test_a_second_run_of_the_same_plan_continues_its_branch_and_updates_its_pr(
    plan_runner: PlanRunner,
) -> None:
    first = plan_runner.run([{"text": HELLO}])
    more = "@@WRITE more.txt\nmore\n@@END\n@@FINISH\nAdded more.txt.\n@@END\n"
    said: list[str] = []
    plan_runner.runtime.progress.subscribe(lambda _run, line: said.append(line))
    second = plan_runner.run([{"text": more}], body="Do the task, and add more.txt.")
    assert "continuing branch devbot/task (and its PR) from an earlier run" in said

    assert (first.branch, second.branch) == ("devbot/task", "devbot/task")
    assert second.report_path == first.report_path
    repo = plan_runner.repo
    assert repo.remote_file("devbot/task", "hello.txt") == "world\n"
    assert repo.remote_file("devbot/task", "more.txt") == "more\n"
    assert repo.git("merge-base", "--is-ancestor", first.head_sha, second.head_sha) == ""
    plan = repo.remote_file("devbot/task", "ai-plans/261124__PLAN__task.md") or ""
    assert "add more.txt" in plan
    front, _ = _report(plan_runner, "devbot/task", second.report_path)
    assert front["files_created"] == 2
    prs = _prs(plan_runner)
    assert len(prs) == 1 and "Added more.txt." in prs[0].body


def test_a_different_plan_with_the_same_slug_gets_a_suffixed_branch(
    plan_runner: PlanRunner,
) -> None:
    first = plan_runner.run([{"text": HELLO}])
    second = plan_runner.run([{"text": HELLO}], folder="other-plans")

    assert (first.branch, second.branch) == ("devbot/task", "devbot/task-2")
    assert len(_prs(plan_runner)) == 2


def test_base_branch_from_the_plan(plan_runner: PlanRunner) -> None:
    repo = plan_runner.repo
    repo.git("push", "--quiet", "origin", "HEAD:refs/heads/release")
    repo.commit({"only-on-main.txt": "x\n"}, "main moves on")

    record = plan_runner.run(
        [{"text": HELLO}], frontmatter={"title": "Task", "base_branch": "release"}
    )

    assert record.base_branch == "release"
    assert repo.remote_file("devbot/task", "only-on-main.txt") is None
    assert _prs(plan_runner)[0].base == "release"


def _prs(runner: PlanRunner) -> list:  # type: ignore[type-arg]
    forge = default_forge(runner.settings([]), runner.repo.work)
    assert isinstance(forge, LocalForge)
    return forge.list_pull_requests()


def test_cost_limit_counts_every_billed_reply_also_unparseable_ones(
    plan_runner: PlanRunner,
) -> None:
    garbled = {"text": "Let me think about this.", "cost_usd": 0.03}
    working = {"text": "@@WRITE a.txt\na\n@@END\n", "cost_usd": 0.03}
    record = plan_runner.run([garbled, working, working, working], max_usd=0.05)

    assert record.exit_status == "cost_limit"
    assert record.status == "failed"
    assert record.model_calls == 2
    assert record.cost_usd == pytest.approx(0.06)
    _, body = _report(plan_runner, "devbot/task", record.report_path)
    assert "$0.0600" in body


def test_an_unusable_sandbox_fails_the_run_with_a_configuration_error(
    plan_runner: PlanRunner,
) -> None:
    record = plan_runner.run(
        [{"text": HELLO}], sandbox="docker", sandbox_image="devbot-test/no-such-image:none"
    )

    assert record.status == "failed"
    assert record.message.startswith("configuration error: sandbox = docker, but")


def test_a_replay_after_the_worktree_was_removed_finishes_without_redoing_anything(
    plan_runner: PlanRunner,
) -> None:
    """As when devbot dies between removing the worktree and recording the end: the
    workflow is replayed from its recorded steps although the worktree is gone."""
    from dbos import DBOS

    record = plan_runner.run([{"text": HELLO}])
    steps = DBOS.list_workflow_steps(record.id)
    last = next(s["function_id"] for s in steps if s["function_name"] == "finished_at")

    replay = DBOS.fork_workflow(record.id, last).get_result()

    assert replay.status == "completed", replay
    assert replay.head_sha == record.head_sha
    assert plan_runner.repo.remote_sha("devbot/task") == record.head_sha
    assert len(_prs(plan_runner)) == 1


def test_the_first_request_carries_the_repository_context_and_the_report_says_so(
    plan_runner: PlanRunner, openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real OpenAI SDK: the instruction file, the file the plan names (whole)
    and the map of the others reach the model in the first message."""
    repo = plan_runner.repo
    repo.commit(
        {
            "AGENTS.md": "Always add type hints.\n",
            "pkg/helpers.py": "def shout(text: str) -> str:\n    return text.upper()\n",
        },
        "instructions and helpers",
    )
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    openai_server.queue_reply(text=HELLO)
    record = plan_runner.run(
        [],
        body="Add `add3` to utils.py.",
        model="openai/gpt-4o-mini",
        api_base=openai_server.url,
    )
    assert record.status == "completed", record.message
    (first,) = [m["content"] for m in openai_server.bodies[0]["messages"] if m["role"] == "user"]
    assert "Always add type hints." in first
    assert "utils.py (" in first and "def add(a: int, b: int) -> int:\n    return a + b" in first
    assert "pkg/helpers.py\n  def shout(text: str) -> str:" in first
    assert "ai-plans/" not in first.split("Context:")[1]  # the plan is the task, not context
    _, body = _report(plan_runner, "devbot/task", record.report_path)
    assert "Repository context given to the agent: ~" in body
    assert "instructions AGENTS.md; whole utils.py" in body
