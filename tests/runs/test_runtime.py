"""Where devbot keeps its state in a repository, and what git must not see."""

from __future__ import annotations

from devbot.config import load_settings
from devbot.runs.runtime import prepare_state_dir
from tests.fixtures.repo import OriginRepo


def test_state_dir_and_half_written_files_stay_out_of_git(origin_repo: OriginRepo) -> None:
    work = origin_repo.work
    settings = load_settings(work, environ={})
    prepare_state_dir(settings, work)
    prepare_state_dir(settings, work)
    (work / ".devbot" / "runs.sqlite").write_text("x")
    (work / ".devbot-0123abcd.tmp").write_text("half a file")

    assert origin_repo.git("status", "--porcelain") == ""
    assert (work / ".gitignore").exists() is False
    exclude = (work / ".git" / "info" / "exclude").read_text().splitlines()
    assert exclude.count("/.devbot/") == 1 and exclude.count(".devbot-*.tmp") == 1
