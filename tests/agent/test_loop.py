"""The agent loop with the scripted model, a real Workspace and the local sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from devbot.agent import Agent, AgentResult, ExitStatus, Limits, Task, get_protocol
from devbot.agent.prompts import system_prompt, task_message
from devbot.llm.base import Message, ModelReply, ToolSpec
from devbot.llm.scripted import ScriptedModel
from devbot.sandbox.local import LocalSandbox
from devbot.tools import Workspace
from tests.agent.replies import entry, prose_only

PROTOCOLS = ["text", "tools"]
HELLO = Task("Create hello.txt", "Create a file named hello.txt with content 'world'")
LIMITS = Limits(max_steps=20, max_usd=1.0, max_wall_s=600.0, max_format_errors=3)


@dataclass
class Spy:
    """Wraps the scripted model: keeps every prompt, adds a price and moves a fake clock."""

    inner: ScriptedModel
    cost_per_call: float = 0.0
    seconds_per_call: float = 0.0
    now: float = 0.0
    prompts: list[list[Message]] = field(default_factory=list)
    tools: list[list[ToolSpec] | None] = field(default_factory=list)
    name: str = "spy"

    def complete(self, messages: list[Message], tools: list[ToolSpec] | None = None) -> ModelReply:
        self.prompts.append(list(messages))
        self.tools.append(tools)
        self.now += self.seconds_per_call
        reply = self.inner.complete(messages, tools)
        return replace(reply, cost_usd=self.cost_per_call)

    def clock(self) -> float:
        return self.now


def spy(
    replies: list[dict[str, Any]],
    *,
    cost_per_call: float = 0.0,
    seconds_per_call: float = 0.0,
    now: float = 0.0,
) -> Spy:
    return Spy(ScriptedModel.from_replies(replies), cost_per_call, seconds_per_call, now)


def agent(model: Spy, protocol: str, workspace: Workspace, **options: Any) -> Agent:
    options.setdefault("clock", model.clock)
    limits = options.pop("limits", LIMITS)
    return Agent(model, get_protocol(protocol), workspace, LocalSandbox(), limits, **options)


def chars(messages: list[Message], tools: list[ToolSpec] | None) -> int:
    size = sum(
        len(m.content) + len(json.dumps([c.arguments for c in m.tool_calls])) for m in messages
    )
    return size + len(json.dumps([vars(t) for t in tools or []]))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_hello_in_one_request(protocol: str, workspace: Workspace) -> None:
    model = spy(
        [entry(protocol, ("write", "hello.txt", "world\n"), ("finish", "Created hello.txt."))]
    )
    events: list[dict[str, Any]] = []
    result = agent(model, protocol, workspace, on_event=events.append).run(HELLO)
    assert result.exit_status is ExitStatus.SUBMITTED
    assert result.summary == "Created hello.txt."
    assert (result.steps, result.model_calls) == (1, 1)
    assert (workspace.root / "hello.txt").read_text() == "world\n"
    assert [e["kind"] for e in result.trajectory] == ["model", "action", "exit"]
    assert events == result.trajectory
    assert result.trajectory[1]["action"]["type"] == "WriteFile"
    assert result.trajectory[-1]["status"] == "submitted"
    assert result.prompt_tokens > 0
    json.dumps(result.trajectory)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_hello_prompt_is_under_a_thousand_tokens(protocol: str, workspace: Workspace) -> None:
    model = spy([entry(protocol, ("write", "hello.txt", "world\n"), ("finish", "Done."))])
    result = agent(model, protocol, workspace).run(HELLO)
    (prompt,) = model.prompts
    assert [m.role for m in prompt] == ["system", "user"]
    assert prompt[0].content == system_prompt(get_protocol(protocol))
    assert prompt[1].content == task_message(HELLO)
    assert chars(prompt, model.tools[0]) / 4 < 1000
    assert result.prompt_tokens < 1000


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_multi_file_with_a_failed_edit_the_model_fixes(protocol: str, workspace: Workspace) -> None:
    calc = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return 0\n"
    script = [
        entry(
            protocol,
            ("write", "calc.py", calc),
            ("write", "notes.txt", "scratch\n"),
            ("write", "test_calc.py", "from calc import add\n\nassert add(2, 3) == 5\n"),
        ),
        entry(
            protocol,
            (
                "edit",
                "calc.py",
                [
                    ("    return a - b\n", "    return a + b\n"),
                    ("def mul(a, b):\n    return 1\n", "def mul(a, b):\n    return a * b\n"),
                ],
            ),
            ("delete", "notes.txt"),
        ),
        entry(
            protocol,
            ("edit", "calc.py", [("    return 0\n", "    return a * b\n")]),
            ("run", "python test_calc.py"),
            ("finish", "Fixed add, implemented mul, removed notes."),
        ),
    ]
    model = spy(script)
    result = agent(model, protocol, workspace).run(Task("Fix calc", "Fix add and mul."))
    assert result.exit_status is ExitStatus.SUBMITTED, result.message
    assert result.steps == 3
    assert (workspace.root / "calc.py").read_text() == calc.replace("a - b", "a + b").replace(
        "return 0", "return a * b"
    )
    assert not (workspace.root / "notes.txt").exists()
    told = "\n".join(m.content for m in model.prompts[2][-2:])
    assert "FAILED" in told
    assert "Block 2" in told and "Blocks 1 applied" in told
    assert "    return 0" in told
    failed = [e for e in result.trajectory if e["kind"] == "action" and not e["ok"]]
    assert [e["action"]["type"] for e in failed] == ["EditFile"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_finish_after_a_failed_action_is_refused(protocol: str, workspace: Workspace) -> None:
    model = spy(
        [
            entry(protocol, ("delete", "missing.txt"), ("finish", "Deleted it.")),
            entry(protocol, ("finish", "Nothing to delete: missing.txt never existed.")),
        ]
    )
    result = agent(model, protocol, workspace).run(Task("Tidy", "Delete missing.txt."))
    assert result.exit_status is ExitStatus.SUBMITTED
    assert result.steps == 2
    assert result.summary.startswith("Nothing to delete")
    assert "Not finished: an action above failed" in "\n".join(m.content for m in model.prompts[1])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_step_limit_ends_with_a_wrap_up_summary(protocol: str, workspace: Workspace) -> None:
    script = [entry(protocol, ("list", path)) for path in (".", "./")]  # not the same twice
    script.append(entry(protocol, ("finish", "Only looked around; nothing changed.")))
    model = spy(script)
    limits = replace(LIMITS, max_steps=2)
    result = agent(model, protocol, workspace, limits=limits).run(HELLO)
    assert result.exit_status is ExitStatus.STEP_LIMIT
    assert "step limit reached: 2 model turns of 2" in result.message
    assert result.summary == "Only looked around; nothing changed."
    assert "reached its step limit" in model.prompts[-1][-1].content
    assert len(model.prompts) == 3
    assert [e["kind"] for e in result.trajectory].count("action") == 2


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_same_reply_with_the_same_results_twice_ends_the_run_stuck(
    protocol: str, workspace: Workspace
) -> None:
    """Seen with Qwen2.5-Coder-1.5B at temperature 0: the reply it already sent, whatever it
    was told, until the step limit."""
    (workspace.root / "a.txt").write_text("a\n")
    same = entry(protocol, ("read", "a.txt"), ("write", "a.txt", "a\n"))
    model = spy([same, same, same, same, entry(protocol, ("finish", "never reached"))])
    result = agent(model, protocol, workspace).run(HELLO)
    assert result.exit_status is ExitStatus.STUCK
    assert "the same reply 2 turns in a row" in result.message
    assert result.model_calls == 2  # no wrap-up turn either


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_repeated_reply_whose_results_differ_is_not_stuck(
    protocol: str, workspace: Workspace
) -> None:
    appended = [entry(protocol, ("run", "echo x >> log.txt; wc -l < log.txt")) for _ in range(4)]
    model = spy([*appended, entry(protocol, ("finish", "Logged four times."))])
    result = agent(model, protocol, workspace).run(HELLO)
    assert result.exit_status is ExitStatus.SUBMITTED


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_cost_limit_counts_every_billed_call(protocol: str, workspace: Workspace) -> None:
    script = [prose_only(), entry(protocol, ("list", ".")), entry(protocol, ("list", "./"))]
    model = spy(script, cost_per_call=0.4)
    result = agent(model, protocol, workspace).run(HELLO)
    assert result.exit_status is ExitStatus.COST_LIMIT
    assert result.model_calls == 3
    assert result.cost_usd == pytest.approx(1.2)
    assert result.trajectory[0]["cost"] == pytest.approx(0.4)
    assert "$1.2000 spent of $1.0000" in result.message


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_time_limit_uses_the_injected_clock(protocol: str, workspace: Workspace) -> None:
    script = [entry(protocol, ("list", "./" * n or ".")) for n in range(5)]  # never the same twice
    model = spy(script, seconds_per_call=100.0)
    limits = replace(LIMITS, max_wall_s=250.0)
    result = agent(model, protocol, workspace, limits=limits).run(HELLO)
    assert result.exit_status is ExitStatus.TIME_LIMIT
    assert result.steps == 4
    assert "300s of 250s" in result.message


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_resumed_run_keeps_its_original_start(protocol: str, workspace: Workspace) -> None:
    model = spy([entry(protocol, ("list", "."))], now=1000.0)
    limits = replace(LIMITS, max_wall_s=500.0)
    result = agent(model, protocol, workspace, limits=limits).run(HELLO, started_at=400.0)
    assert result.exit_status is ExitStatus.TIME_LIMIT
    assert result.model_calls == 0
    assert "600s of 500s" in result.message


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_consecutive_format_errors_end_the_run(protocol: str, workspace: Workspace) -> None:
    model = spy([prose_only(), prose_only("Still thinking."), entry(protocol, ("list", "."))])
    limits = replace(LIMITS, max_format_errors=2)
    result = agent(model, protocol, workspace, limits=limits).run(HELLO)
    assert result.exit_status is ExitStatus.FORMAT_ERRORS
    assert result.model_calls == 2
    assert result.completion_tokens > 0
    kinds = [e["kind"] for e in result.trajectory]
    assert kinds == ["model", "format_error", "model", "format_error", "exit"]
    assert "no" in model.prompts[1][-1].content


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_good_reply_resets_the_format_error_count(protocol: str, workspace: Workspace) -> None:
    script = [
        prose_only(),
        entry(protocol, ("list", ".")),
        prose_only(),
        entry(protocol, ("write", "hello.txt", "world\n"), ("finish", "Done.")),
    ]
    limits = replace(LIMITS, max_format_errors=2)
    result = agent(spy(script), protocol, workspace, limits=limits).run(HELLO)
    assert result.exit_status is ExitStatus.SUBMITTED
    assert result.steps == 4


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_truncated_reply_is_told_apart(protocol: str, workspace: Workspace) -> None:
    cut = entry(protocol, ("write", "big.txt", "lots\n"))
    cut["finish_reason"] = "length"
    if protocol == "text":  # cut inside its only block: nothing complete to run
        cut["text"] = "@@WRITE big.txt\nlots\nmo"
    model = spy([cut, entry(protocol, ("finish", "Gave up on big.txt."))])
    result = agent(model, protocol, workspace).run(HELLO)
    assert result.exit_status is ExitStatus.SUBMITTED
    assert not (workspace.root / "big.txt").exists()
    told = "\n".join(m.content for m in model.prompts[1][3:])
    assert "cut off at the output limit" in told
    assert result.trajectory[1] | {"content": ""} == result.trajectory[1] | {
        "kind": "format_error",
        "truncated": True,
        "content": "",
    }


def _cut_replies(count: int) -> list[dict[str, str]]:
    return [
        {
            "text": f"@@WRITE part{n}.txt\n{n}\n@@END\n@@WRITE part{n + 1}.txt\nhal",
            "finish_reason": "length",
        }
        for n in range(count)
    ]


def test_a_cut_text_reply_runs_its_complete_actions_and_is_no_format_error(
    workspace: Workspace,
) -> None:
    finish = entry("text", ("finish", "Wrote the parts."))
    model = spy([*_cut_replies(2), finish])
    result = agent(model, "text", workspace).run(HELLO)
    assert result.exit_status is ExitStatus.SUBMITTED
    assert sorted(p.name for p in workspace.root.glob("part*.txt")) == ["part0.txt", "part1.txt"]
    assert "Continue from there" in model.prompts[1][-1].content
    assert "On line 4, @@WRITE part1.txt was cut off" in model.prompts[1][-1].content
    kinds = [e["kind"] for e in result.trajectory]
    assert "format_error" not in kinds
    assert [e["cut"] for e in result.trajectory if e["kind"] == "repaired"] == [True] * 2


def test_cut_after_cut_ends_the_run_at_the_format_error_limit(workspace: Workspace) -> None:
    """Seen with Qwen2.5-Coder-1.5B at temperature 0: a test file of ever more asserts, cut
    at the output cap, then the same again in parts, until the step limit."""
    model = spy([*_cut_replies(4), entry("text", ("finish", "never reached"))])
    result = agent(model, "text", workspace).run(HELLO)  # max_format_errors=3
    assert result.exit_status is ExitStatus.FORMAT_ERRORS
    assert result.message == "3 malformed or cut-off replies in a row (limit 3)"
    assert result.model_calls == 3
    assert sorted(p.name for p in workspace.root.glob("part*.txt")) == [
        "part0.txt",
        "part1.txt",
        "part2.txt",
    ]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_model_error_ends_the_run_without_raising(protocol: str, workspace: Workspace) -> None:
    script = [
        entry(protocol, ("list", ".")),
        {"error": {"kind": "auth", "message": "invalid API key", "retryable": False}},
    ]
    result = agent(spy(script), protocol, workspace).run(HELLO)
    assert result.exit_status is ExitStatus.MODEL_ERROR
    assert result.message == "model error (auth): invalid API key"
    assert result.steps == 1
    assert result.trajectory[-1]["kind"] == "exit"
    assert result.trajectory[-1]["status"] == "model_error"


def test_cancel_is_checked_before_each_turn(workspace: Workspace) -> None:
    model = spy([entry("text", ("list", "./" * n or ".")) for n in range(3)])
    asked = iter([False, True])
    result = agent(model, "text", workspace, should_stop=lambda: next(asked)).run(HELLO)
    assert result.exit_status is ExitStatus.CANCELLED
    assert result.model_calls == 1


def test_an_unexpected_crash_still_reports_the_exit(workspace: Workspace) -> None:
    class Broken(Spy):
        def complete(
            self, messages: list[Message], tools: list[ToolSpec] | None = None
        ) -> ModelReply:
            raise RuntimeError("bug in an adapter")

    events: list[dict[str, Any]] = []
    broken = Broken(ScriptedModel.from_replies([]))
    with pytest.raises(RuntimeError, match="bug in an adapter"):
        agent(broken, "text", workspace, on_event=events.append).run(HELLO)
    assert events[-1]["kind"] == "exit"
    assert events[-1]["status"] == "crashed"


@dataclass
class Journal:
    """A recorder like the durable layer's: records each step, or replays recorded ones."""

    steps: list[tuple[str, Any]] = field(default_factory=list)
    replay_from: list[tuple[str, Any]] | None = None

    def __call__(self, name: str, thunk: Callable[[], Any]) -> Any:
        if self.replay_from is not None:
            recorded_name, result = self.replay_from[len(self.steps)]
            assert recorded_name == name
        else:
            result = json.loads(json.dumps(thunk()))
        self.steps.append((name, result))
        return result


