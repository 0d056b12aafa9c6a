"""The `devbot` command line: init, run, watch, demo, runs.

Only argparse is imported at start-up; each command imports what it needs, so
`devbot --help` is instant and a run reaches its first model request quickly.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devbot import __version__
from devbot.outward import gate_logging, outward

_SETTING_FLAGS = {
    "model": "provider/model, e.g. anthropic/claude-sonnet-4-5 or scripted/replies.yaml",
    "api_base": "base URL of an OpenAI-compatible server (Ollama, vLLM, llama.cpp)",
    "protocol": "action protocol: text (default) or tools",
    "test_command": "command that runs the repository's tests",
    "sandbox": "where commands and tests run: auto (default), docker, bwrap or local",
    "base_branch": "branch the work starts from (default: the remote's default branch)",
    "max_steps": "most agent steps per run",
    "max_usd": "most USD spent on the model per run",
    "max_wall_s": "most seconds per run",
}


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    for key, help_text in _SETTING_FLAGS.items():
        parser.add_argument("--" + key.replace("_", "-"), dest=key, default=None, help=help_text)


def _add_allow_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-workflow-changes",
        dest="allow_workflow_changes",
        action="store_const",
        const=True,
        default=None,
        help="push changes to .github/** and the protected_paths (refused by default)",
    )


_PROCESS_FLAGS = {
    "state_dir": "where this process keeps mirrors, worktrees and environments "
    "(default: the checkout's .devbot/, else ~/.local/state/devbot)",
    "metrics_port": "serve Prometheus /metrics on this port (default: none)",
    "metrics_host": "address of the /metrics server (default 127.0.0.1)",
}


def _add_process_flags(parser: argparse.ArgumentParser, *keys: str) -> None:
    for key in keys:
        help_text = _PROCESS_FLAGS[key]
        parser.add_argument("--" + key.replace("_", "-"), dest=key, default=None, help=help_text)


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    keys = (*_SETTING_FLAGS, "allow_workflow_changes", *_PROCESS_FLAGS)
    return {key: getattr(args, key, None) for key in keys}


REPO_HELP = "the git repository (default: the one the current directory is in)"
RUN_ID_HELP = "a run's id, or its start when that names one run (see `devbot runs`)"


def _repo_option(
    parser: argparse.ArgumentParser, help_text: str = REPO_HELP, kind: type = Path
) -> None:
    """`--repo`, the same on every command; absent unless given (commands pick the default)."""
    parser.add_argument("--repo", type=kind, default=argparse.SUPPRESS, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="devbot", description="Turn Markdown plans into reviewed pull requests."
    )
    parser.add_argument("--version", action="version", version=f"devbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = sub.add_parser("init", help="write a commented devbot.toml and an example plan")
    _repo_option(init)

    run = sub.add_parser("run", help="run one plan (or Spec Kit feature) now and wait for it")
    run.add_argument(
        "plan",
        type=Path,
        help="the plan file, e.g. ai-plans/261124__PLAN__x.md, or a Spec Kit feature folder, "
        "e.g. specs/001-photo-albums/",
    )
    _repo_option(run, "the git repository (default: the plan's)")
    _add_setting_flags(run)
    _add_allow_flag(run)

    watch = sub.add_parser(
        "watch", help="run plans as they appear in the plan folders (and Spec Kit features)"
    )
    _repo_option(watch)
    watch.add_argument("--dirs", default=None, help="comma-separated plan folders to watch")
    _add_setting_flags(watch)
    _add_allow_flag(watch)

    serve = sub.add_parser(
        "serve", help="answer GitHub webhooks (review feedback, issues); the dashboard at /"
    )
    _repo_option(
        serve,
        "the checkout, or the repository by git URL or owner/name (default: the checkout "
        "the current directory is in)",
        kind=str,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (/metrics too)")
    _add_setting_flags(serve)
    _add_process_flags(serve, "state_dir")

    ui = sub.add_parser("ui", help="serve the web dashboard of runs (no webhooks)")
    _repo_option(ui)
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on")
    ui.add_argument("--port", type=int, default=8080, help="port to listen on")

    demo = sub.add_parser("demo", help="create a demo repository and run the hello plan")
    demo.add_argument(
        "--dir", type=Path, default=None, help="an empty directory (default: a new temporary one)"
    )

    _add_runs_parser(sub)
    worker = sub.add_parser("worker", help="take runs from the run queue until stopped")
    _repo_option(
        worker,
        "a checkout whose runs it does in the checkout itself (default: the one the current "
        "directory is in, if any; other repositories are mirrored under --state-dir)",
    )
    _add_process_flags(worker, "state_dir", "metrics_port", "metrics_host")
    workers = sub.add_parser("workers", help="list the workers: id, host, version, runs, heartbeat")
    _repo_option(workers, "a checkout whose devbot.toml and database to read (optional)")
    _add_process_flags(workers, "state_dir")
    _add_sandbox_parser(sub)
    return parser


def _add_runs_parser(sub: Any) -> None:
    runs = sub.add_parser("runs", help="list runs, show one, or resume, cancel, retry one")
    _repo_option(runs)
    runs_sub = runs.add_subparsers(dest="runs_command", metavar="ACTION")
    listing = runs_sub.add_parser("list", help="the newest runs (what `devbot runs` prints)")
    _repo_option(listing)
    show = runs_sub.add_parser("show", help="print a run and its trajectory")
    show.add_argument("run_id", help=RUN_ID_HELP)
    _repo_option(show)
    for name, help_text in (
        ("resume", "continue a stopped run from its last recorded step, and wait for it"),
        ("cancel", "stop a run at its next step boundary (its report says cancelled)"),
        ("retry", "start a new run of the same plan, and wait for it"),
    ):
        operation = runs_sub.add_parser(name, help=help_text)
        operation.add_argument("run_id", help=RUN_ID_HELP)
        _repo_option(operation)
        if name != "cancel":
            operation.add_argument(
                "--no-wait", action="store_true", help="return once the run is queued"
            )


def _add_sandbox_parser(sub: Any) -> None:
    box = sub.add_parser(
        "sandbox", help="check, use or build the sandbox commands run in, and its environments"
    )
    box_sub = box.add_subparsers(dest="sandbox_command", required=True)
    check = box_sub.add_parser(
        "check", help="name the backend, prove each isolation promise, list cached environments"
    )
    run = box_sub.add_parser("exec", help="run one command in the sandbox as the agent would")
    run.add_argument("argv", nargs=argparse.REMAINDER, help="-- COMMAND [ARG ...]")
    prepare = box_sub.add_parser(
        "prepare",
        help="build the environment of HEAD's manifests ahead of a run (venv, node_modules...)",
    )
    image = box_sub.add_parser("build-image", help="build the docker backend's image")
    image.add_argument("--dockerfile", type=Path, default=None, help="build from this Dockerfile")
    image.add_argument("--tag", default=None, help="image name (default: sandbox_image)")
    image.add_argument("--mirror", default=None, help="Debian mirror for debootstrap")
    for parser in (check, run, prepare, image):
        parser.add_argument("--repo", type=Path, default=Path("."), help=REPO_HELP)
        parser.add_argument("--sandbox", default=None, help=_SETTING_FLAGS["sandbox"])


def entry() -> None:
    """The `devbot` program: `main`, then an end that does not wait for the threads of runs
    parked at a step boundary (they wait for the process to end, forever)."""
    code = main()
    lingering = [
        t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon
    ]
    if lingering:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    gate_logging()
    from devbot.triggers import commands  # lazy: `devbot --help` imports nothing else

    handler = getattr(commands, "cmd_" + args.command)
    try:
        code: int = handler(args, _flags(args))
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except commands.USER_ERRORS as exc:
        print(f"devbot: error: {outward(str(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug of ours: say so plainly; DEVBOT_DEBUG=1 shows where
        if os.environ.get("DEVBOT_DEBUG"):
            raise
        name = type(exc).__name__
        print(f"devbot: internal error: {name}: {outward(str(exc))}", file=sys.stderr)
        print(
            "devbot: run again with DEVBOT_DEBUG=1 to see where; please report it", file=sys.stderr
        )
        return 1
