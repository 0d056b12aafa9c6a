"""Who may ask devbot for work: GitHub's permission of a user, remembered briefly, so a
burst of comments costs one permission request per user."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

TRUSTED_PERMISSIONS = frozenset({"admin", "maintain", "write"})
PERMISSION_TTL_S = 60.0


class PermissionCache:
    """`permission(user)` answers per (scope, user), each kept for `ttl_s` seconds."""

    def __init__(
        self, ttl_s: float = PERMISSION_TTL_S, clock: Callable[[], float] = time.monotonic
    ):
        self.ttl_s, self._clock = ttl_s, clock
        self._cache: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def permission(self, scope: str, user: str, ask: Callable[[str], str]) -> str:
        """The permission of `user` in `scope` (a repository), asking `ask(user)` when not
        remembered."""
        key, now = (scope, user.lower()), self._clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        value = ask(user)
        with self._lock:
            self._cache[key] = (value, now + self.ttl_s)
        return value

    def may_trigger(self, scope: str, user: str, ask: Callable[[str], str]) -> bool:
        """Whether `user` has write, maintain or admin permission."""
        return self.permission(scope, user, ask) in TRUSTED_PERMISSIONS
