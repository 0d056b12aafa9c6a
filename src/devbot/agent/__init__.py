"""The agent: a small loop that turns a task into workspace changes through an action protocol."""

from __future__ import annotations

from devbot.agent.limits import ExitStatus, Limits
from devbot.agent.loop import Agent, AgentResult, StepRecorder, run_directly
from devbot.agent.prompts import Task
from devbot.agent.protocols import get_protocol

__all__ = [
    "Agent",
    "AgentResult",
    "ExitStatus",
    "Limits",
    "StepRecorder",
    "Task",
    "get_protocol",
    "run_directly",
]
