"""The apply_patch (V4A) reader: what each section becomes, and precise refusals."""

from __future__ import annotations

import pytest

from devbot.agent.actions import DeleteFile, Edit, EditFile, MoveFile, WriteFile
from devbot.agent.execute import execute
from devbot.agent.protocols import FormatError
from devbot.agent.protocols.patch_format import MAX_PATCH_CHARS, parse_patch
from devbot.sandbox.local import LocalSandbox
from devbot.tools import Workspace


def patch(*lines: str) -> str:
    return "\n".join(["*** Begin Patch", *lines, "*** End Patch"]) + "\n"


def test_add_update_delete_and_move() -> None:
    actions = parse_patch(
        patch(
            "*** Add File: docs/new.md",
            "+# New",
            "+",
            "*** Update File: src/a.py",
            "*** Move to: src/b.py",
            "@@ def f():",
            " def f():",
            "-    return 1",
            "+    return 2",
            "*** Delete File: old.txt",
        )
    )
    assert actions == [
        WriteFile("docs/new.md", "# New\n\n"),
        EditFile("src/a.py", (Edit("def f():\n    return 1\n", "def f():\n    return 2\n"),)),
        MoveFile("src/a.py", "src/b.py"),
        DeleteFile("old.txt"),
    ]


def test_each_hunk_is_one_edit_and_end_of_file_closes_a_hunk() -> None:
    actions = parse_patch(
        patch(
            "*** Update File: a.py",
            "@@",
            " x = 1",
            "-y = 2",
            "+y = 3",
            " z = 4",
            "@@ class C:",
            "-    pass",
            "+    value = 1",
            "*** End of File",
        )
    )
    assert actions == [
        EditFile(
            "a.py",
            (
                Edit("x = 1\ny = 2\nz = 4\n", "x = 1\ny = 3\nz = 4\n"),
                Edit("    pass\n", "    value = 1\n"),
            ),
        )
    ]


def test_a_move_without_hunks_is_only_a_move() -> None:
    assert parse_patch(patch("*** Update File: a", "*** Move to: b")) == [MoveFile("a", "b")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("*** Update File: a\n-x\n*** End Patch", 'start with the line "*** Begin Patch"'),
        ("*** Begin Patch\n*** Delete File: a\n", 'end with the line "*** End Patch"'),
        (patch(), "changes no file"),
        (patch("*** Add File: a", "no plus"), 'patch line 3: "no plus" is not understood'),
        (patch("*** Update File: a", "@@", "+only added"), 'only "+" lines'),
        (patch("*** Update File: a"), "has no change"),
        (patch("*** Add File:  ", "+x"), "needs a path"),
        (patch("*** Rename File: a"), '"*** Rename File: a" is not understood'),
        (patch("*** Update File: a", "@@", " x", "*** End of File", "-y"), 'a "@@" line'),
        (patch("*** Update File: a", "@@", "?x"), 'a " " context, "-" removed or "+" added'),
    ],
)
def test_malformed_patches_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(FormatError) as caught:
        parse_patch(text)
    assert message in caught.value.message


def test_an_oversized_patch_is_refused_before_reading() -> None:
    with pytest.raises(FormatError, match="split it"):
        parse_patch("*** Begin Patch\n" + "+" * MAX_PATCH_CHARS + "\n*** End Patch")


def test_context_that_does_not_match_fails_when_run(workspace: Workspace) -> None:
    (workspace.root / "a.py").write_text("x = 1\n")
    (edit,) = parse_patch(patch("*** Update File: a.py", "@@", "-x = 2", "+x = 3"))
    observation = execute(edit, workspace, LocalSandbox(), 5.0)
    assert not observation.ok
    assert (workspace.root / "a.py").read_text() == "x = 1\n"


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", ".git/config"])
def test_paths_outside_the_workspace_are_refused_by_it(workspace: Workspace, path: str) -> None:
    (action,) = parse_patch(patch(f"*** Add File: {path}", "+x"))
    observation = execute(action, workspace, LocalSandbox(), 5.0)
    assert not observation.ok
    assert not (workspace.root.parent / "outside.txt").exists()


def test_a_move_never_overwrites(workspace: Workspace) -> None:
    (workspace.root / "a").write_text("a\n")
    (workspace.root / "b").write_text("b\n")
    observation = execute(MoveFile("a", "b"), workspace, LocalSandbox(), 5.0)
    assert not observation.ok and "already exists" in observation.output
    assert execute(MoveFile("a", "sub/c"), workspace, LocalSandbox(), 5.0).ok
    assert (workspace.root / "sub" / "c").read_text() == "a\n"
