"""AutoGen (autogen-core / autogen-agentchat 0.7): a tool wrapper that lets a tool run
only when aecl allows the call and records its output with aecl after it ran, and a model
context that records the user's messages.

    from autogen_agentchat.agents import AssistantAgent
    from autogen_core.tools import FunctionTool
    from aecl.adapters.autogen import AeclChatContext, guard_tools

    tools = guard_tools(client, [FunctionTool(lookup_order, description="Read one order.")])
    agent = AssistantAgent("clerk", model_client=model_client, tools=tools,
                           model_context=AeclChatContext(client))

The wrapper has the wrapped tool's name, description and schema, so the model sees the
same tool. A refused call raises :class:`aecl.Blocked` from the tool; the agent's
workbench turns it into an error result carrying the reason, and the tool does not run.

A wrapper rather than an autogen-core intervention handler: ``AssistantAgent`` runs its
tools in-process, without a message through the runtime that a handler could stop.

Outputs: the tool's return value (JSON, a pydantic model's dump, else ``str()``; the text
of its exception when it raised) is sent as the call's result. When that fails, the
wrapper raises :class:`aecl.OutputWithheld` instead of returning it, and the agent reads
an error result without the output.

User messages: :class:`AeclChatContext` (an ``UnboundedChatCompletionContext``) sends each
``UserMessage`` added to the agent's model context whose ``source`` is one of
``user_sources`` (default ``("user",)``: the ``task`` given to ``run``/``run_stream`` of an
agent or team). Messages from other agents of a team (their source is their name) are not
the user's and are not sent, nor are any inside a guarded tool's run (an agent or team a
tool runs on what it read). Its run must be the tools' (both default to the client's).
A failure to record stops the agent's turn (raises).
"""

from __future__ import annotations

from typing import Any, Iterable, List, Mapping, Optional

from autogen_core import CancellationToken
from autogen_core.model_context import UnboundedChatCompletionContext
from autogen_core.models import LLMMessage, UserMessage
from autogen_core.tools import BaseTool
from pydantic import BaseModel

from ..client import Client
from ..guard import Guard, RunSource, failure_output, in_guarded_tool, running_tool


class GuardedTool(BaseTool[BaseModel, Any]):
    """``tool``, asking aecl before each run."""

    def __init__(self, tool: BaseTool[Any, Any], guard: Guard) -> None:
        super().__init__(
            tool.args_type(),
            tool.return_type(),
            tool.name,
            tool.description,
            strict=getattr(tool, "_strict", False),
        )
        self._inner = tool
        self._guard = guard

    @property
    def inner(self) -> BaseTool[Any, Any]:
        return self._inner

    @property
    def guard(self) -> Guard:
        return self._guard

    async def run(self, args: BaseModel, cancellation_token: CancellationToken) -> Any:
        decision = await self._guard.acheck(self.name, args.model_dump(mode="json"))
        try:
            with running_tool():
                value = await self._inner.run(args, cancellation_token)
        except Exception as error:
            await self._guard.areport(decision, failure_output(error))
            raise
        await self._guard.areport(decision, value)
        return value

    async def run_json(
        self,
        args: Mapping[str, Any],
        cancellation_token: CancellationToken,
        call_id: Optional[str] = None,
    ) -> Any:
        # The arguments as the model gave them: what aecl decides is what the tool gets.
        decision = await self._guard.acheck(self.name, dict(args))
        try:
            with running_tool():
                value = await self._inner.run_json(args, cancellation_token, call_id=call_id)
        except Exception as error:
            await self._guard.areport(decision, failure_output(error))
            raise
        await self._guard.areport(decision, value)
        return value

    def return_value_as_string(self, value: Any) -> str:
        return self._inner.return_value_as_string(value)


def guard_tools(
    client: Client,
    tools: Iterable[BaseTool[Any, Any]],
    *,
    run: RunSource = None,
    actions: Optional[Mapping[str, str]] = None,
    wait_for_approval: bool = True,
    approval_timeout: float = 300.0,
    poll: float = 30.0,
) -> list:
    """Each tool of ``tools`` wrapped by a :class:`GuardedTool` sharing one guard (the
    tool's name is the catalog action unless ``actions`` maps it)."""
    guard = Guard(
        client,
        run=run,
        actions=actions,
        wait_for_approval=wait_for_approval,
        approval_timeout=approval_timeout,
        poll=poll,
    )
    return [GuardedTool(tool, guard) for tool in tools]


class AeclChatContext(UnboundedChatCompletionContext):
    """An unbounded model context that records the user's messages with aecl as they are
    added (see the module doc)."""

    def __init__(
        self,
        client: Client,
        *,
        run: RunSource = None,
        user_sources: Iterable[str] = ("user",),
        initial_messages: Optional[List[LLMMessage]] = None,
    ) -> None:
        super().__init__(initial_messages=initial_messages)
        self._aecl = Guard(client, run=run)
        self._user_sources = frozenset(user_sources)

    async def add_message(self, message: LLMMessage) -> None:
        if (
            isinstance(message, UserMessage)
            and message.source in self._user_sources
            and not in_guarded_tool()
        ):
            text = _text(message.content)
            if text:
                await self._aecl.auser_message(text)
        await super().add_message(message)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(part for part in content or [] if isinstance(part, str))
