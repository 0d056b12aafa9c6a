"""The agent part of a run: what its progress lines say."""

from __future__ import annotations

from devbot.runs.flows.agent import describe_event


def test_an_action_line_names_what_it_acted_on_not_the_files_first_line() -> None:
    read = {
        "step": 2,
        "kind": "action",
        "content": "# Sample project\nmore lines",
        "action": {"type": "ReadFile", "path": "README.md", "start_line": None},
        "ok": True,
    }
    run = {
        "step": 3,
        "kind": "action",
        "content": "exit 1",
        "action": {"type": "RunCommand", "command": "pytest -q\nsecond line"},
        "ok": False,
    }
    search = {
        "step": 4,
        "kind": "action",
        "content": "x.py:1: def f",
        "action": {"type": "SearchFiles", "pattern": "def f", "path": "src", "glob": None},
        "ok": True,
    }
    assert describe_event(read) == "step 2 read README.md: ok"
    assert describe_event(run) == "step 3 run pytest -q second line: failed"
    assert describe_event(search) == "step 4 search def f in src: ok"
    model = {"step": 1, "kind": "model", "content": "\x1b[2JI will read the README.\nmore"}
    assert describe_event(model) == "step 1 model: I will read the README."
