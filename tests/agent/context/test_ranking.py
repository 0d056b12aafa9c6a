"""What the task points at, and the order of the repository map."""

from __future__ import annotations

from devbot.agent.context.ranking import code_names, focus_of, rank
from devbot.agent.context.symbols import Definition, FileSymbols


def _symbols(defines: dict[str, list[str]], uses: dict[str, list[str]]) -> dict[str, FileSymbols]:
    paths = set(defines) | set(uses)
    return {
        path: FileSymbols(
            path,
            tuple(Definition(n, "function", 1, 0, f"def {n}():") for n in defines.get(path, [])),
            tuple(sorted(uses.get(path, []))),
        )
        for path in sorted(paths)
    }


FILES = [
    "README.md",
    "src/app/cli.py",
    "src/app/config.py",
    "src/app/store.py",
    "src/app/users.py",
    "tests/test_config.py",
    "tools/config.py",
]


def test_files_are_named_by_path_or_by_its_end_in_the_order_written() -> None:
    text = "Change src/app/store.py, then app/cli.py and ./README.md; see users.py."
    focus = focus_of(text, FILES, {})
    assert focus.named == ("src/app/store.py", "src/app/cli.py", "README.md", "src/app/users.py")


def test_a_name_that_fits_several_files_names_each_until_too_many() -> None:
    named = focus_of("fix config.py", FILES, {}).named
    assert named == ("tools/config.py", "src/app/config.py")  # the shallower first
    many = [f"pkg{i}/__init__.py" for i in range(5)]
    assert focus_of("add __init__.py", many, {}).named == ()


def test_code_names_are_the_words_written_as_code() -> None:
    text = "Rename `load` to fetch_all, call Parser() and makeThing, set TAX_RATE and MAX; user"
    assert code_names(text) == {"load", "fetch_all", "Parser", "makeThing", "TAX_RATE", "MAX"}


def test_files_defining_and_using_a_code_name_are_in_play() -> None:
    symbols = _symbols(
        {"src/app/users.py": ["get_usr", "user"]},
        {"src/app/cli.py": ["get_usr"], "src/app/store.py": ["user"]},
    )
    focus = focus_of("Rename get_usr to get_user, the user helper too", FILES, symbols)
    assert focus.defining == ("src/app/users.py",)
    assert focus.using == ("src/app/cli.py",)  # a plain word ("user") points at nothing
    assert focus.in_play() == ("src/app/users.py", "src/app/cli.py")


def test_rank_puts_what_the_task_points_at_first_then_what_it_uses() -> None:
    files = ["a.py", "b.py", "c.py", "d.py", "e.py"]
    symbols = _symbols(
        {"c.py": ["helper"], "e.py": ["other"]},
        {"a.py": ["helper"], "d.py": ["other"]},
    )
    focus = focus_of("Improve a.py", files, symbols)
    ranked = rank(files, symbols, focus)
    assert ranked[0] == "a.py"
    assert ranked[1] == "c.py"  # what the named file uses comes before unrelated files
    assert sorted(ranked) == files


def test_rank_without_any_pointer_keeps_every_file() -> None:
    files = ["x.py", "y.py"]
    assert sorted(rank(files, {}, focus_of("do something", files, {}))) == files
