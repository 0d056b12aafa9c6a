"""The cross-module check: names a change took out of a module that other files still use."""

from __future__ import annotations

from devbot.tools.imports import lost_names, module_name, stale_uses, top_level_names

USERS = (
    "import os\n\nLIMIT = 3\n\n\ndef get_usr() -> str:\n    return 'ada'\n\n\n"
    "class Account:\n    pass\n"
)
RENAMED = USERS.replace("get_usr", "get_user")


def test_module_names_follow_the_path() -> None:
    assert module_name("users.py") == "users"
    assert module_name("pkg/sub/mod.py") == "pkg.sub.mod"
    assert module_name("pkg/__init__.py") == "pkg"
    assert module_name("README.md") is None
    assert module_name("my-scripts/run.py") is None


def test_top_level_names_include_definitions_assignments_imports_and_guarded_ones() -> None:
    source = USERS + "try:\n    import json\nexcept ImportError:\n    json = None\n"
    source += "if LIMIT:\n    def extra() -> None: ...\n"
    names = top_level_names(source)
    assert names == {"os", "LIMIT", "get_usr", "Account", "json", "extra"}


def test_a_module_whose_names_need_running_is_left_alone() -> None:
    assert top_level_names("from os.path import *\n") is None
    assert top_level_names("def __getattr__(name): ...\n") is None
    assert top_level_names("def broken(:\n") is None
    assert lost_names("users.py", USERS, "from os.path import *\n") is None


def test_only_what_the_change_removed_counts() -> None:
    lost = lost_names("users.py", USERS, RENAMED)
    assert lost is not None
    assert lost.names == {"get_usr"} and lost.added == {"get_user"}
    assert lost_names("users.py", USERS, USERS + "X = 1\n") is None
    assert lost_names("users.py", None, USERS) is None  # a new module lost nothing


def test_stale_imports_and_attribute_uses_are_found_with_their_lines() -> None:
    lost = lost_names("users.py", USERS, RENAMED)
    assert lost is not None
    app = "from users import LIMIT, get_usr\n\n\ndef main() -> str:\n    return get_usr()\n"
    report = "import users as u\n\n\ndef line() -> str:\n    return 'user: ' + u.get_usr()\n"
    (imported,) = stale_uses("app.py", app, [lost])
    assert imported.line == 1
    assert str(imported).startswith(
        "app.py:1: imports get_usr from users, which users.py no longer defines;"
        " it defines get_user now"
    )
    (used,) = stale_uses("report.py", report, [lost])
    assert (used.line, used.message.split(",")[0]) == (5, "uses get_usr from users")
    fixed = report.replace("get_usr", "get_user")
    assert stale_uses("report.py", fixed, [lost]) == []


def test_relative_imports_and_other_modules_are_not_blamed() -> None:
    lost = lost_names("users.py", USERS, RENAMED)
    assert lost is not None
    other = "from accounts import get_usr\nfrom .users import get_usr as g\n"
    assert stale_uses("x.py", other, [lost]) == []
    assert stale_uses("x.py", "def broken(:\n", [lost]) == []


def test_a_hostile_file_too_deep_to_parse_is_left_unchecked_not_crashed_on() -> None:
    lost = lost_names("users.py", USERS, RENAMED)
    assert lost is not None
    deep = "import users\nx = " + "users." * 40_000 + "get_usr\n"
    assert stale_uses("a.py", deep, [lost]) == []
    assert top_level_names(deep) is None
