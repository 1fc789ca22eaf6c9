"""OpenAI Agents SDK: tool guardrails that let a function tool run only when aecl allows
the call and record its output with aecl after it ran, and run hooks that record the
user's input.

    from agents import Agent, Runner, function_tool
    from aecl.adapters.openai_agents import aecl_guardrail, guard_tools

    decides = aecl_guardrail(client)
    agent = Agent(name="orders", tools=guard_tools([lookup_order, refund_payment], decides))
    await Runner.run(agent, "refund ORD-7", hooks=decides.hooks)

    # or, per tool: both guardrails, or the output is never recorded (and withheld):
    @function_tool(tool_input_guardrails=[decides], tool_output_guardrails=[decides.output])
    def lookup_order(order_id: str) -> str: ...

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

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from agents import FunctionTool, RunHooks
from agents.tool_guardrails import (
    ToolGuardrailFunctionOutput,
    ToolInputGuardrail,
    ToolOutputGuardrail,
    ToolOutputGuardrailData,
    ToolInputGuardrailData,
)

from ..client import Client, Decision
from ..errors import Blocked, OutputWithheld
from ..guard import Guard, RunSource

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
    """Sends the user's input items at each run's first model call."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self._started: "OrderedDict[int, Any]" = OrderedDict()
        self._lock = threading.Lock()

    async def on_llm_start(self, context, agent, system_prompt, input_items) -> None:  # noqa: ANN001
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
) -> AeclGuardrail:
    """A ``ToolInputGuardrail`` deciding each call of the tools it is attached to (the
    tool's name is the catalog action unless ``actions`` maps it), with ``.output`` (the
    ``ToolOutputGuardrail`` recording their outputs) and ``.hooks`` (the ``RunHooks``
    recording the user's input)."""
    if on_block not in ("reject", "raise"):
        raise ValueError("aecl: `on_block` must be `reject` or `raise`")
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
        hooks=AeclRunHooks(guard),
        guard=guard,
    )


def guard_tools(tools: Iterable[Any], guardrail: ToolInputGuardrail[Any]) -> list:
    """Adds ``guardrail`` (and, for an :func:`aecl_guardrail`, its output guardrail) to
    every function tool of ``tools`` (returned as a list). Tools that take no guardrails
    (hosted tools) are refused, so none is left unguarded by mistake."""
    out = []
    for tool in tools:
        if not isinstance(tool, FunctionTool):
            raise TypeError(f"aecl: `{getattr(tool, 'name', tool)}` is not a function tool")
        tool.tool_input_guardrails = [*(tool.tool_input_guardrails or []), guardrail]
        output = getattr(guardrail, "output", None)
        if output is not None:
            tool.tool_output_guardrails = [*(tool.tool_output_guardrails or []), output]
        out.append(tool)
    return out
