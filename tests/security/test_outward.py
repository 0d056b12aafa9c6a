"""One outward gate: no secret and no terminal control sequence leaves devbot through a
commit message, a PR, a report, a stored trajectory or the console."""

from __future__ import annotations

import pytest

from devbot.outward import outward, outward_data, strip_control
from devbot.runs.runtime import default_forge
from devbot.triggers.cli import main
from devbot.vcs.forge import LocalForge
from tests.fixtures.engine import PlanRunner, plan_text

CANARY = "canary-7f3a9c1e5b2d4f60"
SHAPED = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
ESCAPES = [
    "\x1b]0;owned window title\x07",
    "\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07",
    "\x1b[2J\x1b[H",
    "\x1b[31mred\x1b[0m",
    "\x9b2J",
    "\x1bP1;2|payload\x1b\\",
]


def test_a_canary_in_the_models_words_is_redacted_everywhere(
    plan_runner: PlanRunner, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CANARY_TOKEN", CANARY)
    reply = (
        f"@@RUN printf 'first line\\n{SHAPED}\\n{CANARY}\\n'\n"
        "@@WRITE hello.txt\nworld\n@@END\n"
        f"@@FINISH\nDone with {CANARY} and {SHAPED}.\n- used {CANARY}\n@@END\n"
    )
    plan = plan_runner.write_plan(plan_text(f"Use {CANARY}.", title=f"Task {CANARY}"))
    script = plan_runner.script_file([{"text": reply}])
    model = f"scripted/{script}"
    code = main(
        ["run", str(plan), "--model", model, "--sandbox", "local", "--test-command", "true"]
    )
    assert code == 0
    repo = plan_runner.repo
    record = plan_runner.store().recent()[0]
    forge = default_forge(plan_runner.settings([]), repo.work)
    assert isinstance(forge, LocalForge)
    (pr,) = forge.list_pull_requests()
    printed = capsys.readouterr()
    main(["runs", "--repo", str(repo.work), "show", record.id])
    shown = capsys.readouterr().out
    channels = {
        "commit messages": repo.git("log", "--format=%B", "origin/devbot/task"),
        "report": repo.remote_file("devbot/task", record.report_path) or "",
        "pull request": pr.title + pr.body,
        "trajectory": str(plan_runner.store().events(record.id)),
        "run record": record.message + record.title,
        "console": printed.out + printed.err + shown,
    }
    for channel, text in channels.items():
        assert CANARY not in text, channel
        assert SHAPED not in text, channel
    assert "[REDACTED]" in channels["trajectory"]
    assert "[REDACTED]" in channels["commit messages"]


def test_control_sequences_from_the_model_never_reach_the_terminal(
    plan_runner: PlanRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    escapes = "".join(ESCAPES)
    reply = (
        f"{escapes}\n@@RUN printf '\\033]0;from a command\\007\\033[2Jdone\\n'\n"
        f"@@WRITE hello.txt\nworld\n@@END\n@@FINISH\nFinished {escapes}\n@@END\n"
    )
    plan = plan_runner.write_plan(plan_text("Say hello.", title="Hello"))
    script = plan_runner.script_file([{"text": reply}])
    main(["run", str(plan), "--model", f"scripted/{script}", "--sandbox", "local"])
    run_id = plan_runner.store().recent()[0].id
    main(["runs", "--repo", str(plan_runner.repo.work), "show", run_id])
    main(["runs", "--repo", str(plan_runner.repo.work)])
    printed = capsys.readouterr()

    everything = printed.out + printed.err
    assert "Finished" in everything and "done" in everything
    for control in ("\x1b", "\x9b", "\x07", "\x90"):
        assert control not in everything
    report = plan_runner.repo.remote_file(
        "devbot/task", plan_runner.store().get(run_id).report_path
    )
    assert report is not None and "\x1b" not in report


@pytest.mark.parametrize("sequence", ESCAPES)
def test_strip_control_removes_each_kind_of_sequence(sequence: str) -> None:
    visible = "red" if "red" in sequence else ""
    assert strip_control(f"a{sequence}b\tc\r\nd\re") == f"a{visible}b\tc\nde"


def test_a_token_at_the_start_of_a_line_is_redacted_in_data() -> None:
    event = {"content": f"line\n{SHAPED}\nmore", "nested": [{"k": f"\n{SHAPED}"}]}
    cleaned = outward_data(event)
    assert SHAPED not in str(cleaned) and cleaned["content"] == "line\n[REDACTED]\nmore"
    assert outward(f"x\x1b[0m{SHAPED[:10]}\x1b[0m{SHAPED[10:]}") == "x[REDACTED]"
