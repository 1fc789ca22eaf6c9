"""LangChain (>= 1.0) agent middleware: every tool call of a ``create_agent`` agent is
decided by aecl in ``wrap_tool_call`` before the tool runs, the tool's output is recorded
with aecl after it ran, and the user's messages are recorded when the agent starts.

    from langchain.agents import create_agent
    from aecl.adapters.langchain import AeclMiddleware

    agent = create_agent(model, tools=[lookup_order], middleware=[AeclMiddleware(client)])

A refused call does not run: by default the model gets an error ``ToolMessage`` with the
reason (so the agent can tell the user or try something else); ``on_block="raise"``
raises the :class:`aecl.Blocked` out of the agent instead. The run is, in order: the
``run`` given here, the LangGraph ``thread_id`` of the invocation, the client's run.

Outputs: the content of the tool's ``ToolMessage`` (what the model will read) is sent as
the call's result. When that fails, the model gets an error ``ToolMessage`` saying the
output is withheld instead of the output (``on_block="raise"``: :class:`aecl.OutputWithheld`
is raised).

User messages: ``before_agent`` sends the ``HumanMessage`` s at the end of the state's
messages (those after the last model or tool message: the invocation's input), each once.
Messages that were already in the state when an invocation of this middleware ended are
never sent, so a ``HumanMessage`` that a tool put into the state (a ``Command`` update) is
not taken for the user's. An agent invoked inside a tool call that aecl decided (a
sub-agent a tool runs on what it fetched: LangGraph hands it the thread's config) sends
none: its input is the tool's, not the user's. A failure to record them stops the
invocation (raises).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Mapping, Optional

from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage

from ..client import Client
from ..errors import Blocked, OutputWithheld
from ..guard import Guard, RunSource, failure_output, in_guarded_tool, resolve_run, running_tool

# The runs whose seen messages are remembered (oldest forgotten first).
_RUNS_REMEMBERED = 1024


class AeclMiddleware(AgentMiddleware):
    """Decides each tool call with aecl and records its output (the tool's name is the
    catalog action unless ``actions`` maps it); records the user's messages."""

    def __init__(
        self,
        client: Client,
        *,
        run: RunSource = None,
        actions: Optional[Mapping[str, str]] = None,
        wait_for_approval: bool = True,
        approval_timeout: float = 300.0,
        poll: float = 30.0,
        on_block: str = "message",
        report_user_messages: bool = True,
    ) -> None:
        super().__init__()
        if on_block not in ("message", "raise"):
            raise ValueError("aecl: `on_block` must be `message` or `raise`")
        self.guard = Guard(
            client,
            run=run,
            actions=actions,
            wait_for_approval=wait_for_approval,
            approval_timeout=approval_timeout,
            poll=poll,
        )
        self.on_block = on_block
        self.report_user_messages = report_user_messages
        # Per run: the ids of messages already sent or already in the state at the end of
        # an invocation (never the user's new words later).
        self._seen: "OrderedDict[str, set]" = OrderedDict()
        self._lock = threading.Lock()

    # User messages.

    def before_agent(self, state: Any, runtime: Any) -> None:
        run, new = self._new_user_messages(state)
        for message in new:
            self.guard.user_message(_text(message.content), run=run)
            self._remember(run, [message])
        return None

    async def abefore_agent(self, state: Any, runtime: Any) -> None:
        run, new = self._new_user_messages(state)
        for message in new:
            await self.guard.auser_message(_text(message.content), run=run)
            self._remember(run, [message])
        return None

    def after_agent(self, state: Any, runtime: Any) -> None:
        self._remember(self._run_of_invocation(), _messages(state))
        return None

    async def aafter_agent(self, state: Any, runtime: Any) -> None:
        self.after_agent(state, runtime)
        return None

    def _new_user_messages(self, state: Any) -> tuple:
        run = self._run_of_invocation()
        if not self.report_user_messages or in_guarded_tool():
            # Inside a tool call: this agent's input is what the tool gave it.
            return run, []
        messages = _messages(state)
        tail = []
        for message in reversed(messages):
            if not isinstance(message, HumanMessage):
                break
            tail.append(message)
        tail.reverse()
        with self._lock:
            seen = self._seen.get(run, set())
            new = [m for m in tail if m.id is None or m.id not in seen]
        return run, new

    def _remember(self, run: str, messages: list) -> None:
        with self._lock:
            seen = self._seen.setdefault(run, set())
            self._seen.move_to_end(run)
            seen.update(m.id for m in messages if m.id is not None)
            while len(self._seen) > _RUNS_REMEMBERED:
                self._seen.popitem(last=False)

    def _run_of_invocation(self) -> str:
        if self.guard.run is not None:
            return resolve_run(self.guard.client, self.guard.run)
        try:
            from langgraph.config import get_config

            thread = (get_config().get("configurable") or {}).get("thread_id")
        except Exception:  # noqa: BLE001 - outside a graph run: the client's run.
            thread = None
        return str(thread) if thread else self.guard.client.run

    # Tool calls.

    def wrap_tool_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
        call = request.tool_call
        try:
            decision = self.guard.check(
                call["name"], call.get("args") or {}, run=self._run_of(request)
            )
        except Blocked as refused:
            return self._refused(call, refused)
        try:
            with running_tool():
                result = handler(request)
        except Exception as error:
            try:
                self.guard.report(decision, failure_output(error))
            except OutputWithheld as withheld:
                raise withheld from error
            raise
        try:
            self.guard.report(decision, _output_of(result))
        except OutputWithheld as withheld:
            return self._refused(call, withheld)
        return result

    async def awrap_tool_call(
        self, request: Any, handler: Callable[[Any], Awaitable[Any]]
    ) -> Any:
        call = request.tool_call
        try:
            decision = await self.guard.acheck(
                call["name"], call.get("args") or {}, run=self._run_of(request)
            )
        except Blocked as refused:
            return self._refused(call, refused)
        try:
            with running_tool():
                result = await handler(request)
        except Exception as error:
            try:
                await self.guard.areport(decision, failure_output(error))
            except OutputWithheld as withheld:
                raise withheld from error
            raise
        try:
            await self.guard.areport(decision, _output_of(result))
        except OutputWithheld as withheld:
            return self._refused(call, withheld)
        return result

    def _run_of(self, request: Any) -> Optional[str]:
        if self.guard.run is not None:
            return None  # Guard.check resolves the configured run.
        config = getattr(getattr(request, "runtime", None), "config", None) or {}
        thread = (config.get("configurable") or {}).get("thread_id")
        if not thread:
            return self._run_of_invocation()
        return str(thread)

    def _refused(self, call: Mapping[str, Any], refused: Blocked) -> ToolMessage:
        if self.on_block == "raise":
            raise refused
        what = "Output withheld" if isinstance(refused, OutputWithheld) else "Not run"
        return ToolMessage(
            content=f"{what}: {refused}",
            tool_call_id=call.get("id") or "",
            name=call.get("name"),
            status="error",
        )


def _messages(state: Any) -> list:
    messages = state.get("messages") if isinstance(state, Mapping) else None
    return [m for m in messages or [] if isinstance(m, BaseMessage)]


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content blocks."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, Mapping) and isinstance(block.get("text"), str):
            parts.append(block["text"])
    return "\n".join(parts)


def _output_of(result: Any) -> Any:
    """What the model reads of a tool's result: a ``ToolMessage``'s content, or the
    messages a ``Command`` adds (else the whole update, as text)."""
    if isinstance(result, ToolMessage):
        return result.content
    update = getattr(result, "update", None)
    if isinstance(update, Mapping) and isinstance(update.get("messages"), list):
        return [
            m.content if isinstance(m, BaseMessage) else str(m) for m in update["messages"]
        ]
    return str(update if update is not None else result)
