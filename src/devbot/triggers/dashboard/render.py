"""HTML of the dashboard: Jinja2 templates with autoescape, safe Markdown, diffs, SVG charts.

Everything a run holds came from a model, a repository or a commenter, so it is text:
templates escape every value, Markdown (plans, reports) is rendered with raw HTML off,
images shown as links and only http(s), mailto and relative links kept. Charts are SVG
drawn here; no script or style comes from anywhere but this package.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from devbot.clipping import clip

MAX_DIFF_LINES = 4000
MAX_TEXT_CHARS = 6000
"""What one model turn, action output or test output shows (head and tail)."""

_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")
_SAFE_SCHEMES = ("http", "https", "mailto")
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")


def safe_link(url: str) -> bool:
    """Whether a Markdown link may point at `url`: http(s), mailto, or relative."""
    scheme = _SCHEME.match(_INVISIBLE.sub("", url).lower())
    return scheme is None or scheme.group(1) in _SAFE_SCHEMES


def web_link(url: object) -> bool:
    """Whether `url` may be the target of a link the dashboard shows (a PR's address)."""
    return isinstance(url, str) and url.lower().startswith(("https://", "http://"))


def markdown_renderer() -> MarkdownIt:
    """CommonMark without raw HTML and without images (shown as links, so a report cannot
    make the browser fetch anything), links checked by `safe_link`."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable("image")
    md.validateLink = safe_link  # type: ignore[method-assign]
    return md


def markdown_html(md: MarkdownIt, text: str) -> Markup:
    """`text` rendered by `md` (raw HTML off), every link marked as leading elsewhere."""
    tokens = md.parse(text)
    for token in tokens:
        for child in token.children or ():
            if child.type == "link_open":
                child.attrSet("rel", "nofollow noopener noreferrer")
    return Markup(md.renderer.render(tokens, md.options, {}))


def split_frontmatter(text: str) -> tuple[list[tuple[str, str]], str]:
    """A document's `key: value` frontmatter lines (as text, not parsed) and its body."""
    if not text.startswith("---\n"):
        return [], text
    end = text.find("\n---", 4)
    if end < 0:
        return [], text
    pairs = []
    for line in text[4:end].splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and not key.startswith((" ", "-")):
            pairs.append((key.strip(), value.strip()))
    return pairs, text[end + 4 :].lstrip("-").lstrip("\n")


@dataclass(frozen=True)
class DiffLine:
    kind: str
    """file, hunk, add, del, meta or context: the line's CSS class."""
    text: str


def diff_lines(diff: str, most: int = MAX_DIFF_LINES) -> tuple[list[DiffLine], int]:
    """A unified diff as classified lines (at most `most`), and how many were left out."""
    lines = diff.splitlines()
    shown = []
    for line in lines[:most]:
        if line.startswith("diff --git"):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith(("+++", "---", "index ", "new file", "deleted file", "similarity")):
            kind = "meta"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "context"
        shown.append(DiffLine(kind, line))
    return shown, max(0, len(lines) - most)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str


@dataclass(frozen=True)
class Chart:
    """A small bar chart drawn as SVG by `chart.svg`: one bar per label."""

    title: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    top: str
    """The value of the highest grid line, as shown."""
    first: str
    last: str


def bar_chart(
    title: str, points: Sequence[tuple[str, float]], shown: Any, width: int = 560
) -> Chart:
    """`points` (label, value) as bars scaled to the largest; `shown` formats a value."""
    height, left, bottom, top_pad = 160, 8, 22, 18
    plot_w, plot_h = width - 2 * left, height - bottom - top_pad
    peak = max((value for _, value in points), default=0.0) or 1.0
    step = plot_w / max(len(points), 1)
    bars = tuple(
        Bar(
            x=round(left + i * step + step * 0.1, 1),
            y=round(top_pad + plot_h - plot_h * value / peak, 1),
            width=round(step * 0.8, 1),
            height=round(plot_h * value / peak, 1),
            label=label,
            value=shown(value),
        )
        for i, (label, value) in enumerate(points)
    )
    first = points[0][0] if points else ""
    last = points[-1][0] if points else ""
    return Chart(title, width, height, bars, shown(peak), first, last)


def usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    value = max(value, 0.0)
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        return f"{int(value // 60)} min {int(value % 60)} s"
    return f"{int(value // 3600)} h {int(value % 3600 // 60)} min"


def when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return dt.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S")


def clipped(text: Any, most: int = MAX_TEXT_CHARS) -> str:
    return clip(str(text or ""), most)


class Pages:
    """The templates of `templates/`, every value escaped, Markdown rendered safely."""

    def __init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader("devbot.triggers.dashboard", "templates"),
            autoescape=select_autoescape(("html", "svg"), default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.markdown = markdown_renderer()
        self.env.filters.update(
            usd=usd, seconds=seconds, when=when, clipped=clipped, document=self.document
        )
        self.env.tests["web_link"] = web_link

    def document(self, text: str) -> Markup:
        """A plan or report: its frontmatter as a table (escaped), its body as Markdown."""
        pairs, body = split_frontmatter(text)
        row = Markup("<tr><th>{}</th><td>{}</td></tr>")
        rows = Markup("").join(row.format(key, value) for key, value in pairs)
        table = Markup('<table class="frontmatter">{}</table>').format(rows) if pairs else ""
        return Markup(table) + markdown_html(self.markdown, body)

    def page(self, name: str, **values: Any) -> str:
        return self.env.get_template(name).render(**values)

    def event(self, seq: int, event: dict[str, Any]) -> str:
        """One trajectory event as HTML: on the run page and in its live updates alike."""
        return self.env.get_template("event.html").render(seq=seq, event=event)
