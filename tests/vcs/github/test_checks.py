"""GitHubForge's checks and Actions against the GitHub double: check runs of a commit,
annotations, a job's log behind GitHub's redirect, re-runs."""

from __future__ import annotations

from tests.fixtures.github_double import GitHubDouble
from tests.vcs.github.helpers import REPO, make_forge

SHA = "a" * 40


def test_check_runs_annotations_and_the_tail_of_a_log(github_double: GitHubDouble) -> None:
    forge = make_forge(github_double)
    failed = github_double.add_check_run(
        REPO, SHA, "tests", "failure", annotations=(("app.py", 3, "boom"),), log="a\nb\nerror\n"
    )
    github_double.add_check_run(REPO, SHA, "lint", "success")
    github_double.add_check_run(REPO, "b" * 40, "other commit", "failure")

    runs = {run.name: run for run in forge.check_runs(SHA)}
    assert set(runs) == {"tests", "lint"}
    assert runs["tests"].failed and not runs["lint"].failed and runs["lint"].completed
    assert runs["tests"].job_id == failed["id"] and runs["tests"].app == "github-actions"
    (note,) = forge.annotations(failed["id"], 10)
    assert (note.path, note.line, note.message) == ("app.py", 3, "boom")
    assert forge.job_log(failed["id"], 1000) == ("a\nb\nerror\n", 0)
    assert forge.job_log(runs["lint"].id, 1000) == ("", 0)  # a job without a log
    # the log is fetched from where GitHub redirects, without devbot's token
    ((path, headers),) = github_double.downloads[:1]
    assert path.endswith(f"/{failed['id']}") and "authorization" not in headers


def test_rerun_of_a_failed_job(github_double: GitHubDouble) -> None:
    forge = make_forge(github_double)
    run = github_double.add_check_run(REPO, SHA, "tests", "failure")
    github_double.repos[REPO].rerun_conclusions["tests"] = "success"
    forge.rerun_job(run["id"])
    (latest,) = forge.check_runs(SHA)
    assert latest.id != run["id"] and latest.conclusion == "success"
