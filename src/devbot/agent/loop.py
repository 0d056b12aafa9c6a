"""The agent loop: ask the model, run its actions, repeat until it finishes or a limit ends it.

Every model turn and every action goes through `record`, so a durable runner can checkpoint
each one and, on resume, replay recorded results instead of paying or acting twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from devbot.agent.actions import Finish, Observation
from devbot.agent.execute import action_record, execute
from devbot.agent.limits import ExitStatus, LimitHit, Limits, Progress, check_limits
from devbot.agent.prompts import Entry, Task, system_prompt, task_message, visible_messages
from devbot.agent.protocols.base import ActionProtocol, FormatError, ParsedAction
from devbot.llm.base import Message, Model, ModelError, ModelReply
from devbot.sandbox.base import Sandbox
from devbot.templating import render
from devbot.tools.deadline import NO_DEADLINE, Deadline
from devbot.tools.files import Workspace

StepRecorder = Callable[[str, Callable[[], Any]], Any]
WRAP_UP_LIMITS = (ExitStatus.STEP_LIMIT, ExitStatus.TIME_LIMIT)


def run_directly(name: str, thunk: Callable[[], Any]) -> Any:
    """The recorder for runs that need no checkpoints: just call."""
    return thunk()


@dataclass(frozen=True)
class AgentResult:
    """How a run ended, what it cost, and every event on the way."""

    exit_status: ExitStatus
    summary: str
    steps: int
    model_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    message: str
    trajectory: list[dict[str, Any]]


@dataclass
class _Run:
    """The mutable state of one run."""

    started_at: float
    history: list[Entry]
    steps: int = 0
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    format_errors: int = 0
    repeated_turns: int = 0
    last_turn: tuple[str, tuple[Observation, ...]] | None = None
    summary: str = ""
    trajectory: list[dict[str, Any]] = field(default_factory=list)

    def add(self, messages: list[Message], observation_of: int | None = None) -> None:
        self.history.extend(Entry(message, observation_of) for message in messages)

    def count_repeat(self, reply: ModelReply, observations: list[Observation]) -> None:
        """Count turns in a row that repeat the one before: same reply, same results."""
        calls = [(call.name, sorted(call.arguments.items())) for call in reply.tool_calls]
        turn = (reply.text + repr(calls), tuple(observations))
        self.repeated_turns = self.repeated_turns + 1 if turn == self.last_turn else 1
        self.last_turn = turn


class Agent:
    """Drives one model through one protocol over one workspace, within `limits`.

    `review_finish`, when given, is asked before a finish is accepted (the verifier runs the
    tests there); a text it returns is the finish's failed result and the loop goes on.
    `next_task`, when given, is told each accepted finish's summary: a text it returns is
    the finish's result and the next task in the same conversation (a Spec Kit feature is
    worked through task by task); None ends the run.

    `clock` is read before each turn and, during an action, by the tools that stop at the
    run's deadline. Those reads happen inside the recorded action, so a recorder must run a
    `clock` it records as a plain call there (DBOS runs a step inside a step unrecorded).
    """

    def __init__(
        self,
        model: Model,
        protocol: ActionProtocol,
        workspace: Workspace,
        sandbox: Sandbox,
        limits: Limits,
        *,
        command_timeout_s: float = 300.0,
        record: StepRecorder = run_directly,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
        review_finish: Callable[[], str | None] | None = None,
        next_task: Callable[[str], str | None] | None = None,
    ) -> None:
        self.model, self.protocol, self.workspace, self.sandbox = (
            model,
            protocol,
            workspace,
            sandbox,
        )
        self.limits, self.command_timeout_s = limits, command_timeout_s
        self.record, self.on_event, self.should_stop, self.clock = (
            record,
            on_event,
            should_stop,
            clock,
        )
        self.review_finish, self.next_task = review_finish, next_task

    def run(self, task: Task, *, started_at: float | None = None) -> AgentResult:
        """Work on `task` until done or stopped; `started_at` (clock time) lets a resumed
        run keep its original start for the wall-time limit."""
        system = Message(role="system", content=system_prompt(self.protocol))
        first = Message(role="user", content=task_message(task))
        run = _Run(
            self.clock() if started_at is None else started_at, [Entry(system), Entry(first)]
        )
        try:
            status, message = self._loop(run)
        except ModelError as exc:
            status, message = ExitStatus.MODEL_ERROR, f"model error ({exc.kind}): {exc}"
        except BaseException as exc:
            self._event(run, "exit", f"crashed: {exc!r}", status="crashed", summary=run.summary)
            raise
        self._event(run, "exit", message, status=status.value, summary=run.summary)
        return AgentResult(
            exit_status=status,
            summary=run.summary,
            steps=run.steps,
            model_calls=run.model_calls,
            prompt_tokens=run.prompt_tokens,
            completion_tokens=run.completion_tokens,
            cost_usd=run.cost_usd,
            message=message,
            trajectory=run.trajectory,
        )

    def _loop(self, run: _Run) -> tuple[ExitStatus, str]:
        while True:
            if self.should_stop is not None and self.should_stop():
                return ExitStatus.CANCELLED, "cancelled on request"
            progress = Progress(
                run.steps,
                run.cost_usd,
                self.clock() - run.started_at,
                run.format_errors,
                run.repeated_turns,
            )
            hit = check_limits(self.limits, progress)
            if hit is not None:
                if hit.status in WRAP_UP_LIMITS and run.steps > 0:
                    self._wrap_up(run, hit)
                return hit.status, hit.message
            reply = self._ask(run, "model", visible_messages(run.history))
            try:
                reading = self.protocol.parse(reply)
            except FormatError as error:
                run.format_errors += 1
                run.add([self.protocol.assistant_message(reply)])
                run.add(self.protocol.format_error_messages(reply, error))
                self._event(run, "format_error", error.message, truncated=error.truncated)
                continue
            # a cut reply's complete actions run, but cut after cut is a loop, not progress
            run.format_errors = run.format_errors + 1 if reading.cut else 0
            run.add([self.protocol.assistant_message(reply)])
            if reading.repairs or reading.cut:
                self._event(run, "repaired", "\n".join(reading.repairs), cut=reading.cut)
            parsed = reading.actions
            observations = [
                self._act(run, item) for item in parsed if not isinstance(item.action, Finish)
            ]
            finish = parsed[-1].action
            if isinstance(finish, Finish):
                if all(observation.ok for observation in observations):
                    run.summary = finish.summary
                    answer = self._answer_finish(run, finish.summary)
                    if answer is None:
                        return ExitStatus.SUBMITTED, "the agent finished the task"
                    observations.append(answer)
                else:
                    refused = render("devbot.agent", "finish_refused.txt").strip()
                    observations.append(Observation(ok=False, output=refused))
            run.add(self.protocol.observation_messages(reading, observations), run.steps)
            run.count_repeat(reply, observations)

    def _answer_finish(self, run: _Run, summary: str) -> Observation | None:
        """None accepts the finish and ends the run; else what answers it, and the loop goes
        on: the review's objection (a failed result), or the next task (an ok one)."""
        objection = self.review_finish() if self.review_finish else None
        if objection is not None:
            self._event(run, "review", objection)
            return Observation(ok=False, output=objection)
        following = self.next_task(summary) if self.next_task else None
        if following is None:
            return None
        self._event(run, "next_task", following)
        return Observation(ok=True, output=following)

    def _ask(self, run: _Run, name: str, messages: list[Message]) -> ModelReply:
        """One recorded model turn, charged whether or not its reply turns out usable."""
        tools = self.protocol.tool_specs()

        def call() -> dict[str, Any]:
            try:
                return {"reply": self.model.complete(messages, tools).to_dict()}
            except ModelError as exc:
                error = {"message": str(exc), "kind": exc.kind, "retryable": exc.retryable}
                return {"error": error}

        outcome = self.record(name, call)
        run.model_calls += 1  # counted from the record, so a resumed run counts replayed calls
        if "error" in outcome:
            error = outcome["error"]
            raise ModelError(error["message"], kind=error["kind"], retryable=error["retryable"])
        reply = ModelReply.from_dict(outcome["reply"])
        run.steps += 1
        run.prompt_tokens += reply.usage.prompt_tokens
        run.completion_tokens += reply.usage.completion_tokens
        run.cost_usd += reply.cost_usd
        self._event(
            run,
            "model",
            reply.text,
            usage=asdict(reply.usage),
            cost=reply.cost_usd,
            tool_calls=[asdict(call) for call in reply.tool_calls],
            finish_reason=reply.finish_reason,
        )
        return reply

    def _act(self, run: _Run, item: ParsedAction) -> Observation:
        """One recorded action execution, ended when the run's wall time is up."""
        action = item.action
        wall_s = self.limits.max_wall_s
        deadline = Deadline(run.started_at + wall_s, self.clock) if wall_s > 0 else NO_DEADLINE
        outcome = self.record(
            "action",
            lambda: asdict(
                execute(action, self.workspace, self.sandbox, self.command_timeout_s, deadline)
            ),
        )
        observation = Observation(ok=outcome["ok"], output=outcome["output"])
        self._event(
            run, "action", observation.output, action=action_record(action), ok=observation.ok
        )
        return observation

    def _wrap_up(self, run: _Run, hit: LimitHit) -> None:
        """Ask once more, for a summary only, after a step or time limit; run no actions."""
        limit = hit.status.value.removesuffix("_limit")
        notice = Message(
            role="user", content=render("devbot.agent", "wrap_up.txt", limit=limit).strip()
        )
        try:
            reply = self._ask(run, "wrap_up", [*visible_messages(run.history), notice])
        except ModelError:
            return
        try:
            actions = [item.action for item in self.protocol.parse(reply).actions]
        except FormatError:
            actions = []
        finishes = [action for action in actions if isinstance(action, Finish)]
        run.summary = finishes[-1].summary if finishes else reply.text.strip()

    def _event(self, run: _Run, kind: str, content: str, **extra: Any) -> None:
        event: dict[str, Any] = {"step": run.steps, "kind": kind, "content": content}
        event |= {"usage": None, "cost": 0.0} | extra
        run.trajectory.append(event)
        if self.on_event is not None:
            self.on_event(event)
