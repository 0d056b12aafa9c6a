"""What the dashboard's HTML is made of: diffs, charts, documents, trajectory events."""

from __future__ import annotations

from devbot.triggers.dashboard.render import (
    Pages,
    bar_chart,
    diff_lines,
    seconds,
    split_frontmatter,
)

DIFF = """diff --git a/x.py b/x.py
index 1..2 100644
--- a/x.py
+++ b/x.py
@@ -1,2 +1,2 @@
 keep
-old
+new
"""


def test_diff_lines_are_classified_and_clipped() -> None:
    lines, left_out = diff_lines(DIFF)
    assert [line.kind for line in lines] == [
        "file",
        "meta",
        "meta",
        "meta",
        "hunk",
        "context",
        "del",
        "add",
    ]
    assert left_out == 0
    lines, left_out = diff_lines(DIFF, most=3)
    assert len(lines) == 3 and left_out == 5


def test_bar_chart_scales_to_the_highest_value() -> None:
    chart = bar_chart("USD", [("a", 1.0), ("b", 4.0), ("c", 0.0)], lambda v: f"{v:.1f}")
    heights = [bar.height for bar in chart.bars]
    assert heights[1] == max(heights) and heights[2] == 0 and heights[0] * 4 == heights[1]
    assert (chart.top, chart.first, chart.last) == ("4.0", "a", "c")
    assert bar_chart("empty", [], str).bars == ()


def test_frontmatter_is_split_from_the_body() -> None:
    pairs, body = split_frontmatter("---\ntitle: T\nstatus: completed\n---\n# Summary\n")
    assert pairs == [("title", "T"), ("status", "completed")]
    assert body == "# Summary\n"
    assert split_frontmatter("# no frontmatter") == ([], "# no frontmatter")


def test_an_event_keeps_its_seq_and_clips_long_output() -> None:
    html = Pages().event(
        7,
        {
            "step": 3,
            "kind": "action",
            "ok": False,
            "content": "x" * 50_000,
            "action": {"type": "RunCommand", "command": "make test"},
        },
    )
    assert 'id="ev-7"' in html and "make test" in html and "failed" in html
    assert "characters clipped" in html and len(html) < 10_000
    assert "step ?" in Pages().event(0, {})


def test_durations_read_naturally() -> None:
    assert [seconds(v) for v in (None, 3.25, 125, 7322)] == ["-", "3.2 s", "2 min 5 s", "2 h 2 min"]
