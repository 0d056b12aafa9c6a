"""The text protocol over fixture files of messy replies, plus its messages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from devbot.agent.actions import Observation, ReadFile, RunCommand, WriteFile
from devbot.agent.execute import action_record
from devbot.agent.protocols.base import FormatError, ParsedAction, Reading
from devbot.agent.protocols.text import ACTION_WORDS, TextProtocol, parse_text, read_text
from devbot.llm.base import ModelReply

FIXTURES = Path(__file__).parents[1] / "fixtures"
CASES: dict[str, dict[str, Any]] = yaml.safe_load(
    (FIXTURES / "text_cases.yaml").read_text(encoding="utf-8")
)


def reply_of(name: str) -> ModelReply:
    text = (FIXTURES / "text" / f"{name}.txt").read_bytes().decode("utf-8")
    return ModelReply(text=text, finish_reason=CASES[name].get("finish_reason", "stop"))


def plain(parsed: list[ParsedAction]) -> list[dict[str, Any]]:
    records = [action_record(item.action) for item in parsed]
    return list(json.loads(json.dumps(records)))


def test_every_fixture_has_an_expectation() -> None:
    files = {path.stem for path in (FIXTURES / "text").glob("*.txt")}
    assert files == set(CASES)
    assert len(files) >= 20


@pytest.mark.parametrize("name", sorted(n for n in CASES if "actions" in CASES[n]))
def test_fixture_parses_to_expected_actions(name: str) -> None:
    reading = TextProtocol().parse(reply_of(name))
    assert plain(reading.actions) == CASES[name]["actions"]
    assert all(item.call_id is None for item in reading.actions)
    assert list(reading.repairs) == CASES[name].get("repairs", [])
    assert reading.cut is CASES[name].get("cut", False)


@pytest.mark.parametrize("name", sorted(n for n in CASES if "error" in CASES[n]))
def test_fixture_is_a_format_error(name: str) -> None:
    with pytest.raises(FormatError) as caught:
        TextProtocol().parse(reply_of(name))
    assert CASES[name]["error"] in caught.value.message
    assert caught.value.truncated is CASES[name].get("truncated", False)


def test_crlf_fixture_really_has_crlf() -> None:
    assert b"\r\n" in (FIXTURES / "text" / "crlf.txt").read_bytes()


def test_a_cut_reply_runs_what_is_complete_and_asks_to_continue() -> None:
    reply = ModelReply(text="@@RUN python -m pytest -q\n@@READ a.py\n", finish_reason="length")
    reading = TextProtocol().parse(reply)
    assert [type(item.action) for item in reading.actions] == [RunCommand, ReadFile]
    assert reading.cut
    observations = [Observation(True, "1 passed"), Observation(True, "x = 1")]
    (message,) = TextProtocol().observation_messages(reading, observations)
    assert message.content.index("1 passed") < message.content.index("cut off at the output")
    assert "Continue from there" in message.content


def test_repairs_are_told_before_the_observations() -> None:
    reading = TextProtocol().parse(ModelReply(text="@@WRITE a.txt\nhi\n"))
    (message,) = TextProtocol().observation_messages(reading, [Observation(True, "Created")])
    assert message.content.startswith("Your reply was read with these repairs")
    assert "- On line 1, @@WRITE a.txt had no @@END" in message.content
    assert message.content.index("had no @@END") < message.content.index("WRITE a.txt: ok")


def test_an_unclosed_write_keeps_markdown_fences_of_its_own_content() -> None:
    text = "```\n@@WRITE docs/a.md\n# A\n```sh\nmake\n```\n```\n"
    reading = TextProtocol().parse(ModelReply(text=text))
    assert plain(reading.actions) == [
        {"type": "WriteFile", "path": "docs/a.md", "content": "# A\n```sh\nmake\n```\n"}
    ]
    assert "fence ends (line 7)" in reading.repairs[0]


def test_instructions_name_every_action_and_show_no_file_to_copy() -> None:
    instructions = TextProtocol().instructions()
    for word in ACTION_WORDS:
        assert f"@@{word}" in instructions
    listed = instructions.split("\n\n")[1]
    reading = read_text(re.sub(r" {2,}\(.*\)$", "", listed, flags=re.MULTILINE))
    paths = {getattr(action, "path", None) for action in reading.actions} - {None}
    assert paths == {"path", "."}  # placeholders only: nothing a model could take for the task
    assert reading.repairs == ()


def test_observations_come_back_as_one_user_message_in_order() -> None:
    parsed = [ParsedAction(WriteFile("a.py", "x\n")), ParsedAction(RunCommand("pytest -q"))]
    observations = [Observation(True, "Created a.py"), Observation(False, "exit code 1\nboom")]
    messages = TextProtocol().observation_messages(Reading(parsed), observations)
    assert len(messages) == 1
    assert messages[0].role == "user"
    content = messages[0].content
    assert content.index("WRITE a.py: ok\nCreated a.py") < content.index(
        "RUN pytest -q: FAILED\nexit code 1\nboom"
    )


def test_format_error_message_says_nothing_ran_unless_truncated() -> None:
    protocol = TextProtocol()
    error = FormatError("your reply has no action.")
    (message,) = protocol.format_error_messages(ModelReply(text="hm"), error)
    assert message.role == "user"
    assert message.content.startswith("Format error: your reply has no action.")
    assert "Nothing from that reply was run" in message.content
    cut = FormatError("cut off", truncated=True)
    assert protocol.format_error_messages(ModelReply(text=""), cut)[0].content == "cut off"


def _is_plain_content(line: str) -> bool:
    stripped = line.strip()
    return not stripped.startswith("@@") and not stripped.startswith("```")


@given(
    st.lists(
        st.text(
            alphabet=st.characters(exclude_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
        ).filter(_is_plain_content),
        max_size=12,
    ).filter(lambda lines: not lines or lines[-1].strip() != "")
)
def test_write_content_round_trips(lines: list[str]) -> None:
    content = "\n".join(lines) + "\n" if lines else ""
    reply = f"Some prose.\n@@WRITE f.py\n{content}@@END\n"
    assert parse_text(reply) == [WriteFile("f.py", content)]
