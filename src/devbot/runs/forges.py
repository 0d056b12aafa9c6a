"""The forge a feedback run talks to, and who may ask devbot for work there.

`feedback_forge_for` returns the configured forge when it can hold reviews (GitHub); an
embedding program or a test may install its own factory. Permissions are cached briefly
so a burst of comments costs one permission request per user.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

from devbot.config import Settings
from devbot.runs.state import forge_for
from devbot.vcs.forge import FeedbackForge

ForgeFactory = Callable[[Settings, Path], FeedbackForge]
TRUSTED_PERMISSIONS = frozenset({"admin", "maintain", "write"})
PERMISSION_TTL_S = 60.0
_FEEDBACK_METHODS = ("permission", "list_feedback", "post_comment", "reply_to_review_comment")

_factory: ForgeFactory | None = None
_cache: dict[tuple[str, str], tuple[str, float]] = {}
_cache_lock = threading.Lock()


class ForgeUnavailable(RuntimeError):
    """The configured forge cannot take review feedback (e.g. the local forge)."""


def use_feedback_forge(factory: ForgeFactory | None) -> None:
    """Install (or, with None, remove) the factory `feedback_forge_for` uses."""
    global _factory
    _factory = factory
    clear_permission_cache()


def feedback_forge_for(settings: Settings, repo: Path) -> FeedbackForge:
    if _factory is not None:
        return _factory(settings, repo)
    forge = forge_for(settings, repo)
    if not all(callable(getattr(forge, name, None)) for name in _FEEDBACK_METHODS):
        raise ForgeUnavailable(
            f"the {forge.name} forge has no review feedback; configure GitHub "
            "(GITHUB_TOKEN or a GitHub App) to answer webhooks"
        )
    return cast(FeedbackForge, forge)


def clear_permission_cache() -> None:
    with _cache_lock:
        _cache.clear()


def permission(forge: FeedbackForge, scope: str, user: str, ttl_s: float = PERMISSION_TTL_S) -> str:
    """`forge.permission(user)`, remembered for `ttl_s` seconds per scope (repository) and user."""
    key, now = (scope, user.lower()), time.monotonic()
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and cached[1] > now:
        return cached[0]
    value = forge.permission(user)
    with _cache_lock:
        _cache[key] = (value, now + ttl_s)
    return value


def may_trigger(forge: FeedbackForge, scope: str, user: str) -> bool:
    return permission(forge, scope, user) in TRUSTED_PERMISSIONS
