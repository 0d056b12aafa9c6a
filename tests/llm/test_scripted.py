"""The scripted model: replies by turn index, scripted errors, script file validation."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devbot.config import ConfigError
from devbot.llm.base import Message, ModelError, ToolCall, Usage
from devbot.llm.scripted import ScriptedModel, ScriptError

ScriptFile = Callable[[list[dict[str, Any]]], Path]


def conversation(turns: int) -> list[Message]:
    """A conversation in which the model has already answered `turns` times."""
    messages = [Message("system", "be brief"), Message("user", "task")]
    for i in range(turns):
        messages += [Message("assistant", f"reply {i}"), Message("user", f"observation {i}")]
    return messages


def test_reply_is_chosen_by_turn_index_not_call_order(script_file: ScriptFile) -> None:
    model = ScriptedModel.from_file(script_file([{"text": "one"}, {"text": "two"}, {"text": "3"}]))
    assert model.complete(conversation(2)).text == "3"
    assert model.complete(conversation(0)).text == "one"
    assert model.complete(conversation(0)).text == "one"
    assert model.complete(conversation(1)).text == "two"


def test_name_finish_reason_and_tool_calls(script_file: ScriptFile) -> None:
    path = script_file(
        [
            {"text": "", "tool_calls": [{"name": "read", "arguments": {"path": "a.py"}}]},
            {"text": "cut", "finish_reason": "length", "tool_calls": [{"name": "x", "id": "c9"}]},
        ]
    )
    model = ScriptedModel.from_file(path)
    assert model.name == f"scripted/{path}"
    first = model.complete(conversation(0))
    assert first.tool_calls == [ToolCall(id="call_0_0", name="read", arguments={"path": "a.py"})]
    assert first.finish_reason == "tool_calls"
    assert first.model == model.name
    assert first.cost_usd == 0.0
    second = model.complete(conversation(1))
    assert second.finish_reason == "length"
    assert second.tool_calls == [ToolCall(id="c9", name="x", arguments={})]


def test_default_usage_is_estimated_from_characters() -> None:
    model = ScriptedModel.from_replies([{"text": "x" * 9}])
    messages = [Message("system", "a" * 10), Message("user", "b" * 3)]
    assert model.complete(messages).usage == Usage(prompt_tokens=4, completion_tokens=3)
    assert model.name == "scripted/inline"


def test_explicit_usage() -> None:
    model = ScriptedModel.from_replies(
        [{"text": "hi", "usage": {"prompt_tokens": 100, "completion_tokens": 7}}]
    )
    assert model.complete(conversation(0)).usage == Usage(100, 7)


def test_errors_before_then_the_reply_kept_per_turn() -> None:
    model = ScriptedModel.from_replies(
        [
            {"text": "first"},
            {
                "text": "second",
                "errors_before": [
                    {"kind": "rate_limit", "message": "slow down", "retryable": True},
                    {"kind": "server", "message": "oops", "retryable": True},
                ],
            },
        ]
    )
    with pytest.raises(ModelError) as first:
        model.complete(conversation(1))
    assert (first.value.kind, first.value.retryable, str(first.value)) == (
        "rate_limit",
        True,
        "slow down",
    )
    assert model.complete(conversation(0)).text == "first"
    with pytest.raises(ModelError, match="oops"):
        model.complete(conversation(1))
    assert model.complete(conversation(1)).text == "second"
    assert model.complete(conversation(1)).text == "second"


def test_error_is_raised_on_every_call() -> None:
    model = ScriptedModel.from_replies(
        [{"error": {"kind": "auth", "message": "bad key", "retryable": False}}]
    )
    for _ in range(3):
        with pytest.raises(ModelError) as caught:
            model.complete(conversation(0))
        assert (caught.value.kind, caught.value.retryable) == ("auth", False)


def test_exhaustion_says_how_many_replies() -> None:
    model = ScriptedModel.from_replies([{"text": "a"}, {"text": "b"}])
    with pytest.raises(ModelError, match="has 2 replies") as caught:
        model.complete(conversation(2))
    assert (caught.value.kind, caught.value.retryable) == ("script_exhausted", False)


def test_delay_sleeps_before_replying() -> None:
    sleeps: list[float] = []
    model = ScriptedModel.from_replies([{"text": "a", "delay": 0.25}])
    model.sleep = sleeps.append
    model.complete(conversation(0))
    assert sleeps == [0.25]


def test_delay_really_waits() -> None:
    import time

    model = ScriptedModel.from_replies([{"text": "a", "delay": 0.05}])
    start = time.monotonic()
    model.complete(conversation(0))
    assert time.monotonic() - start >= 0.05


def test_json_script_and_replies_mapping(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"replies": [{"text": "from json"}]}), encoding="utf-8")
    assert ScriptedModel.from_file(path).complete(conversation(0)).text == "from json"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("bad.yaml", "- text: [unclosed", "invalid YAML"),
        ("bad.json", "[{", "invalid JSON"),
        ("bad.txt", "[]", "must end in .yaml"),
        ("notlist.yaml", "text: hi", "a script is a list"),
        ("scalar.yaml", "- hello", "reply 1: expected a mapping"),
        ("typo.yaml", "- {text: a}\n- {txet: b}", "reply 2: unknown key(s) txet"),
        ("finish.yaml", "- {text: a, finish_reason: done}", "finish_reason must be one of"),
        ("delay.yaml", "- {text: a, delay: -1}", "delay must be"),
        ("call.yaml", "- {text: a, tool_calls: [{arguments: {}}]}", "tool_calls[0]: needs a name"),
        ("err.yaml", "- {error: {message: x}}", "error: kind must be"),
        ("usage.yaml", "- {text: a, usage: {prompt_tokens: many}}", "usage takes integer"),
    ],
)
def test_malformed_scripts_name_the_file(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ScriptError) as caught:
        ScriptedModel.from_file(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)
    assert isinstance(caught.value, ConfigError)


def test_missing_script_file(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="cannot read script"):
        ScriptedModel.from_file(tmp_path / "absent.yaml")


def test_entries_may_carry_a_cost() -> None:
    model = ScriptedModel.from_replies([{"text": "hi", "cost_usd": 0.25}])
    assert model.complete([Message("user", "go")]).cost_usd == 0.25
    with pytest.raises(ScriptError, match="cost_usd"):
        ScriptedModel.from_replies([{"text": "hi", "cost_usd": -1}])
