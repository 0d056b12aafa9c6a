"""Models: the Model protocol, provider adapters, the scripted model, `make_model`.

`make_model` reads `provider/model` from the settings. Importing this package never imports
the provider SDKs; `make_model` starts that import on a background thread so it overlaps
with the rest of start-up, and the first call waits for it only if it is not done yet.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Mapping

from devbot.config import ConfigError, Settings
from devbot.llm.anthropic_model import AnthropicModel
from devbot.llm.base import (
    FinishReason,
    Message,
    Model,
    ModelError,
    ModelReply,
    Role,
    ToolCall,
    ToolSpec,
    Usage,
)
from devbot.llm.errors import ClassifiedError, classify
from devbot.llm.openai_model import OpenAIModel
from devbot.llm.pricing import cost_usd
from devbot.llm.retry import RetryingModel, call_with_retries
from devbot.llm.scripted import ScriptedModel, ScriptError

PROVIDERS = ("anthropic", "openai", "scripted")

__all__ = [
    "PROVIDERS",
    "AnthropicModel",
    "ClassifiedError",
    "FinishReason",
    "Message",
    "Model",
    "ModelError",
    "ModelReply",
    "OpenAIModel",
    "RetryingModel",
    "Role",
    "ScriptError",
    "ScriptedModel",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "call_with_retries",
    "classify",
    "cost_usd",
    "make_model",
]


def make_model(settings: Settings, environ: Mapping[str, str] | None = None) -> Model:
    """The Model named by `settings.model`, behind devbot's retry policy."""
    env = os.environ if environ is None else environ
    provider, _, name = settings.model.partition("/")
    if not name:
        raise ConfigError(f"model = {settings.model!r}: write provider/model")
    if provider == "anthropic":
        key = env.get("ANTHROPIC_API_KEY")
        if not key:
            raise ConfigError(
                f"model = {settings.model!r} needs ANTHROPIC_API_KEY in the environment"
            )
        _preload("anthropic")
        return AnthropicModel(
            name,
            key,
            settings.api_base,
            timeout_s=settings.model_timeout_s,
            retries=settings.model_retries,
        )
    if provider == "openai":
        key = env.get("OPENAI_API_KEY")
        if not key and not settings.api_base:
            raise ConfigError(
                f"model = {settings.model!r} needs OPENAI_API_KEY in the environment"
                " (or DEVBOT_API_BASE for a local OpenAI-compatible server)"
            )
        _preload("openai")
        return OpenAIModel(
            name,
            settings.api_base,
            key or None,
            timeout_s=settings.model_timeout_s,
            retries=settings.model_retries,
        )
    if provider == "scripted":
        return RetryingModel(ScriptedModel.from_file(name), retries=settings.model_retries)
    raise ConfigError(
        f"model = {settings.model!r}: unknown provider {provider!r};"
        f" providers: {', '.join(PROVIDERS)}"
    )


def _preload(module: str) -> None:
    """Import `module` on a daemon thread; a later `import` in the caller waits for it."""
    threading.Thread(
        target=importlib.import_module, args=(module,), name=f"preload-{module}", daemon=True
    ).start()
