"""Environments that run a repository's tests: detected, prepared once, cached, mounted.

When no `setup_command` is set, devbot reads the repository's manifests (`recipes`) and
prepares what its tests need — a venv, node_modules, Go modules, Rust crates, or whatever
the repository's own `.devbot/setup.sh` installs — in the sandbox, with network for that
setup only (`sandbox_network = "setup"`, the default).

Where it lives: outside the worktree, at the fixed path /devbot-env of the sandbox (bound
from a cache folder under `.devbot/envs/`), its bin folders first on PATH and node_modules
at /node_modules, where Node looks from /workspace upwards. So nothing setup installs is
ever in the worktree devbot commits (no venv, no node_modules to git-ignore), a venv's
absolute paths stay valid in every run, and one read-only copy serves any number of runs.
The same folder is mounted by both backends — for docker too, rather than a committed
image layer: one cache, one key, one lock and one prune for both, the image's root stays
read-only, and no image piles up in the engine per manifest change.

Caching (`cache`, `prepare`): keyed by the recipe, its inputs' bytes and the sandbox's
system; a second run with the same key mounts the entry without running setup; a changed
manifest makes a new key, and old entries are pruned.
"""

from devbot.sandbox.environment.cache import ENVIRONMENTS_DIR, Entry, EnvironmentCache
from devbot.sandbox.environment.prepare import PreparedEnvironment, prepare_environment
from devbot.sandbox.environment.recipes import Recipe, detect_recipe

__all__ = [
    "ENVIRONMENTS_DIR",
    "Entry",
    "EnvironmentCache",
    "PreparedEnvironment",
    "Recipe",
    "detect_recipe",
    "prepare_environment",
]
