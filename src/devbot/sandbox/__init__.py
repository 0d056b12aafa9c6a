"""Run commands for the agent and the verifier: docker, bwrap or (knowingly) local."""

from devbot.sandbox.base import CommandResult, ResourceLimits, Sandbox
from devbot.sandbox.local import LocalSandbox
from devbot.sandbox.select import Choice, build_sandbox, choose_backend, make_sandbox

__all__ = [
    "Choice",
    "CommandResult",
    "LocalSandbox",
    "ResourceLimits",
    "Sandbox",
    "build_sandbox",
    "choose_backend",
    "make_sandbox",
]
