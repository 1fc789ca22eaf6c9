"""LangChain: a ``create_agent`` agent whose fake chat model emits tool calls; the
``AeclMiddleware`` decides each one on its real tool-call path (``wrap_tool_call``)."""

from __future__ import annotations

import uuid

import pytest
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

import aecl
from aecl.adapters.langchain import AeclMiddleware


class ToolCallingFake(GenericFakeChatModel):
    """Replays the given messages; takes tools like a real chat model would."""

    def bind_tools(self, tools, **kwargs):
        return self


def agent_with(ran: list, calls: list, client, **options):
    @tool
    def lookup_order(order_id: str) -> str:
        """Read one order."""
        ran.append(("lookup_order", order_id))
        return f"order {order_id}: shipped"

    @tool
    def delete_customer(customer_id: str) -> str:
        """Delete a customer."""
        ran.append(("delete_customer", customer_id))
        return "deleted"

    @tool
    def refund_payment(order_id: str, amount: float) -> str:
        """Refund an order."""
        ran.append(("refund_payment", order_id))
        return "refunded"

    model = ToolCallingFake(
        messages=iter([AIMessage(content="", tool_calls=calls), AIMessage(content="done")])
    )
    return create_agent(
        model,
        tools=[lookup_order, delete_customer, refund_payment],
        middleware=[AeclMiddleware(client, **options)],
    )


def call(name: str, **args) -> dict:
    return {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:8]}", "type": "tool_call"}


def tool_messages(result) -> dict:
    return {m.name: m for m in result["messages"] if isinstance(m, ToolMessage)}


def test_allowed_calls_run_and_blocked_ones_do_not(client):
    ran = []
    agent = agent_with(
        ran,
        [call("lookup_order", order_id="ORD-11"), call("delete_customer", customer_id="C-1")],
        client,
    )
    run = f"lc-{uuid.uuid4().hex}"
    result = agent.invoke(
        {"messages": [HumanMessage("check order 11, then delete C-1")]},
        config={"configurable": {"thread_id": run}},
    )
    messages = tool_messages(result)
    assert messages["lookup_order"].content == "order ORD-11: shipped"
    assert messages["delete_customer"].status == "error"
    assert "manifest.blocked_actions" in messages["delete_customer"].content
    assert ran == [("lookup_order", "ORD-11")]
    assert result["messages"][-1].content == "done"


def test_an_approval_through_the_api_lets_the_tool_run(server, approver):
    client = server.agent()
    ran = []
    run = f"lc-{uuid.uuid4().hex}"
    agent = agent_with(ran, [call("refund_payment", order_id="ORD-12", amount=30)], client, poll=5)
    with approver("refund_payment", run) as human:
        result = agent.invoke(
            {"messages": [HumanMessage("refund order 12")]},
            config={"configurable": {"thread_id": run}},
        )
    assert human.error is None
    assert tool_messages(result)["refund_payment"].content == "refunded"
    assert ran == [("refund_payment", "ORD-12")]


def test_on_block_raise_stops_the_agent(client):
    ran = []
    agent = agent_with(
        ran, [call("delete_customer", customer_id="C-2")], client, on_block="raise"
    )
    with pytest.raises(aecl.Blocked):
        agent.invoke({"messages": [HumanMessage("delete C-2")]})
    assert ran == []


def test_an_unreachable_server_runs_no_tool(server):
    down = aecl.Client("http://127.0.0.1:9", server.agent_token, timeout=2)
    ran = []
    agent = agent_with(ran, [call("lookup_order", order_id="ORD-13")], down)
    result = agent.invoke({"messages": [HumanMessage("check order 13")]})
    message = tool_messages(result)["lookup_order"]
    assert message.status == "error" and "Not run" in message.content
    assert ran == []


def test_the_async_path_decides_too(client):
    import asyncio

    ran = []
    agent = agent_with(
        ran,
        [call("lookup_order", order_id="ORD-14"), call("delete_customer", customer_id="C-3")],
        client,
    )
    result = asyncio.run(agent.ainvoke({"messages": [HumanMessage("order 14, delete C-3")]}))
    messages = tool_messages(result)
    assert messages["lookup_order"].content == "order ORD-14: shipped"
    assert messages["delete_customer"].status == "error"
    assert ran == [("lookup_order", "ORD-14")]
