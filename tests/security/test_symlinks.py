"""Host-side file I/O in a worktree never follows a symbolic link out of it, and a change set
that adds such a link is never pushed.

The agent can make any path a link (`@@RUN ln -s ...` in the sandbox), and a branch under
review can hold links that someone else pushed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from devbot.runs.runtime import default_forge
from devbot.tools.inside import FileTooLarge, read_inside, write_inside
from devbot.tools.jail import PathOutsideWorkspace
from devbot.vcs.forge import LocalForge
from tests.fixtures.engine import PlanRunner
from tests.fixtures.feedback import FeedbackPR
from tests.fixtures.repo import run_git

FINISH = "@@FINISH\nDone.\n@@END\n"


def _report_rel(slug: str = "task") -> str:
    return f"ai-plans/{dt.date.today():%y%m%d}__REPORT__{slug}.md"


def test_a_report_path_the_agent_made_a_link_is_replaced_not_written_through(
    plan_runner: PlanRunner, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("host file\n", encoding="utf-8")
    reply = f"@@RUN ln -s {victim} {_report_rel()}\n@@WRITE hello.txt\nworld\n@@END\n{FINISH}"

    record = plan_runner.run([{"text": reply}], sandbox="local", test_command="true")

    assert victim.read_text(encoding="utf-8") == "host file\n"
    assert record.status == "completed", record.message
    report = plan_runner.repo.remote_file("devbot/task", record.report_path) or ""
    assert report.startswith("---\nfilename:")
    mode = plan_runner.repo.git("ls-tree", "origin/devbot/task", "--", record.report_path)
    assert mode.startswith("100644 ")


@pytest.mark.parametrize(
    "target", ["/etc/passwd", "../../../../etc/passwd", "nested/../../..", ".git/config"]
)
def test_a_change_set_with_a_link_out_of_the_tree_is_not_pushed(
    plan_runner: PlanRunner, target: str
) -> None:
    reply = f"@@RUN mkdir -p nested && ln -s {target} nested/leak\n{FINISH}"

    record = plan_runner.run([{"text": reply}], sandbox="local", test_command="true")

    assert record.status == "failed"
    assert "symbolic links that lead out of the repository (`nested/leak`)" in record.message
    assert "the work is kept in" in record.message
    assert plan_runner.repo.remote_sha("devbot/task") is None
    forge = default_forge(plan_runner.settings([]), plan_runner.repo.work)
    assert isinstance(forge, LocalForge) and forge.list_pull_requests() == []


def test_a_link_that_stays_inside_is_pushed(plan_runner: PlanRunner) -> None:
    reply = f"@@RUN mkdir -p docs && ln -s ../README.md docs/readme\n{FINISH}"

    record = plan_runner.run([{"text": reply}], sandbox="local", test_command="true")

    assert record.status == "completed", record.message
    assert plan_runner.repo.remote_file("devbot/task", "docs/readme") == "../README.md"


def test_reads_and_writes_refuse_links_out_and_bound_what_they_read(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "ai-plans").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_text("s3cret\n", encoding="utf-8")
    (root / "ai-plans" / "report.md").symlink_to(outside / "secret")
    (root / "out").symlink_to(outside)
    (root / "big.md").write_bytes(b"x" * 2000)

    with pytest.raises(PathOutsideWorkspace):
        read_inside(root, "ai-plans/report.md")
    with pytest.raises(PathOutsideWorkspace):
        read_inside(root, "out/secret")
    with pytest.raises(PathOutsideWorkspace):
        write_inside(root, "out/new.md", "x")
    with pytest.raises(FileTooLarge):
        read_inside(root, "big.md", max_bytes=1000)
    write_inside(root, "ai-plans/report.md", "report\n")

    assert (outside / "secret").read_text(encoding="utf-8") == "s3cret\n"
    assert not (outside / "new.md").exists()
    assert not (root / "ai-plans" / "report.md").is_symlink()
    assert read_inside(root, "ai-plans/report.md") == "report\n"


def test_a_report_on_a_branch_that_links_to_a_host_file_is_never_read(
    feedback_pr: Callable[..., FeedbackPR], tmp_path: Path
) -> None:
    fix = "@@WRITE hello.txt\nworld!\n@@END\n@@FINISH\nAdded '!'.\n@@END\n"
    s = feedback_pr([{"text": fix}])
    secret = tmp_path / "host-secret.txt"
    secret.write_text("HOST-ONLY-7c1d9e\n", encoding="utf-8")
    repo = s.runner.repo
    human = tmp_path / "human"
    run_git("clone", "-q", "--branch", "devbot/task", str(repo.bare), str(human), cwd=tmp_path)
    (report,) = (human / "ai-plans").glob("*__REPORT__*.md")
    report.unlink()
    report.symlink_to(secret)
    run_git("add", "-A", cwd=human)
    run_git("-c", "user.name=h", "-c", "user.email=h@x", "commit", "-qm", "link", cwd=human)
    run_git("push", "-q", "origin", "HEAD:devbot/task", cwd=human)

    assert s.review_comment("alice", "add a '!'", path="hello.txt", line=1)[0] == 202
    (run,) = s.wait_idle(1)

    assert run.state == "done"
    state = repo.work / ".devbot"
    stored = b"".join(path.read_bytes() for path in state.glob("*.sqlite*"))
    assert b"HOST-ONLY-7c1d9e" not in stored
    assert all("HOST-ONLY" not in c["body"] for c in s.posted())
    assert secret.read_text(encoding="utf-8") == "HOST-ONLY-7c1d9e\n"


def test_the_import_check_never_reads_a_link_out_of_the_tree(
    plan_runner: PlanRunner, tmp_path: Path
) -> None:
    """The cross-module static check finds importers with git grep (which lists no link)
    and reads them with read_inside (which refuses one out of the tree): a link the agent
    made to a host file is never read through, so its text never reaches the model."""
    victim = tmp_path / "host.py"
    victim.write_text("from utils import add  # HOST SECRET\n", encoding="utf-8")
    renamed = (
        f"@@RUN ln -s {victim} leak.py\n"
        "@@EDIT utils.py\n@@OLD\ndef add(a: int, b: int) -> int:\n@@NEW\n"
        f"def plus(a: int, b: int) -> int:\n@@END\n{FINISH}"
    )
    replies = [{"text": renamed}, {"text": FINISH}]
    record = plan_runner.run(replies, sandbox="local", test_command="true", max_test_rounds="1")

    events = plan_runner.store().events(record.id)
    (review,) = [e["content"] for e in events if e["kind"] == "review"]
    assert "tests/test_utils.py:1: imports add from utils" in review
    assert "leak.py" not in review and "HOST SECRET" not in review