def comparable(result: AgentResult) -> dict[str, Any]:
    return {k: v for k, v in vars(result).items() if k != "model_calls"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_replay_repeats_the_run_without_model_or_side_effects(
    protocol: str, tmp_path: Path
) -> None:
    script = [
        prose_only(),
        entry(protocol, ("write", "a.txt", "one\n"), ("run", "cat a.txt")),
        entry(protocol, ("edit", "a.txt", [("one\n", "two\n")]), ("finish", "a.txt says two.")),
    ]
    first_root, second_root = tmp_path / "first", tmp_path / "second"
    first_root.mkdir()
    second_root.mkdir()
    journal = Journal()
    first = agent(spy(script), protocol, Workspace(first_root), record=journal).run(HELLO)
    assert first.exit_status is ExitStatus.SUBMITTED
    assert [name for name, _ in journal.steps] == [
        "model",
        "model",
        "action",
        "action",
        "model",
        "action",
    ]
    silent = spy([])
    replayed = Journal(replay_from=journal.steps)
    second = agent(silent, protocol, Workspace(second_root), record=replayed).run(HELLO)
    assert silent.prompts == []
    assert second.model_calls == first.model_calls == 3  # counted from the record
    assert comparable(second) == comparable(first)
    assert list(second_root.iterdir()) == []
    assert (first_root / "a.txt").read_text() == "two\n"


def test_replay_of_a_recorded_model_error_ends_the_same_way(workspace: Workspace) -> None:
    journal = Journal()
    failing = spy([{"error": {"kind": "rate_limit", "message": "slow down", "retryable": True}}])
    first = agent(failing, "text", workspace, record=journal).run(HELLO)
    second = agent(spy([]), "text", workspace, record=Journal(replay_from=journal.steps)).run(HELLO)
    assert first.exit_status is second.exit_status is ExitStatus.MODEL_ERROR
    assert second.message == first.message == "model error (rate_limit): slow down"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_masking_keeps_prompts_bounded(protocol: str, workspace: Workspace) -> None:
    turns = 12
    script = [
        entry(protocol, ("run", f"python3 -c \"print('{i:02d}' * 1000)\"")) for i in range(turns)
    ]
    script.append(entry(protocol, ("finish", "Printed a lot.")))
    model = spy(script)
    result = agent(model, protocol, workspace).run(HELLO)
    assert result.exit_status is ExitStatus.SUBMITTED
    last = "\n".join(m.content for m in model.prompts[-1])
    hidden = [m.content for m in model.prompts[-1] if m.content.startswith("[output of step")]
    assert hidden == [f"[output of step {step} hidden]" for step in range(1, turns - 2)]
    for i in range(turns):
        assert (f"{i:02d}" * 1000 in last) is (i >= turns - 3)
    sizes = [chars(prompt, None) for prompt in model.prompts]
    assert max(sizes[4:]) - min(sizes[4:]) < 1000
    assert max(sizes) < 3 * 2000 + 4000


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_next_task_answers_each_finish_in_the_same_conversation_until_none(
    protocol: str, workspace: Workspace
) -> None:
    """A Spec Kit run's tasks: each accepted finish is told to `next_task`, whose text is the
    finish's ok result; None ends the run, submitted."""
    model = spy(
        [
            entry(protocol, ("write", "a.txt", "a\n"), ("finish", "Did A.")),
            entry(protocol, ("write", "b.txt", "b\n"), ("finish", "Did B.")),
        ]
    )
    told: list[str] = []

    def next_task(summary: str) -> str | None:
        told.append(summary)
        return "Now task B: write b.txt." if len(told) == 1 else None

    result = agent(model, protocol, workspace, next_task=next_task).run(HELLO)
    assert result.exit_status is ExitStatus.SUBMITTED
    assert told == ["Did A.", "Did B."]
    assert result.summary == "Did B." and result.model_calls == 2
    kinds = [e["kind"] for e in result.trajectory]
    assert kinds == ["model", "action", "next_task", "model", "action", "exit"]
    second = model.prompts[1]
    assert len([m for m in second if m.role == "assistant"]) == 1  # one conversation
    assert "Now task B: write b.txt." in second[-1].content
    assert "FAILED" not in second[-1].content and '"ok": false' not in second[-1].content


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_review_objection_comes_before_the_next_task(protocol: str, workspace: Workspace) -> None:
    model = spy(
        [
            entry(protocol, ("finish", "Done too early.")),
            entry(protocol, ("write", "a.txt", "a\n"), ("finish", "Did A.")),
        ]
    )
    objections = iter(["a.txt is missing", None])
    told: list[str] = []
    result = agent(
        model,
        protocol,
        workspace,
        review_finish=lambda: next(objections),
        next_task=lambda summary: told.append(summary) or None,
    ).run(HELLO)
    assert result.exit_status is ExitStatus.SUBMITTED
    assert told == ["Did A."]  # the objected finish never reached next_task
