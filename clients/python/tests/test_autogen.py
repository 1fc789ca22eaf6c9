"""AutoGen: an ``AssistantAgent`` whose model client is autogen_ext's
``ReplayChatCompletionClient`` replaying function calls; the guarded tools decide each
call on the agent's own tool path (its workbench calling ``run_json``)."""

from __future__ import annotations

import asyncio
import json
import uuid

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.messages import ToolCallExecutionEvent
from autogen_core import FunctionCall
from autogen_core.models import CreateResult, ModelFamily, RequestUsage
from autogen_core.tools import FunctionTool
from autogen_ext.models.replay import ReplayChatCompletionClient

import aecl
from aecl.adapters.autogen import GuardedTool, guard_tools


def replaying(*calls) -> ReplayChatCompletionClient:
    result = CreateResult(
        finish_reason="function_calls",
        content=[
            FunctionCall(id=f"call_{i}", name=name, arguments=json.dumps(args))
            for i, (name, args) in enumerate(calls)
        ],
        usage=RequestUsage(prompt_tokens=0, completion_tokens=0),
        cached=False,
    )
    info = {
        "vision": False,
        "function_calling": True,
        "json_output": False,
        "family": ModelFamily.UNKNOWN,
        "structured_output": False,
    }
    return ReplayChatCompletionClient([result, "done"], model_info=info)


def tools(ran: list) -> list:
    def lookup_order(order_id: str) -> str:
        ran.append(("lookup_order", order_id))
        return f"order {order_id}: shipped"

    def delete_customer(customer_id: str) -> str:
        ran.append(("delete_customer", customer_id))
        return "deleted"

    async def refund_payment(order_id: str, amount: float) -> str:
        ran.append(("refund_payment", order_id))
        return "refunded"

    return [
        FunctionTool(lookup_order, description="Read one order."),
        FunctionTool(delete_customer, description="Delete a customer."),
        FunctionTool(refund_payment, description="Refund an order."),
    ]


def results(client, calls, ran, **options) -> dict:
    agent = AssistantAgent(
        "clerk", model_client=replaying(*calls), tools=guard_tools(client, tools(ran), **options)
    )
    outcome = asyncio.run(agent.run(task="handle the order"))
    executed = [m for m in outcome.messages if isinstance(m, ToolCallExecutionEvent)]
    names = {f"call_{i}": name for i, (name, _) in enumerate(calls)}
    return {names[r.call_id]: r for event in executed for r in event.content}


def test_allowed_calls_run_and_blocked_ones_do_not(client):
    ran = []
    out = results(
        client,
        [("lookup_order", {"order_id": "ORD-41"}), ("delete_customer", {"customer_id": "C-1"})],
        ran,
    )
    assert out["lookup_order"].content == "order ORD-41: shipped"
    assert not out["lookup_order"].is_error
    assert out["delete_customer"].is_error
    assert "manifest.blocked_actions" in out["delete_customer"].content
    assert ran == [("lookup_order", "ORD-41")]


def test_an_approval_through_the_api_lets_the_tool_run(server, approver):
    run = f"ag-{uuid.uuid4().hex}"
    client = server.agent(run=run)
    ran = []
    with approver("refund_payment", run) as human:
        out = results(client, [("refund_payment", {"order_id": "ORD-42", "amount": 12})], ran, poll=5)
    assert human.error is None
    assert out["refund_payment"].content == "refunded"
    assert ran == [("refund_payment", "ORD-42")]


def test_an_unreachable_server_runs_no_tool(server):
    down = aecl.Client("http://127.0.0.1:9", server.agent_token, timeout=2)
    ran = []
    out = results(down, [("lookup_order", {"order_id": "ORD-43"})], ran)
    assert out["lookup_order"].is_error and "aecl" in out["lookup_order"].content
    assert ran == []


def test_the_wrapper_shows_the_model_the_same_tool(client):
    inner = tools([])[0]
    wrapped = guard_tools(client, [inner])[0]
    assert isinstance(wrapped, GuardedTool) and wrapped.inner is inner
    assert wrapped.schema == inner.schema
