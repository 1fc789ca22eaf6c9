"""AutoGen (autogen-core / autogen-agentchat 0.7): a tool wrapper that lets a tool run
only when aecl allows the call.

    from autogen_agentchat.agents import AssistantAgent
    from autogen_core.tools import FunctionTool
    from aecl.adapters.autogen import guard_tools

    tools = guard_tools(client, [FunctionTool(lookup_order, description="Read one order.")])
    agent = AssistantAgent("clerk", model_client=model_client, tools=tools)

The wrapper has the wrapped tool's name, description and schema, so the model sees the
same tool. A refused call raises :class:`aecl.Blocked` from the tool; the agent's
workbench turns it into an error result carrying the reason, and the tool does not run.

A wrapper rather than an autogen-core intervention handler: ``AssistantAgent`` runs its
tools in-process, without a message through the runtime that a handler could stop.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from autogen_core import CancellationToken
from autogen_core.tools import BaseTool
from pydantic import BaseModel

from ..client import Client
from ..guard import Guard, RunSource


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

    async def run(self, args: BaseModel, cancellation_token: CancellationToken) -> Any:
        await self._guard.acheck(self.name, args.model_dump(mode="json"))
        return await self._inner.run(args, cancellation_token)

    async def run_json(
        self,
        args: Mapping[str, Any],
        cancellation_token: CancellationToken,
        call_id: Optional[str] = None,
    ) -> Any:
        # The arguments as the model gave them: what aecl decides is what the tool gets.
        await self._guard.acheck(self.name, dict(args))
        return await self._inner.run_json(args, cancellation_token, call_id=call_id)

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
