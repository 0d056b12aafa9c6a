"""The linear tolerant matching finds exactly what checking every window would find.

apply_edits finds shifted blocks through an encoding of bodies, blank lines and indentation
changes; the brute force below is the rule as first written (every window of the file,
checked with _shift), run on generated files and blocks cut from them.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from devbot.tools.edit import (
    _blank_ends,
    _block_lines,
    _reindent,
    _shift,
    _split,
    _trim_blank,
    apply_edits,
)

_indent = st.sampled_from(["", " ", "  ", "    ", "\t", "\t ", " \t"])
_body = st.sampled_from(["a", "b", "x = 1", "}", "a ", "b\t"])
_line = st.one_of(st.tuples(_indent, _body).map("".join), st.sampled_from(["", " ", "\t"]))


@st.composite
def _edits(draw: st.DrawFn) -> tuple[str, str, str]:
    """A file, a search block (often a slice of the file shifted and padded) and a replacement."""
    lines = draw(st.lists(_line, min_size=1, max_size=14))
    text = "\n".join(lines) + ("\n" if draw(st.booleans()) else "")
    start = draw(st.integers(0, len(lines) - 1))
    block = lines[start : draw(st.integers(start + 1, len(lines)))]
    shift = draw(_indent)
    if draw(st.booleans()):
        block = [shift + line if line.strip() else line for line in block]
    else:
        block = [line.removeprefix(shift) for line in block]
    block = [""] * draw(st.integers(0, 2)) + block + [""] * draw(st.integers(0, 2))
    search = "\n".join(block) + ("\n" if draw(st.booleans()) else "")
    replace = "\n".join(draw(st.lists(_line, max_size=3))) + "\n"
    return text, search, replace


def _brute_force(text: str, search: str, replace: str) -> tuple[str, list[int]]:
    """(the new text, []) when one window fits, else ('ambiguous', every start) or
    ('not found', [])."""
    lines, trailing = _split(text)
    block = _block_lines(search)
    lead, trail = _blank_ends(block)
    for cut_lead, cut_trail in dict.fromkeys([(0, 0), (lead, 0), (0, trail), (lead, trail)]):
        sub = block[cut_lead : len(block) - cut_trail]
        matches = [
            i
            for i in range(len(lines) - len(sub) + 1)
            if _shift(lines[i : i + len(sub)], sub) is not None
        ]
        if len(matches) > 1:
            return "ambiguous", matches
        if matches:
            i = matches[0]
            shift = _shift(lines[i : i + len(sub)], sub)
            assert shift is not None
            new = _trim_blank(_block_lines(replace), cut_lead, cut_trail)
            lines[i : i + len(sub)] = [_reindent(line, shift) for line in new]
            return "\n".join(lines) + ("\n" if trailing else ""), []
    return "not found", []


@settings(max_examples=600, deadline=None)
@given(case=_edits())
def test_tolerant_matching_agrees_with_checking_every_window(case: tuple[str, str, str]) -> None:
    text, search, replace = case
    if search.strip() == "" or search in text:
        return
    outcome = apply_edits(text, [(search, replace)])
    expected, starts = _brute_force(text, search, replace)
    if expected == "ambiguous":
        [failure] = outcome.failures
        assert failure.reason == f"found {len(starts)} times"
        shown = [int(line.split(" | ")[0]) - 1 for line in failure.nearest.splitlines()]
        assert shown == starts[:5]
    elif expected == "not found":
        # unless the replacement is there once: then the block counts as applied before
        there = replace.strip() != "" and (
            text.count(replace) == 1
            if replace in text
            else _brute_force(text, replace, replace)[0] not in ("ambiguous", "not found")
        )
        if there:
            assert outcome.already == [0] and outcome.new_text == text
        else:
            assert outcome.failures[0].reason == "not found" and outcome.already == []
    else:
        assert outcome.applied == [0]
        assert outcome.new_text == expected
