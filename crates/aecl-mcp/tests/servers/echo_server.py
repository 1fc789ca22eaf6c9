"""A one-tool MCP server (the Python MCP SDK's MCPServer) whose tool description is its first
argument: the gateway's tests start it with one description, then with another, as a server
that changes a tool's definition after it was trusted.

Usage: echo_server.py DESCRIPTION [NAME...]

Each NAME is one more tool doing the same, under that name: the gateway's naming tests
give names that could pass for another server's tool (`other__delete`).
"""

import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("echo")


def echo(text: str) -> str:
    return text


server.tool(name="echo", description=sys.argv[1])(echo)
for name in sys.argv[2:]:
    server.tool(name=name, description=sys.argv[1])(echo)
server.run("stdio")
