"""The first-reply probe against a local OpenAI-compatible server: devbot's own first
messages go out, the reply's actions are applied with devbot's tools, the hidden check judges."""

from __future__ import annotations

import pytest

from bench.local_model.first_reply import probe
from bench.local_model.tasks import TASKS
from tests.fixtures.model_servers import OpenAIServer

(HELLO,) = [task for task in TASKS if task.name == "hello"]
(MID_FILE,) = [task for task in TASKS if task.name == "mid_file"]


def test_a_reply_that_solves_the_task_is_judged_solved(
    openai_server: OpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    openai_server.queue_reply(
        text="@@WRITE hello.txt\nHello, world!\n@@END\n@@FINISH\nAdded it.\n@@END\n",
        prompt_tokens=445,
    )
    assert probe(HELLO, openai_server.url, show=False)
    (request,) = openai_server.requests
    system, first = request.body["messages"]
    assert "@@WRITE path" in system["content"]
    assert "Create a file hello.txt" in first["content"]
    assert request.body["temperature"] == 0
    assert " ".join(capsys.readouterr().out.split()) == "hello 445 prompt tok 5 reply tok solved"


def test_a_reply_whose_edit_misses_is_not_solved_and_says_what_it_did(
    openai_server: OpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The mid_file reply recorded from the model under the chosen instructions."""
    reply = "@@EDIT rates.py\n@@OLD\ndef TAX_RATE = 0.20\n@@NEW\ndef TAX_RATE = 0.25\n@@END\n"
    openai_server.queue_reply(text=reply)
    assert not probe(MID_FILE, openai_server.url, show=True)
    out = capsys.readouterr().out
    assert "not solved: TAX_RATE is not 0.25 (no FINISH)" in out
    assert "the search text was not found in rates.py" in out
    assert "rates.py (" in openai_server.requests[0].body["messages"][1]["content"]
