"""LangChain (>= 1.0) agent middleware: every tool call of a ``create_agent`` agent is
decided by aecl in ``wrap_tool_call`` before the tool runs.

    from langchain.agents import create_agent
    from aecl.adapters.langchain import AeclMiddleware

    agent = create_agent(model, tools=[lookup_order], middleware=[AeclMiddleware(client)])

A refused call does not run: by default the model gets an error ``ToolMessage`` with the
reason (so the agent can tell the user or try something else); ``on_block="raise"``
raises the :class:`aecl.Blocked` out of the agent instead. The run is, in order: the
``run`` given here, the LangGraph ``thread_id`` of the invocation, the client's run.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping, Optional

from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import ToolMessage

from ..client import Client
from ..errors import Blocked
from ..guard import Guard, RunSource


class AeclMiddleware(AgentMiddleware):
    """Decides each tool call with aecl (the tool's name is the catalog action unless
    ``actions`` maps it)."""

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

    def wrap_tool_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
        call = request.tool_call
        try:
            self.guard.check(call["name"], call.get("args") or {}, run=self._run_of(request))
        except Blocked as refused:
            return self._refused(call, refused)
        return handler(request)

    async def awrap_tool_call(
        self, request: Any, handler: Callable[[Any], Awaitable[Any]]
    ) -> Any:
        call = request.tool_call
        try:
            await self.guard.acheck(
                call["name"], call.get("args") or {}, run=self._run_of(request)
            )
        except Blocked as refused:
            return self._refused(call, refused)
        return await handler(request)

    def _run_of(self, request: Any) -> Optional[str]:
        if self.guard.run is not None:
            return None  # Guard.check resolves the configured run.
        config = getattr(getattr(request, "runtime", None), "config", None) or {}
        thread = (config.get("configurable") or {}).get("thread_id")
        return str(thread) if thread else None

    def _refused(self, call: Mapping[str, Any], refused: Blocked) -> ToolMessage:
        if self.on_block == "raise":
            raise refused
        return ToolMessage(
            content=f"Not run: {refused}",
            tool_call_id=call.get("id") or "",
            name=call.get("name"),
            status="error",
        )
