"""devbot's settings as the base branch has them: `git show <remote>/<base>:devbot.toml`.

Runs that a pull request triggers must not obey a `devbot.toml` the pull request itself
changed, so they read it from the branch the PR targets, never from the PR's branch.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devbot.config import CONFIG_FILE, Settings, load_settings
from devbot.vcs.git import Git


def settings_from_branch(
    git: Git,
    branch: str | None,
    flags: Mapping[str, Any] | None,
    *,
    remote: str = "origin",
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Flags > environment > `devbot.toml` of `branch` (default: the remote's) > defaults.

    Only a regular file counts: a `devbot.toml` that is a symbolic link is ignored."""
    branch = branch or git.default_branch(remote)
    ref = branch
    if remote in git.run("remote").split():
        git.fetch(remote, branch)
        ref = f"{remote}/{branch}"
    text = git.read_blob(ref, CONFIG_FILE) or ""
    with tempfile.TemporaryDirectory() as folder:
        toml = Path(folder) / CONFIG_FILE
        toml.write_text(text, encoding="utf-8")
        return load_settings(None, flags, environ=environ, toml_text_path=toml)
