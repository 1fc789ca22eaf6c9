"""OpenAI Agents SDK: tool guardrails that let a function tool run only when aecl allows
the call and record its output with aecl after it ran, MCP servers whose tools aecl
decides the same way, and run hooks that record the user's input and refuse an agent with
tools aecl does not guard.

    from agents import Agent, Runner, function_tool
    from aecl.adapters.openai_agents import aecl_guardrail, guard_mcp_servers, guard_tools

    decides = aecl_guardrail(client)
    agent = Agent(name="orders", tools=guard_tools([lookup_order, refund_payment], decides),
                  mcp_servers=guard_mcp_servers([docs_server], decides))
    await Runner.run(agent, "refund ORD-7", hooks=decides.hooks)

    # or, per tool: both guardrails, or the output is never recorded:
    @function_tool(tool_input_guardrails=[decides], tool_output_guardrails=[decides.output])
    def lookup_order(order_id: str) -> str: ...

``guard_tools`` returns guarded copies and leaves the tools it is given as they were, so a
module-level list of tools can serve every client and run. Tools that take no guardrails
(hosted tools) are refused unless ``aecl_guardrail(allow_unguarded=[...])`` names them.

MCP servers: the SDK makes the tools of ``Agent(mcp_servers=...)`` anew for each run,
without guardrails, so ``guard_tools`` never sees them. :func:`guard_mcp_servers` wraps
each server (the servers given are not changed): every ``call_tool`` is decided first (the
MCP tool's own name is the catalog action unless ``actions`` maps it) and its result
recorded after, as for a function tool. A refusal is the tool's error result (``Not run:
...``); with ``on_block="raise"`` the ``aecl.Blocked`` is raised from ``call_tool``
instead, which the SDK hands to the server's ``failure_error_function`` (``None`` stops the
run). A server with ``aecl mcp`` in front of it is guarded by the gateway: name it in
``allow_unguarded``.

Unguarded tools: ``decides.hooks`` refuses to start an agent (raises the SDK's
``UserError`` naming them) with a function tool that lacks aecl's input or output
guardrail, any other tool, or an MCP server not wrapped by ``guard_mcp_servers``, unless
``allow_unguarded`` names it (a tool by its name, a server by its ``name``): their calls
would run undecided and what they return would never reach aecl, so data flow could not
see it.

A refused call does not run: by default the model gets the reason instead of the tool's
output (``reject_content``); ``on_block="raise"`` makes the run fail with the SDK's
``ToolInputGuardrailTripwireTriggered`` (the aecl reason in ``output.output_info``).

Outputs: the output guardrail sends the tool's output (or the SDK's text for a tool that
failed) as the result of the call the input guardrail decided. When that fails, or when
the input guardrail never decided the call, the model gets ``Output withheld: ...``
instead (``on_block="raise"``: ``ToolOutputGuardrailTripwireTriggered``).

User messages: ``decides.hooks`` (a ``RunHooks``) sends the ``role: "user"`` items of the
run's input at the run's first model call, once. Later model calls are not read: their
input also holds items the SDK made (handoff summaries can carry tool outputs under a
user role). A run started without these hooks records no user message
(:meth:`aecl.Guard.user_message` records one by hand). A failure to record stops the run.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

from agents import FunctionTool, RunHooks
from agents.exceptions import UserError
from agents.mcp import MCPServer
from agents.tool_guardrails import (
    ToolGuardrailFunctionOutput,
    ToolInputGuardrail,
    ToolOutputGuardrail,
    ToolOutputGuardrailData,
    ToolInputGuardrailData,
)
from mcp.types import CallToolResult

from ..client import Client, Decision
from ..errors import Blocked, OutputWithheld
from ..guard import Guard, RunSource, failure_output, in_guarded_tool

# The most calls allowed whose output has not come back yet, and the most runs whose
# first model call is remembered (oldest forgotten first: a call whose output guardrail
# never runs must not make the table grow without end).
_PENDING = 4096


@dataclass
class AeclGuardrail(ToolInputGuardrail[Any]):
    """The input guardrail, with its ``output`` guardrail and the run ``hooks`` that share
    its guard."""

    output: Optional[ToolOutputGuardrail[Any]] = None
    hooks: Optional[RunHooks[Any]] = None
    guard: Optional[Guard] = None
    on_block: str = "reject"
    # The tools (by name) and MCP servers (by `name`) that may run without aecl.
    allow_unguarded: frozenset = field(default_factory=frozenset)


class _Pending:
    """The decisions of allowed calls by tool context, until their output arrives."""

    def __init__(self) -> None:
        self._calls: "OrderedDict[int, tuple]" = OrderedDict()
        self._lock = threading.Lock()

    def put(self, context: Any, decision: Decision) -> None:
        with self._lock:
            # The context is held so that its id is not reused while it waits.
            self._calls[id(context)] = (context, decision)
            while len(self._calls) > _PENDING:
                self._calls.popitem(last=False)

    def take(self, context: Any) -> Optional[Decision]:
        with self._lock:
            entry = self._calls.pop(id(context), None)
        if entry is None or entry[0] is not context:
            return None
        return entry[1]


class AeclRunHooks(RunHooks[Any]):
    """Refuses to start an agent with tools aecl does not guard (see :func:`unguarded`),
    and sends the user's input items at each run's first model call."""

    def __init__(self, guard: Guard, *, allow_unguarded: Iterable[str] = ()) -> None:
        self.guard = guard
        self.allow_unguarded = frozenset(allow_unguarded)
        self._started: "OrderedDict[int, Any]" = OrderedDict()
        self._lock = threading.Lock()

    async def on_agent_start(self, context, agent) -> None:  # noqa: ANN001
        missing = unguarded(agent, self.allow_unguarded)
        if missing:
            raise UserError(
                f"aecl: agent `{agent.name}` has tools aecl does not guard: "
                f"{', '.join(missing)}. Their calls would run undecided and what they return "
                "would never reach aecl, so data flow could not see it. Guard function tools "
                "with guard_tools(...) and MCP servers with guard_mcp_servers(...) (or put "
                "`aecl mcp` in front of the server), or name those that may run unguarded "
                "in aecl_guardrail(allow_unguarded=[...])."
            )

    async def on_llm_start(self, context, agent, system_prompt, input_items) -> None:  # noqa: ANN001
        if in_guarded_tool():
            return  # A run inside a guarded tool: its input is the tool's, not the user's.
        with self._lock:
            if id(context) in self._started and self._started[id(context)] is context:
                return
            self._started[id(context)] = context
            while len(self._started) > _PENDING:
                self._started.popitem(last=False)
        for text in user_texts(input_items):
            await self.guard.auser_message(text)


def user_texts(items: Any) -> list:
    """The texts of the ``role: "user"`` messages of a run input (a string is one)."""
    if isinstance(items, str):
        return [items]
    texts = []
    for item in items or []:
        if not isinstance(item, Mapping) or item.get("role") != "user":
            continue
        if item.get("type", "message") != "message":
            continue
        content = item.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            parts = [
                part["text"]
                for part in content
                if isinstance(part, Mapping) and isinstance(part.get("text"), str)
            ]
            if parts:
                texts.append("\n".join(parts))
    return texts


def aecl_guardrail(
    client: Client,
    *,
    run: RunSource = None,
    actions: Optional[Mapping[str, str]] = None,
    wait_for_approval: bool = True,
    approval_timeout: float = 300.0,
    poll: float = 30.0,
    on_block: str = "reject",
    allow_unguarded: Iterable[str] = (),
) -> AeclGuardrail:
    """A ``ToolInputGuardrail`` deciding each call of the tools it is attached to (the
    tool's name is the catalog action unless ``actions`` maps it), with ``.output`` (the
    ``ToolOutputGuardrail`` recording their outputs) and ``.hooks`` (the ``RunHooks``
    refusing an agent with unguarded tools and recording the user's input).
    ``allow_unguarded`` names the tools and MCP servers that may run without aecl (e.g. a
    server behind ``aecl mcp``, or a hosted tool whose output data flow will not see)."""
    if on_block not in ("reject", "raise"):
        raise ValueError("aecl: `on_block` must be `reject` or `raise`")
    if isinstance(allow_unguarded, str):
        raise TypeError("aecl: `allow_unguarded` is a list of names, not a string")
    allowed = frozenset(allow_unguarded)
    guard = Guard(
        client,
        run=run,
        actions=actions,
        wait_for_approval=wait_for_approval,
        approval_timeout=approval_timeout,
        poll=poll,
    )
    pending = _Pending()

    def refuse(message: str, info: Mapping[str, Any], what: str = "Not run") -> ToolGuardrailFunctionOutput:
        if on_block == "raise":
            return ToolGuardrailFunctionOutput.raise_exception(output_info={**info, "reason": message})
        return ToolGuardrailFunctionOutput.reject_content(f"{what}: {message}", output_info=info)

    async def aecl_decides(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
        context = data.context
        try:
            args = json.loads(context.tool_arguments or "{}")
        except ValueError as e:
            return refuse(f"aecl: the tool arguments are not JSON ({e})", {"decision": "block"})
        if not isinstance(args, dict):
            return refuse("aecl: the tool arguments are not a JSON object", {"decision": "block"})
        try:
            decision = await guard.acheck(context.tool_name, args)
        except Blocked as refused:
            info = {
                "decision": refused.decision.decision if refused.decision else "block",
                "approval_id": getattr(refused, "approval_id", None),
            }
            return refuse(str(refused), info)
        pending.put(context, decision)
        return ToolGuardrailFunctionOutput.allow(
            output_info={"decision": decision.decision, "approval_id": decision.approval_id}
        )

    async def aecl_records(data: ToolOutputGuardrailData) -> ToolGuardrailFunctionOutput:
        decision = pending.take(data.context)
        if decision is None:
            return refuse(
                f"aecl: `{data.context.tool_name}` ran without an aecl decision",
                {"recorded": False},
                "Output withheld",
            )
        try:
            await guard.areport(decision, data.output)
        except OutputWithheld as withheld:
            return refuse(str(withheld), {"recorded": False, "call_id": decision.call_id}, "Output withheld")
        return ToolGuardrailFunctionOutput.allow(
            output_info={"recorded": True, "call_id": decision.call_id}
        )

    return AeclGuardrail(
        guardrail_function=aecl_decides,
        name="aecl",
        output=ToolOutputGuardrail(guardrail_function=aecl_records, name="aecl_output"),
        hooks=AeclRunHooks(guard, allow_unguarded=allowed),
        guard=guard,
        on_block=on_block,
        allow_unguarded=allowed,
    )


def guard_tools(tools: Iterable[Any], guardrail: ToolInputGuardrail[Any]) -> list:
    """Copies of the function tools of ``tools`` with ``guardrail`` (and, for an
    :func:`aecl_guardrail`, its output guardrail) added, as a list. The tools given are left
    as they were (a tool shared by several clients or runs never collects their
    guardrails). Tools that take no guardrails (hosted tools) are refused, so none is left
    unguarded by mistake, unless the guardrail's ``allow_unguarded`` names them: those are
    returned as they are."""
    allowed = getattr(guardrail, "allow_unguarded", frozenset())
    output = getattr(guardrail, "output", None)
    out = []
    for tool in tools:
        if not isinstance(tool, FunctionTool):
            name = _name_of(tool)
            if name in allowed:
                out.append(tool)
                continue
            raise TypeError(
                f"aecl: `{name}` is not a function tool: aecl can neither decide its calls nor "
                "see its output. Leave it out, or name it in "
                "aecl_guardrail(allow_unguarded=[...]) to run it unguarded."
            )
        guarded = copy.copy(tool)
        guarded.tool_input_guardrails = [*(tool.tool_input_guardrails or []), guardrail]
        if output is not None:
            guarded.tool_output_guardrails = [*(tool.tool_output_guardrails or []), output]
        out.append(guarded)
    return out


def guard_mcp_servers(servers: Iterable[MCPServer], guardrail: AeclGuardrail) -> list:
    """Each MCP server of ``servers`` wrapped (an :class:`AeclMCPServer`) so that aecl
    decides every call of its tools and records each result, with the guard of ``guardrail``
    (an :func:`aecl_guardrail`). The servers given are not changed; connecting and cleaning
    up a wrapper does it to its server."""
    if not isinstance(guardrail, AeclGuardrail) or guardrail.guard is None:
        raise TypeError("aecl: guard_mcp_servers needs the guardrail of aecl_guardrail()")
    out = []
    for server in servers:
        if not isinstance(server, MCPServer):
            raise TypeError(f"aecl: `{_name_of(server)}` is not an MCP server")
        out.append(AeclMCPServer(server, guardrail))
    return out


class AeclMCPServer(MCPServer):
    """An MCP server whose tool calls aecl decides before they reach ``server`` and whose
    results it records after (see :func:`guard_mcp_servers`). Everything else is the
    wrapped server's."""

    def __init__(self, server: MCPServer, guardrail: AeclGuardrail) -> None:
        # No MCPServer.__init__: its settings are read from the wrapped server.
        self._aecl_server = server
        self._aecl_guardrail = guardrail

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_aecl_"):
            raise AttributeError(name)
        return getattr(self._aecl_server, name)

    @property
    def server(self) -> MCPServer:
        return self._aecl_server

    @property
    def name(self) -> str:
        return self._aecl_server.name

    @property
    def cached_tools(self) -> Any:
        return self._aecl_server.cached_tools

    async def connect(self) -> None:
        await self._aecl_server.connect()

    async def cleanup(self) -> None:
        await self._aecl_server.cleanup()

    async def __aenter__(self) -> "AeclMCPServer":
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.cleanup()

    async def list_tools(self, run_context: Any = None, agent: Any = None) -> Any:
        return await self._aecl_server.list_tools(run_context, agent)

    async def list_prompts(self) -> Any:
        return await self._aecl_server.list_prompts()

    async def get_prompt(self, name: str, arguments: Optional[dict] = None) -> Any:
        return await self._aecl_server.get_prompt(name, arguments)

    async def list_resources(self, cursor: Optional[str] = None) -> Any:
        return await self._aecl_server.list_resources(cursor)

    async def list_resource_templates(self, cursor: Optional[str] = None) -> Any:
        return await self._aecl_server.list_resource_templates(cursor)

    async def read_resource(self, uri: str) -> Any:
        return await self._aecl_server.read_resource(uri)

    def _get_needs_approval_for_tool(self, *args: Any, **kwargs: Any) -> Any:
        return self._aecl_server._get_needs_approval_for_tool(*args, **kwargs)

    def _get_failure_error_function(self, *args: Any, **kwargs: Any) -> Any:
        return self._aecl_server._get_failure_error_function(*args, **kwargs)

    async def call_tool(
        self, tool_name: str, arguments: Optional[dict], meta: Optional[dict] = None
    ) -> CallToolResult:
        guard = self._aecl_guardrail.guard
        try:
            decision = await guard.acheck(tool_name, arguments or {})
        except Blocked as refused:
            return self._aecl_refused(refused, "Not run")
        try:
            if meta is None:
                result = await self._aecl_server.call_tool(tool_name, arguments)
            else:
                result = await self._aecl_server.call_tool(tool_name, arguments, meta=meta)
        except Exception as error:
            try:
                await guard.areport(decision, failure_output(error))
            except OutputWithheld as withheld:
                raise withheld from error
            raise
        try:
            await guard.areport(decision, _mcp_output(result))
        except OutputWithheld as withheld:
            return self._aecl_refused(withheld, "Output withheld")
        return result

    def _aecl_refused(self, refused: Blocked, what: str) -> CallToolResult:
        if self._aecl_guardrail.on_block == "raise":
            raise refused
        return CallToolResult.model_validate(
            {"content": [{"type": "text", "text": f"{what}: {refused}"}], "isError": True}
        )


def _mcp_output(result: Any) -> Any:
    """An MCP tool result as the JSON of the protocol (``content``, ``structuredContent``,
    ``isError``): what the model is shown is in it."""
    dump = getattr(result, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", by_alias=True, exclude_none=True)
        except Exception:  # noqa: BLE001 - not a pydantic model after all: the client's rule.
            pass
    return result


def unguarded(agent: Any, allow_unguarded: Iterable[str] = ()) -> list:
    """What of ``agent`` runs without aecl, as ``tool `name``` / ``MCP server `name```: a
    function tool without both of an :func:`aecl_guardrail`'s guardrails, any other tool,
    an MCP server not wrapped by :func:`guard_mcp_servers`; those ``allow_unguarded``
    names excepted."""
    allowed = frozenset(allow_unguarded)
    found = []
    for tool in getattr(agent, "tools", None) or []:
        name = _name_of(tool)
        if name in allowed or (isinstance(tool, FunctionTool) and _guarded(tool)):
            continue
        found.append(f"tool `{name}`")
    for server in getattr(agent, "mcp_servers", None) or []:
        name = _name_of(server)
        if name in allowed or isinstance(server, AeclMCPServer):
            continue
        found.append(f"MCP server `{name}`")
    return found


def _guarded(tool: FunctionTool) -> bool:
    outputs = tool.tool_output_guardrails or []
    return any(
        isinstance(guardrail, AeclGuardrail)
        and guardrail.output is not None
        and any(output is guardrail.output for output in outputs)
        for guardrail in tool.tool_input_guardrails or []
    )


def _name_of(thing: Any) -> str:
    try:
        name = getattr(thing, "name", None)
    except Exception:  # noqa: BLE001 - a name property that fails: the type's name.
        name = None
    return name if isinstance(name, str) and name else type(thing).__name__
