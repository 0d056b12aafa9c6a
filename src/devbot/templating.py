"""Load prompt and message templates shipped inside the package.

Templates use `string.Template` syntax (`$name`, `$$` for a literal dollar) so that code
samples full of braces need no escaping. A missing variable is an error, never a silent gap.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template


@cache
def _load(package: str, name: str) -> Template:
    text = resources.files(package).joinpath("templates", name).read_text(encoding="utf-8")
    return Template(text)


def render(package: str, name: str, /, **values: object) -> str:
    """Render `templates/<name>` of `package` (e.g. "devbot.agent") with `values`."""
    return _load(package, name).substitute({k: str(v) for k, v in values.items()})
