"""Drives an MCP server with the Python MCP SDK's client, for the gateway's end-to-end tests.

Usage: python_client.py MODE PLAN -- COMMAND ARGS...   (stdio: the client starts COMMAND)
       python_client.py MODE PLAN URL                  (streamable HTTP)

MODE is `legacy` (the 2025-11-25 `initialize` handshake) or `2026-07-28` (`server/discover`
and per-request `_meta`). PLAN is a JSON list of calls, each `{"tool": NAME, "arguments":
{...}}`, or `{"wait_for_file": PATH}` to pause until PATH exists (the test's signal that an
approver has answered), or `{"touch": PATH}` to create PATH (the client's signal to the test
that the steps before it have been answered), or `{"list": true}` to list the tools again
(kept under `relisted`). A call may carry `"elicit": {"action": ..., "content": {...}}`: the answer the
client gives to a server's elicitation during that call (without it, elicitation is
declined). Prints one JSON object: the negotiated protocol version, the listed tools (name and
annotations), each call's result (`isError`, text, structured content) and the messages of
the elicitations the client was asked (`elicited`).

Over HTTP, the environment variable `AECL_MCP_TOKEN`, when set, is sent as
`Authorization: Bearer TOKEN` with every request (`aecl mcp --listen` wants an aecl token).
Warnings the SDK logs (a failed session termination, for one) are printed to standard
error, which the tests read.
"""

import asyncio
import json
import os
import sys

from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import ElicitResult


async def wait_for_file(path: str) -> None:
    for _ in range(600):
        if os.path.exists(path):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{path} did not appear")


async def main() -> None:
    mode, plan = sys.argv[1], json.loads(sys.argv[2])
    rest = sys.argv[3:]
    if rest and rest[0] == "--":
        server = StdioServerParameters(command=rest[1], args=rest[2:])
    elif os.environ.get("AECL_MCP_TOKEN"):
        headers = {"Authorization": f"Bearer {os.environ['AECL_MCP_TOKEN']}"}
        server = streamable_http_client(rest[0], http_client=create_mcp_http_client(headers=headers))
    else:
        server = rest[0]
    answer, elicited = {}, []

    async def on_elicitation(context, params):
        elicited.append(params.message)
        if not answer:
            return ElicitResult(action="decline")
        return ElicitResult(action=answer["action"], content=answer.get("content"))

    async with Client(
        server, mode=mode, read_timeout_seconds=60, elicitation_callback=on_elicitation
    ) as client:
        tools = await client.list_tools()
        listed = [
            {
                "name": tool.name,
                "annotations": tool.annotations.model_dump(by_alias=True, exclude_none=True)
                if tool.annotations
                else None,
            }
            for tool in tools.tools
        ]
        calls, relisted = [], []
        for step in plan:
            if step.get("list"):
                relisted.append([tool.name for tool in (await client.list_tools()).tools])
                continue
            if "wait_for_file" in step:
                await wait_for_file(step["wait_for_file"])
                continue
            if "touch" in step:
                open(step["touch"], "a").close()
                continue
            answer.clear()
            answer.update(step.get("elicit") or {})
            result = await client.call_tool(step["tool"], step.get("arguments", {}))
            calls.append(
                {
                    "isError": bool(result.is_error),
                    "text": "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text"),
                    "structured": result.structured_content,
                }
            )
        print(json.dumps({"protocol": client.protocol_version, "tools": listed, "calls": calls, "relisted": relisted, "elicited": elicited}))


asyncio.run(main())
