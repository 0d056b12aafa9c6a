"""Run commands for the agent and the verifier: pick the backend the settings name."""

from devbot.config import ConfigError, Settings
from devbot.sandbox.base import CommandResult, Sandbox
from devbot.sandbox.local import LocalSandbox

__all__ = ["CommandResult", "LocalSandbox", "Sandbox", "make_sandbox"]


def make_sandbox(settings: Settings) -> Sandbox:
    """The sandbox for `settings.sandbox`; only "local" exists so far."""
    if settings.sandbox == "local":
        return LocalSandbox(settings.extra_env_names)
    raise ConfigError(
        f"sandbox = {settings.sandbox!r}: the {settings.sandbox} backend arrives with the sandbox"
        " work; set DEVBOT_SANDBOX=local for now (commands then run unisolated on this machine)."
    )
