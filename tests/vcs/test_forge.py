"""LocalForge: one PR per head branch, across instances and processes sharing the file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from devbot.vcs.forge import Forge, LocalForge, PullRequest


def test_numbers_start_at_one_and_urls_name_the_repo(tmp_path: Path) -> None:
    forge = LocalForge(tmp_path / "myrepo" / ".devbot" / "local_forge.sqlite")
    assert forge.name == "local"
    assert forge.list_pull_requests() == []
    first = forge.open_or_update_pull_request(title="T1", body="B1", head="devbot/a", base="main")
    second = forge.open_or_update_pull_request(title="T2", body="B2", head="devbot/b", base="dev")
    assert first == PullRequest(1, "T1", "B1", "devbot/a", "main", "local://myrepo/pull/1")
    assert second.number == 2 and second.base == "dev" and second.state == "open"
    assert forge.list_pull_requests() == [first, second]
    assert forge.find_pull_request("devbot/b") == second
    assert forge.find_pull_request("devbot/none") is None


def test_one_pr_per_head_across_instances_and_update_keeps_the_number(tmp_path: Path) -> None:
    path = tmp_path / ".devbot" / "local_forge.sqlite"
    one, two = LocalForge(path, repo_name="r"), LocalForge(path, repo_name="r")
    opened = one.open_or_update_pull_request(title="Old", body="old", head="devbot/x", base="main")
    assert two.find_pull_request("devbot/x") == opened
    updated = two.open_or_update_pull_request(
        title="New", body="new body", head="devbot/x", base="ignored"
    )
    assert updated.number == opened.number == 1
    assert (updated.title, updated.body, updated.base) == ("New", "new body", "main")
    assert one.find_pull_request("devbot/x") == updated
    assert one.list_pull_requests() == [updated]
    assert LocalForge(path, repo_name="r").list_pull_requests() == [updated]


def test_local_forge_satisfies_the_protocol(tmp_path: Path) -> None:
    forge: Forge = LocalForge(tmp_path / "f.sqlite")
    pr = forge.open_or_update_pull_request(title="t", body="b", head="h", base="main")
    assert pr.url == "local://f/pull/1"


WORKER = """
import json, sys
from pathlib import Path
from devbot.vcs.forge import LocalForge

forge = LocalForge(Path(sys.argv[1]))
numbers = []
for round in range(15):
    for head in ("devbot/shared", f"devbot/own-{sys.argv[2]}"):
        pr = forge.open_or_update_pull_request(
            title=f"{sys.argv[2]}-{round}", body="b", head=head, base="main"
        )
        numbers.append([head, pr.number])
print(json.dumps(numbers))
"""


def test_concurrent_processes_never_open_a_second_pr(tmp_path: Path) -> None:
    path = tmp_path / "repo" / ".devbot" / "local_forge.sqlite"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), str(index)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(4)
    ]
    seen: dict[str, set[int]] = {}
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        for head, number in json.loads(out):
            seen.setdefault(head, set()).add(number)

    prs = LocalForge(path).list_pull_requests()
    assert sorted(pr.head for pr in prs) == sorted(
        ["devbot/shared"] + [f"devbot/own-{i}" for i in range(4)]
    )
    assert [pr.number for pr in prs] == [1, 2, 3, 4, 5]
    assert all(len(numbers) == 1 for numbers in seen.values())
