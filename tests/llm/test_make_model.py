"""make_model: provider/model strings, keys, and lazy SDK imports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devbot.config import ConfigError, Settings
from devbot.llm import (
    AnthropicModel,
    Message,
    ModelError,
    OpenAIModel,
    RetryingModel,
    ScriptedModel,
    make_model,
)
from tests.fixtures.model_servers import OpenAIServer

ScriptFile = Callable[[list[dict[str, Any]]], Path]


def test_importing_devbot_llm_does_not_import_the_sdks() -> None:
    code = (
        "import sys, devbot.llm; "
        "print(sorted(m for m in ('openai', 'anthropic', 'genai_prices', 'httpx2', 'yaml')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_anthropic_needs_its_key() -> None:
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        make_model(Settings(model="anthropic/claude-sonnet-4-5"), environ={})
    model = make_model(
        Settings(model="anthropic/claude-sonnet-4-5", api_base="http://127.0.0.1:9"),
        environ={"ANTHROPIC_API_KEY": "k"},
    )
    assert isinstance(model, AnthropicModel)
    assert (model.name, model.api_base, model.api_key) == (
        "anthropic/claude-sonnet-4-5",
        "http://127.0.0.1:9",
        "k",
    )


def test_openai_key_optional_with_api_base() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        make_model(Settings(model="openai/gpt-5"), environ={})
    model = make_model(Settings(model="openai/gpt-5"), environ={"OPENAI_API_KEY": "k"})
    assert isinstance(model, OpenAIModel)
    assert model.name == "openai/gpt-5"
    local = make_model(Settings(model="openai/qwen3:8b", api_base="http://127.0.0.1:11434/v1"), {})
    assert isinstance(local, OpenAIModel)
    assert local.model == "qwen3:8b"


def test_settings_reach_the_adapter(openai_server: OpenAIServer) -> None:
    openai_server.queue_error(401, "nope")
    model = make_model(
        Settings(model="openai/m", api_base=openai_server.url, model_retries=0, model_timeout_s=3),
        environ={},
    )
    assert isinstance(model, OpenAIModel)
    assert (model.retries, model.timeout_s) == (0, 3)
    with pytest.raises(ModelError) as caught:
        model.complete([Message("user", "x")])
    assert caught.value.kind == "auth"


def test_scripted_from_path_is_wrapped_in_the_retry_policy(script_file: ScriptFile) -> None:
    path = script_file([{"text": "hi"}])
    model = make_model(Settings(model=f"scripted/{path}"), environ={})
    assert isinstance(model, RetryingModel)
    assert isinstance(model.inner, ScriptedModel)
    assert model.name == f"scripted/{path}"
    assert model.complete([Message("user", "x")]).text == "hi"


def test_unknown_provider_lists_the_providers() -> None:
    with pytest.raises(ConfigError, match="anthropic, openai, scripted"):
        make_model(Settings(model="bedrock/claude"), environ={})
