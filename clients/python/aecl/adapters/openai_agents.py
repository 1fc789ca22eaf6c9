"""OpenAI Agents SDK: a tool input guardrail that lets a function tool run only when aecl
allows the call.

    from agents import Agent, function_tool
    from aecl.adapters.openai_agents import aecl_guardrail

    decides = aecl_guardrail(client)

    @function_tool(tool_input_guardrails=[decides])
    def lookup_order(order_id: str) -> str: ...

    # or, for tools defined elsewhere:
    guard_tools([lookup_order, refund_payment], decides)

A refused call does not run: by default the model gets the reason instead of the tool's
output (``reject_content``); ``on_block="raise"`` makes the run fail with the SDK's
``ToolInputGuardrailTripwireTriggered`` (the aecl reason in ``output.output_info``).
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Optional

from agents import FunctionTool
from agents.tool_guardrails import (
    ToolGuardrailFunctionOutput,
    ToolInputGuardrail,
    ToolInputGuardrailData,
)

from ..client import Client
from ..errors import Blocked
from ..guard import Guard, RunSource


def aecl_guardrail(
    client: Client,
    *,
    run: RunSource = None,
    actions: Optional[Mapping[str, str]] = None,
    wait_for_approval: bool = True,
    approval_timeout: float = 300.0,
    poll: float = 30.0,
    on_block: str = "reject",
) -> ToolInputGuardrail[Any]:
    """A ``ToolInputGuardrail`` deciding each call of the tools it is attached to (the
    tool's name is the catalog action unless ``actions`` maps it)."""
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

    def refuse(message: str, info: Mapping[str, Any]) -> ToolGuardrailFunctionOutput:
        if on_block == "raise":
            return ToolGuardrailFunctionOutput.raise_exception(output_info={**info, "reason": message})
        return ToolGuardrailFunctionOutput.reject_content(f"Not run: {message}", output_info=info)

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
        return ToolGuardrailFunctionOutput.allow(
            output_info={"decision": decision.decision, "approval_id": decision.approval_id}
        )

    return ToolInputGuardrail(guardrail_function=aecl_decides, name="aecl")


def guard_tools(tools: Iterable[Any], guardrail: ToolInputGuardrail[Any]) -> list:
    """Adds ``guardrail`` to every function tool of ``tools`` (returned as a list). Tools
    that take no input guardrails (hosted tools) are refused, so none is left unguarded
    by mistake."""
    out = []
    for tool in tools:
        if not isinstance(tool, FunctionTool):
            raise TypeError(f"aecl: `{getattr(tool, 'name', tool)}` is not a function tool")
        tool.tool_input_guardrails = [*(tool.tool_input_guardrails or []), guardrail]
        out.append(tool)
    return out
