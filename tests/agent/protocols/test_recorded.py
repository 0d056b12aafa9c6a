"""The text protocol reads replies recorded from a real small model, with the expected repairs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from devbot.agent.execute import action_record
from devbot.agent.protocols.text import TextProtocol
from devbot.llm.base import ModelReply

RECORDED = Path(__file__).parents[1] / "fixtures" / "recorded"
CASES: dict[str, dict[str, Any]] = yaml.safe_load(
    (RECORDED / "cases.yaml").read_text(encoding="utf-8")
)


def test_every_recording_has_an_expectation() -> None:
    assert {path.stem for path in RECORDED.glob("*.txt")} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_recorded_reply_is_read_with_its_repairs(name: str) -> None:
    case = CASES[name]
    text = (RECORDED / f"{name}.txt").read_bytes().decode("utf-8")
    reading = TextProtocol().parse(ModelReply(text=text, finish_reason=case["finish_reason"]))
    records = json.loads(json.dumps([action_record(item.action) for item in reading.actions]))
    assert [record["type"] for record in records] == [a["type"] for a in case["actions"]]
    for record, expected in zip(records, case["actions"], strict=True):
        assert {key: record[key] for key in expected} == expected
    assert list(reading.repairs) == case.get("repairs", [])
    assert reading.cut is (case["finish_reason"] == "length")
