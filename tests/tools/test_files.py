"""Workspace file tools on real files and a real git repository."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from devbot.tools import Workspace
from devbot.tools.deadline import Deadline
from devbot.tools.files import ToolResult
from devbot.vcs.git import Git


def _git(root: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    for role in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{role}_NAME"], env[f"GIT_{role}_EMAIL"] = "t", "t@x"
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def test_workspace_fixture_is_an_empty_directory(workspace: Workspace) -> None:
    assert workspace.root.is_dir()
    assert list(workspace.root.iterdir()) == []


# read_file


def test_read_returns_raw_text(workspace: Workspace) -> None:
    (workspace.root / "a.py").write_text("def f():\n\treturn 1\n")
    result = workspace.read_file("a.py")
    assert result.ok
    assert result.output == "def f():\n\treturn 1\n"


def test_read_a_line_range(workspace: Workspace) -> None:
    (workspace.root / "n.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    result = workspace.read_file("n.txt", start_line=3, end_line=4)
    assert result.ok
    assert result.output == "[n.txt: lines 3-4 of 10]\nline 3\nline 4\n"
    assert workspace.read_file("n.txt", start_line=9).output.endswith("line 9\nline 10\n")
    bad = workspace.read_file("n.txt", start_line=11)
    assert not bad.ok
    assert "10 lines" in bad.output


def test_read_crlf_file_shows_lf(workspace: Workspace) -> None:
    (workspace.root / "w.txt").write_bytes(b"a\r\nb\r\n")
    assert workspace.read_file("w.txt").output == "a\nb\n"


def test_read_long_file_is_clipped_with_a_hint(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "big.txt").write_text("".join(f"row {i}\n" for i in range(5000)))
    result = Workspace(root, max_output_chars=1000).read_file("big.txt")
    assert result.ok
    assert result.output.startswith("row 0\n")
    assert "characters clipped" in result.output
    assert "row 4999\n" in result.output
    assert "5000 lines" in result.output
    assert "start_line" in result.output


def test_read_missing_file_suggests_list_files(workspace: Workspace) -> None:
    result = workspace.read_file("nope.py")
    assert not result.ok
    assert "does not exist" in result.output
    assert "list_files" in result.output


def test_read_binary_file_is_refused(workspace: Workspace) -> None:
    (workspace.root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    result = workspace.read_file("logo.png")
    assert not result.ok
    assert "binary" in result.output


def test_read_outside_is_refused_naming_the_rule(workspace: Workspace) -> None:
    result = workspace.read_file("../secret")
    assert not result.ok
    assert "'..'" in result.output
    assert not workspace.read_file("/etc/passwd").ok


def test_read_through_symlink_to_outside_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("token\n")
    (workspace.root / "s.txt").symlink_to(tmp_path / "secret.txt")
    result = workspace.read_file("s.txt")
    assert not result.ok
    assert "token" not in result.output


# write_file


def test_write_creates_parents_and_reports(workspace: Workspace) -> None:
    result = workspace.write_file("pkg/sub/new.py", "a = 1\nb = 2\n")
    assert result.ok
    assert result.output == "Created pkg/sub/new.py (2 lines)."
    assert (workspace.root / "pkg/sub/new.py").read_text() == "a = 1\nb = 2\n"
    again = workspace.write_file("pkg/sub/new.py", "c = 3")
    assert again.output == "Overwrote pkg/sub/new.py (1 line)."
    assert (workspace.root / "pkg/sub/new.py").read_text() == "c = 3"


def test_write_keeps_permissions_and_replaces_atomically(workspace: Workspace) -> None:
    script = workspace.root / "run.sh"
    script.write_text("#!/bin/sh\necho old\n")
    script.chmod(0o751)
    before = script.stat().st_ino
    assert workspace.write_file("run.sh", "#!/bin/sh\necho new\n").ok
    assert stat.S_IMODE(script.stat().st_mode) == 0o751
    assert script.stat().st_ino != before
    assert script.read_text() == "#!/bin/sh\necho new\n"
    assert sorted(p.name for p in workspace.root.iterdir()) == ["run.sh"]


def test_new_file_mode_follows_the_umask(workspace: Workspace) -> None:
    old = os.umask(0o027)
    try:
        assert workspace.write_file("f.txt", "x\n").ok
    finally:
        os.umask(old)
    assert stat.S_IMODE((workspace.root / "f.txt").stat().st_mode) == 0o640


def test_write_keeps_crlf_bom_and_latin1(workspace: Workspace) -> None:
    (workspace.root / "dos.txt").write_bytes(b"old\r\nfile\r\n")
    workspace.write_file("dos.txt", "new\nfile\n")
    assert (workspace.root / "dos.txt").read_bytes() == b"new\r\nfile\r\n"

    (workspace.root / "bom.txt").write_bytes(b"\xef\xbb\xbfold\n")
    workspace.write_file("bom.txt", "neu\n")
    assert (workspace.root / "bom.txt").read_bytes() == b"\xef\xbb\xbfneu\n"

    (workspace.root / "l1.txt").write_bytes("caf\u00e9\n".encode("latin-1"))
    assert workspace.read_file("l1.txt").output == "caf\u00e9\n"
    assert workspace.write_file("l1.txt", "na\u00efve\n").ok
    assert (workspace.root / "l1.txt").read_bytes() == "na\u00efve\n".encode("latin-1")
    refused = workspace.write_file("l1.txt", "snow \u2603\n")
    assert not refused.ok
    assert "latin-1" in refused.output
    assert (workspace.root / "l1.txt").read_bytes() == "na\u00efve\n".encode("latin-1")


def test_write_through_inside_symlink_updates_the_target(workspace: Workspace) -> None:
    (workspace.root / "real.txt").write_text("old\n")
    (workspace.root / "alias.txt").symlink_to("real.txt")
    assert workspace.write_file("alias.txt", "new\n").ok
    assert (workspace.root / "alias.txt").is_symlink()
    assert (workspace.root / "real.txt").read_text() == "new\n"


def test_write_refuses_directories_and_git(workspace: Workspace) -> None:
    (workspace.root / "d").mkdir()
    assert "directory" in workspace.write_file("d", "x").output
    result = workspace.write_file(".git/hooks/pre-commit", "evil")
    assert not result.ok
    assert ".git" in result.output
    assert not (workspace.root / ".git").exists()


def test_write_under_a_file_is_an_error_not_an_exception(workspace: Workspace) -> None:
    (workspace.root / "f").write_text("x")
    result = workspace.write_file("f/g.txt", "y")
    assert not result.ok
    assert "failed" in result.output


def test_write_of_the_same_content_says_nothing_changed(workspace: Workspace) -> None:
    (workspace.root / "m.py").write_text("a = 1\n")
    mtime = (workspace.root / "m.py").stat().st_mtime_ns
    result = workspace.write_file("m.py", "a = 1\n")
    assert result.ok and "unchanged" in result.output and "finish" in result.output
    assert (workspace.root / "m.py").stat().st_mtime_ns == mtime


def test_write_of_nothing_over_a_file_with_text_is_refused(workspace: Workspace) -> None:
    (workspace.root / "config.py").write_text("DEFAULTS = {}\n")
    result = workspace.write_file("config.py", "\n")
    assert not result.ok and "erase" in result.output and "delete" in result.output
    assert (workspace.root / "config.py").read_text() == "DEFAULTS = {}\n"
    assert workspace.write_file("greetings/__init__.py", "").ok
    assert workspace.write_file("greetings/__init__.py", "").ok  # empty stays empty


# edit_file


def test_edit_applies_all_blocks(workspace: Workspace) -> None:
    (workspace.root / "m.py").write_text("a = 1\nb = 2\n")
    result = workspace.edit_file("m.py", [("a = 1", "a = 10"), ("b = 2", "b = 20")])
    assert result.ok
    assert "all 2 block(s) applied" in result.output
    assert (workspace.root / "m.py").read_text() == "a = 10\nb = 20\n"


def test_edit_resent_after_it_applied_is_ok_and_says_so(workspace: Workspace) -> None:
    (workspace.root / "m.py").write_text("a = 1\nb = 2\n")
    workspace.edit_file("m.py", [("a = 1", "a = 3")])
    result = workspace.edit_file("m.py", [("a = 1", "a = 3"), ("b = 2", "b = 4")])
    assert result.ok
    assert "block(s) 1 were in the file already" in result.output
    assert (workspace.root / "m.py").read_text() == "a = 3\nb = 4\n"


def test_edit_of_a_missing_file_with_the_same_text_on_both_sides_creates_it(
    workspace: Workspace,
) -> None:
    """Seen with Qwen2.5-Coder-1.5B: a new test file sent as an EDIT whose OLD and NEW are
    both the intended content."""
    content = "def test_one():\n    assert True\n"
    result = workspace.edit_file("tests/test_new.py", [(content, content)])
    assert result.ok and "was created with that text" in result.output
    assert (workspace.root / "tests" / "test_new.py").read_text() == content
    refused = workspace.edit_file("other.py", [("a = 1\n", "a = 2\n")])
    assert not refused.ok and "does not exist" in refused.output
    assert not (workspace.root / "other.py").exists()


def test_edit_partial_saves_what_applied_and_says_not_to_resend(workspace: Workspace) -> None:
    (workspace.root / "m.py").write_text("a = 1\nb = 2\nc = 3\n")
    result = workspace.edit_file("m.py", [("a = 1", "a = 10"), ("b = 3", "b = 30"), ("c", "C")])
    assert not result.ok
    assert (workspace.root / "m.py").read_text() == "a = 10\nb = 2\nC = 3\n"
    assert "Blocks 1, 3 applied" in result.output
    assert "do not resend" in result.output
    assert "Block 2: the search text was not found" in result.output
    assert "2 | b = 2" in result.output


def test_edit_nothing_applied_leaves_file_untouched(workspace: Workspace) -> None:
    path = workspace.root / "m.py"
    path.write_text("x = 1\nx = 1\n")
    mtime = path.stat().st_mtime_ns
    result = workspace.edit_file("m.py", [("x = 1", "x = 2"), ("", "y")])
    assert not result.ok
    assert "unchanged" in result.output
    assert "found 2 times" in result.output
    assert "search text is empty" in result.output
    assert path.stat().st_mtime_ns == mtime


def test_edit_keeps_crlf_bom_and_mode(workspace: Workspace) -> None:
    path = workspace.root / "w.bat"
    path.write_bytes(b"\xef\xbb\xbf@echo off\r\n\techo one\r\n")
    path.chmod(0o755)
    result = workspace.edit_file("w.bat", [("\techo one\n", "\techo two\n")])
    assert result.ok
    assert path.read_bytes() == b"\xef\xbb\xbf@echo off\r\n\techo two\r\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o755


def test_edit_missing_file_points_to_write_file(workspace: Workspace) -> None:
    result = workspace.edit_file("new.py", [("a", "b")])
    assert not result.ok
    assert "write_file" in result.output
    assert not workspace.edit_file("x.py", []).ok


# delete_file


def test_delete_file_and_symlink_not_directory(workspace: Workspace, tmp_path: Path) -> None:
    (workspace.root / "f.txt").write_text("x")
    (workspace.root / "d").mkdir()
    (workspace.root / "link").symlink_to("d")
    assert workspace.delete_file("f.txt").output == "Deleted f.txt."
    assert not (workspace.root / "f.txt").exists()
    assert workspace.delete_file("link").ok
    assert (workspace.root / "d").is_dir()
    refused = workspace.delete_file("d")
    assert not refused.ok
    assert "directory" in refused.output
    missing = workspace.delete_file("f.txt")
    assert not missing.ok
    assert "does not exist" in missing.output


# list_files


def test_list_without_git_walks_and_skips_dot_git(workspace: Workspace) -> None:
    for name in ("b.py", "a/z.txt", "a/b/c.md", ".git/config"):
        (workspace.root / name).parent.mkdir(parents=True, exist_ok=True)
        (workspace.root / name).write_text("x")
    result = workspace.list_files()
    assert result.ok
    assert result.output.splitlines() == ["a/b/c.md", "a/z.txt", "b.py"]
    assert workspace.list_files("a/b").output == "a/b/c.md"
    assert not workspace.list_files("nowhere").ok


def test_list_in_git_repo_respects_gitignore(workspace: Workspace) -> None:
    root = workspace.root
    _git(root, "init", "-q")
    (root / ".gitignore").write_text("build/\n*.log\n")
    for name in ("src/app.py", "build/out.bin", "debug.log", "tracked_then_deleted.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "init")
    (root / "tracked_then_deleted.txt").unlink()
    (root / "untracked.py").write_text("y")
    workspace = Workspace(root, listing=Git.repository(root).listed_files)
    result = workspace.list_files()
    assert result.output.splitlines() == [".gitignore", "src/app.py", "untracked.py"]
    assert workspace.list_files("src").output == "src/app.py"


def test_long_listing_is_clipped(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    for i in range(300):
        (root / f"file_{i:03}.txt").write_text("")
    result = Workspace(root, max_output_chars=500).list_files()
    assert result.ok
    assert result.output.startswith("file_000.txt\n")
    assert "file_299.txt" in result.output
    assert "characters clipped" in result.output
    assert "300 files" in result.output


# search_files


def test_search_reports_path_line_text(workspace: Workspace) -> None:
    (workspace.root / "src").mkdir()
    (workspace.root / "src/a.py").write_text("import os\n\ndef main():\n    os.exit(0)\n")
    (workspace.root / "notes.md").write_text("os is great\n")
    (workspace.root / "blob.bin").write_bytes(b"os\0os")
    result = workspace.search_files(r"\bos\b")
    assert result.ok
    assert result.output.splitlines() == [
        "notes.md:1: os is great",
        "src/a.py:1: import os",
        "src/a.py:4:     os.exit(0)",
    ]
    assert workspace.search_files("os", glob="*.py").output.count("src/a.py") == 2
    assert workspace.search_files("os", path="src").output.startswith("src/a.py:1:")
    none = workspace.search_files("zzz")
    assert none.ok
    assert "No line matches" in none.output


def test_search_invalid_regex_is_a_message(workspace: Workspace) -> None:
    result = workspace.search_files("foo(")
    assert not result.ok
    assert "Invalid regular expression" in result.output


def test_search_is_capped(workspace: Workspace) -> None:
    (workspace.root / "many.txt").write_text("hit\n" * 500)
    result = workspace.search_files("hit")
    lines = result.output.splitlines()
    assert lines[199] == "many.txt:200: hit"
    assert "Stopped after 200 matches" in lines[200]


def test_search_skips_gitignored_and_outside_symlinks(workspace: Workspace, tmp_path: Path) -> None:
    root = workspace.root
    _git(root, "init", "-q")
    (root / ".gitignore").write_text("ignored.txt\n")
    (root / "ignored.txt").write_text("needle\n")
    (root / "kept.txt").write_text("needle\n")
    (tmp_path / "outside.txt").write_text("needle\n")
    (root / "leak.txt").symlink_to(tmp_path / "outside.txt")
    workspace = Workspace(root, listing=Git.repository(root).listed_files)
    result = workspace.search_files("needle")
    assert result.output == "kept.txt:1: needle"


# deadlines


def test_work_past_the_deadline_is_abandoned_and_changes_nothing(workspace: Workspace) -> None:
    (workspace.root / "m.py").write_text("a = 1\na = 1\n")
    passed = Deadline(0.0, lambda: 1.0)
    results = [
        workspace.edit_file("m.py", [("a = 1\na = 1\n", "changed\n")], passed),
        workspace.list_files(".", passed),
        workspace.search_files("a", ".", None, passed),
    ]
    for result in results:
        assert not result.ok
        assert "time limit was reached" in result.output
    assert (workspace.root / "m.py").read_text() == "a = 1\na = 1\n"


def test_read_only_files_are_read_but_never_changed_however_they_are_named(
    tmp_path: Path,
) -> None:
    (tmp_path / "ai-plans").mkdir()
    (tmp_path / "ai-plans" / "plan.md").write_text("the plan\n", encoding="utf-8")
    (tmp_path / "alias.md").symlink_to("ai-plans/plan.md")
    workspace = Workspace(tmp_path, read_only={"ai-plans/plan.md": "the plan is not yours"})
    assert workspace.read_file("ai-plans/plan.md").output == "the plan\n"
    for name in ("ai-plans/plan.md", "./ai-plans//plan.md", "ai-plans/../ai-plans/plan.md"):
        assert workspace.write_file(name, "mine\n") == ToolResult(False, "the plan is not yours")
    assert not workspace.edit_file("alias.md", [("the plan", "my plan")]).ok
    assert not workspace.delete_file("ai-plans/plan.md").ok
    assert (tmp_path / "ai-plans" / "plan.md").read_text(encoding="utf-8") == "the plan\n"
    assert workspace.write_file("ai-plans/other.md", "fine\n").ok
