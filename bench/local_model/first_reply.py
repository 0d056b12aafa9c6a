"""devbot's first reply alone, for every task: a quick probe for changes to the instructions.

    .venv/bin/python -m bench.local_model.first_reply [--tasks hello,rename] [--show]

At temperature 0 this model's first reply decides most runs (bench/results/
local_model_failures.md), so a change to the text protocol's instructions can be judged in
about 3 minutes instead of a full bench: each task's repository gets devbot's system prompt
and first message (with the repository context as `devbot run` builds it), the reply's file
actions are applied with devbot's own tools, and the task's hidden check says whether that
reply alone solves it. Not a substitute for the bench (no tests, no static check, no later
turns); its figures are the prompt and reply sizes the server counted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from bench.local_model.tasks import TASKS, BenchTask, write_files
from devbot.agent.actions import Finish, RunCommand
from devbot.agent.context.build import ContextRequest, build_context
from devbot.agent.context.cache import SymbolCache
from devbot.agent.execute import execute
from devbot.agent.prompts import Task, system_prompt, task_message
from devbot.agent.protocols.base import FormatError
from devbot.agent.protocols.text import TextProtocol, read_text
from devbot.config import Settings
from devbot.sandbox.local import LocalSandbox
from devbot.tools.files import Workspace


def _ask(base_url: str, messages: list[dict[str, str]]) -> dict[str, Any]:
    body = {"model": "local", "messages": messages, "temperature": 0, "max_tokens": 1024}
    request = urllib.request.Request(
        f"{base_url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=900) as answer:
        reply: dict[str, Any] = json.load(answer)
        return reply


def probe(task: BenchTask, base_url: str, show: bool) -> bool:
    root = Path(tempfile.mkdtemp(prefix=f"first-reply-{task.name}-"))
    write_files(root, dict(task.files))
    settings = Settings()
    context = build_context(
        ContextRequest(
            root,
            "0" * 40,
            tuple(sorted(task.files)),
            f"{task.title}\n{task.body}",
            None,
            tuple(settings.instruction_files),
            settings.context_tokens,
        ),
        SymbolCache(root / ".symbols"),
    )
    messages = [
        {"role": "system", "content": system_prompt(TextProtocol())},
        {"role": "user", "content": task_message(Task(task.title, task.body, context.text))},
    ]
    answer = _ask(base_url, messages)
    choice = answer["choices"][0]
    reply, usage = choice["message"]["content"], answer["usage"]
    try:
        reading = read_text(reply, cut=choice.get("finish_reason") == "length")
    except FormatError as error:
        verdict, finished, results = f"format error: {error}", False, []
    else:
        workspace, sandbox = Workspace(root), LocalSandbox()
        results = [
            execute(action, workspace, sandbox, 10.0)
            for action in reading.actions
            if not isinstance(action, Finish | RunCommand)
        ]
        finished = any(isinstance(action, Finish) for action in reading.actions)
        problem = task.check(root)
        verdict = "solved" if problem is None else f"not solved: {problem}"
    print(
        f"{task.name:11} {usage['prompt_tokens']:5} prompt tok {usage['completion_tokens']:5}"
        f" reply tok  {verdict}{'' if finished else ' (no FINISH)'}",
        flush=True,
    )
    if show:
        print(reply, *(r.output[:300] for r in results), "", sep="\n")
    return verdict == "solved"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(task.name for task in TASKS))
    parser.add_argument(
        "--base-url", default=os.environ.get("LOCAL_LLM_URL", "http://127.0.0.1:8088/v1")
    )
    parser.add_argument("--show", action="store_true", help="print each reply and its results")
    args = parser.parse_args()
    tasks = [task for task in TASKS if task.name in args.tasks.split(",")]
    solved = sum(probe(task, args.base_url, args.show) for task in tasks)
    print(f"first reply alone solves {solved} of {len(tasks)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
