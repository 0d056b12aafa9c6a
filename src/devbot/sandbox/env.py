"""The environment a sandboxed command sees: an allowlist, never a secret.

Extra names from the settings are honoured unless they look like a credential or belong to
devbot itself, so no token, key, password or `DEVBOT_*` value can reach a command even when
someone lists it by mistake.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from devbot.sandbox.base import EnvironmentMount

ALLOWED_ENV = ("PATH", "LANG", "LC_ALL", "TZ")
SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NO_CACHE_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTEST_ADDOPTS": "-p no:cacheprovider"}
"""Keep test runs from leaving caches in the worktree, which devbot commits."""
_SECRET = re.compile(r"TOKEN|KEY|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION|^DEVBOT_", re.I)


def is_secret_name(name: str) -> bool:
    """True for names that may carry credentials or devbot's own settings."""
    return bool(_SECRET.search(name))


def allowed_names(extra_names: Sequence[str]) -> tuple[str, ...]:
    """The allowlist plus the extra names that are not secret-looking."""
    extra = tuple(name for name in extra_names if not is_secret_name(name))
    return (*ALLOWED_ENV, *extra)


def sandbox_environment(
    extra_names: Sequence[str],
    home: str,
    *,
    path: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment of a command: allowlisted host values, TERM=dumb, HOME=`home`.

    `path` replaces the host's PATH (isolated backends see their own system, not the host's
    home-relative tools).
    """
    source = os.environ if environ is None else environ
    env = {name: source[name] for name in allowed_names(extra_names) if name in source}
    if path is not None:
        env["PATH"] = path
    env.setdefault("PATH", os.defpath)
    env["TERM"] = "dumb"
    env["HOME"] = home
    env.update(NO_CACHE_ENV)
    return env


def with_mount(env: dict[str, str], mount: EnvironmentMount | None) -> dict[str, str]:
    """`env` with a prepared environment's folders first on PATH and its variables set."""
    if mount is None:
        return env
    path = ":".join((*mount.path, env["PATH"])) if mount.path else env["PATH"]
    return {**env, **dict(mount.variables), "PATH": path}
