"""apply_edits: exact and unique first, then only the announced tolerances."""

from __future__ import annotations

from devbot.tools.edit import EMPTY_SEARCH, NOT_FOUND, apply_edits

SOURCE = """\
def greet(name):
    if name:
        return "hello " + name
    return "hello"


def part():
    return 1
"""


def test_exact_unique_match_is_replaced() -> None:
    outcome = apply_edits(SOURCE, [('return "hello"\n', 'return "hi"\n')])
    assert outcome.applied == [0]
    assert outcome.failures == []
    assert outcome.new_text == SOURCE.replace('return "hello"\n', 'return "hi"\n')


def test_match_found_twice_is_refused_with_both_places() -> None:
    text = "x = 1\ny = 2\nx = 1\n"
    outcome = apply_edits(text, [("x = 1", "x = 3")])
    assert outcome.new_text == text
    assert outcome.applied == []
    [failure] = outcome.failures
    assert failure.index == 0
    assert failure.reason == "found 2 times"
    assert failure.nearest.splitlines() == ["1 | x = 1", "3 | x = 1"]


def test_overlapping_matches_count_as_several() -> None:
    outcome = apply_edits("aaa\n", [("aa", "b")])
    assert outcome.failures[0].reason == "found 2 times"


def test_search_less_indented_than_file_is_shifted() -> None:
    search = 'if name:\n    return "hello " + name\n'
    replace = 'if name:\n    name = name.strip()\n    return "hello " + name\n'
    outcome = apply_edits(SOURCE, [(search, replace)])
    assert outcome.applied == [0]
    assert '    if name:\n        name = name.strip()\n        return "hello " + name\n' in (
        outcome.new_text
    )


def test_search_more_indented_than_file_is_shifted_back() -> None:
    search = "        def part():\n            return 1\n"
    replace = "        def part():\n            return 2\n"
    outcome = apply_edits(SOURCE, [(search, replace)])
    assert outcome.applied == [0]
    assert outcome.new_text.endswith("\ndef part():\n    return 2\n")


def test_uneven_indentation_shift_is_not_accepted() -> None:
    search = '  if name:\n            return "hello " + name\n'
    outcome = apply_edits(SOURCE, [(search, "x")])
    assert outcome.failures[0].reason == NOT_FOUND
    assert outcome.new_text == SOURCE


def test_stray_leading_and_trailing_blank_lines_are_ignored() -> None:
    text = "a = 1\nb = 2\nc = 3\n"
    outcome = apply_edits(text, [("\nb = 2\n\n", "\nb = 20\n\n")])
    assert outcome.applied == [0]
    assert outcome.new_text == "a = 1\nb = 20\nc = 3\n"


def test_blank_lines_that_match_are_kept() -> None:
    text = "a = 1\n\nb = 2\n"
    outcome = apply_edits(text, [("\nb = 2\n", "\nb = 3\n")])
    assert outcome.new_text == "a = 1\n\nb = 3\n"


def test_crlf_file_matched_with_lf_block_stays_crlf() -> None:
    text = "one\r\ntwo\r\nthree\r\n"
    outcome = apply_edits(text, [("two\nthree\n", "2\n3\n4\n")])
    assert outcome.applied == [0]
    assert outcome.new_text == "one\r\n2\r\n3\r\n4\r\n"


def test_crlf_block_on_lf_file_writes_lf() -> None:
    outcome = apply_edits("one\ntwo\n", [("one\r\n", "uno\r\n")])
    assert outcome.new_text == "uno\ntwo\n"


def test_tabs_are_preserved_and_shift_in_tabs() -> None:
    text = "func main() {\n\tif ok {\n\t\trun()\n\t}\n}\n"
    outcome = apply_edits(text, [("if ok {\n\trun()\n}\n", "if ok {\n\trun()\n\tstop()\n}\n")])
    assert outcome.applied == [0]
    assert outcome.new_text == "func main() {\n\tif ok {\n\t\trun()\n\t\tstop()\n\t}\n}\n"


def test_missing_final_newline_is_kept() -> None:
    outcome = apply_edits("a\nb", [("    b\n", "    c\n")])
    assert outcome.new_text == "a\nc"


def test_blocks_apply_in_order_and_failures_are_skipped() -> None:
    text = "alpha\nbeta\ngamma\n"
    edits = [("alpha", "ALPHA"), ("delta", "DELTA"), ("ALPHA\nbeta", "AB")]
    outcome = apply_edits(text, edits)
    assert outcome.applied == [0, 2]
    assert [failure.index for failure in outcome.failures] == [1]
    assert outcome.new_text == "AB\ngamma\n"


def test_not_found_shows_the_nearest_lines_with_numbers() -> None:
    search = '    if nam:\n        return "helo " + name\n'
    outcome = apply_edits(SOURCE, [(search, "")])
    [failure] = outcome.failures
    assert failure.reason == NOT_FOUND
    assert failure.nearest.splitlines() == [
        "2 |     if name:",
        '3 |         return "hello " + name',
    ]


def test_empty_search_is_a_failure_even_on_an_empty_file() -> None:
    outcome = apply_edits("", [("", "everything\n")])
    assert outcome.new_text == ""
    assert outcome.failures[0].reason == EMPTY_SEARCH


def test_not_found_in_empty_text_has_no_nearest_lines() -> None:
    outcome = apply_edits("", [("x", "y")])
    assert outcome.failures[0].reason == NOT_FOUND
    assert outcome.failures[0].nearest == ""


def test_replacement_with_dollar_and_backslash_is_literal() -> None:
    outcome = apply_edits("price = 1\n", [("price = 1", r"price = '$1\n\g<0>'")])
    assert outcome.new_text == "price = '$1\\n\\g<0>'\n"


def test_nearest_lines_in_a_large_file_find_the_mistyped_region() -> None:
    lines = [f"    value_{i} = compute({i}, 'x' * {i % 7})" for i in range(5000)]
    text = "\n".join(lines) + "\n"
    search = "\n".join(line.replace("compute", "compite") for line in lines[3000:3004]) + "\n"
    [failure] = apply_edits(text, [(search, "")]).failures
    assert failure.nearest.splitlines()[0] == "3001 |     value_3000 = compute(3000, 'x' * 4)"
    assert len(failure.nearest.splitlines()) == 4


def test_a_block_resent_after_it_applied_counts_as_applied_already() -> None:
    """Seen with Qwen2.5-Coder-1.5B: an edit made in one turn sent again in the next ones,
    failing each time until the step limit."""
    block = ("    return 'user: ' + users.get_usr()\n", "    return 'user: ' + users.get_user()\n")
    text = "import users\n\n\ndef line() -> str:\n    return 'user: ' + users.get_usr()\n"
    first = apply_edits(text, [block])
    again = apply_edits(first.new_text, [block])
    assert again.new_text == first.new_text
    assert again.applied == [0] and again.already == [0] and again.failures == []
    shifted = apply_edits(first.new_text, [(block[0].strip(), block[1].strip())])
    assert shifted.already == [0] and shifted.new_text == first.new_text


def test_a_missing_block_whose_replacement_is_not_there_once_still_fails() -> None:
    text = "x = 2\ny = 2\n"
    nowhere = apply_edits(text, [("x = 1\n", "x = 3\n")])
    twice = apply_edits(text, [("z = 1\n", "= 2\n")])
    assert nowhere.failures[0].reason == NOT_FOUND and nowhere.already == []
    assert twice.failures[0].reason == NOT_FOUND and twice.already == []
    found = apply_edits(text, [("x = 2\n", "x = 2\n")])
    assert found.applied == [0] and found.already == []  # found: applied as usual
