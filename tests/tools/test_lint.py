"""The static check of changed Python code: only problems that stop it from running, only
those the change brought."""

from __future__ import annotations

from devbot.tools.lint import MAX_BYTES, new_problems, python_problems


def test_undefined_names_and_syntax_errors_are_found_with_their_lines() -> None:
    source = "import os\n\n\ndef timeout() -> int:\n    return get('timeout')\n"
    assert [str(p) for p in python_problems("config.py", source)] == [
        "config.py:5: undefined name 'get'\n"
        "  4 | def timeout() -> int:\n"
        "  5 |     return get('timeout')"
    ]
    (broken,) = python_problems("app.py", "def f(:\n    pass\n")
    assert broken.line == 1 and broken.message.startswith("syntax error")


def test_style_findings_are_not_problems() -> None:
    source = "import os\n\n\ndef f() -> None:\n    unused = 1\n    return None\n"
    assert python_problems("m.py", source) == []


def test_only_problems_the_change_brought_count() -> None:
    before = "def f():\n    return missing\n"
    after = "x = 1\n\n\ndef f():\n    return missing\n\n\ndef g():\n    return also_missing\n"
    assert [p.message for p in new_problems("m.py", before, after)] == [
        "undefined name 'also_missing'"
    ]
    assert [p.line for p in new_problems("new.py", None, "print(nope)\n")] == [1]


def test_what_cannot_be_checked_is_left_unchecked() -> None:
    deep = "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n"
    assert len(python_problems("deep.py", deep)) <= 1  # the parser's own limit, no crash
    assert python_problems("big.py", "print(nope)\n" * (MAX_BYTES // 10)) == []
    assert len(python_problems("nul.py", "x = 1\0\n")) <= 1  # refused by the parser, no crash
