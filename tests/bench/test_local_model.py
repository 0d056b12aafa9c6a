"""Opt-in (DEVBOT_TEST_LOCAL_MODEL=1): devbot solves the hello task against the real local
model (`../shared/tools/local-llm serve`) in one request. Never in CI: it needs the model."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest

from bench.local_model.agents import run_devbot
from bench.local_model.proxy import CountingProxy
from bench.local_model.tasks import TASKS

BASE_URL = os.environ.get("LOCAL_LLM_URL", "http://127.0.0.1:8088/v1")


def _serving() -> bool:
    try:
        with urllib.request.urlopen(f"{BASE_URL}/models", timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


pytestmark = pytest.mark.skipif(
    os.environ.get("DEVBOT_TEST_LOCAL_MODEL") != "1" or not _serving(),
    reason="set DEVBOT_TEST_LOCAL_MODEL=1 and run ../shared/tools/local-llm serve",
)


def test_devbot_solves_hello_with_the_local_model_in_one_request(tmp_path: Path) -> None:
    (hello,) = [task for task in TASKS if task.name == "hello"]
    with CountingProxy(BASE_URL) as proxy:
        attempt = run_devbot(hello, tmp_path, proxy.url, "qwen2.5-coder-1.5b-instruct")
        tally = proxy.take()
    assert attempt.result_dir is not None, attempt.note
    assert hello.check(attempt.result_dir) is None
    assert tally.requests == 1
