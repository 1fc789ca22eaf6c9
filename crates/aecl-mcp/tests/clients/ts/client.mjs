// Drives an MCP server with the TypeScript MCP SDK's client, for the gateway's end-to-end
// tests: the counterpart of ../python_client.py, with the same plan and the same report.
//
// Usage: node client.mjs MODE PLAN -- COMMAND ARGS...   (stdio: the client starts COMMAND)
//        node client.mjs MODE PLAN URL                  (streamable HTTP)
//
// MODE picks the SDK and the protocol revision:
//   `v1`          the v1 SDK (`@modelcontextprotocol/sdk`), which speaks only 2025-11-25
//                 (the `initialize` handshake);
//   `legacy`      the v2 SDK (`@modelcontextprotocol/client`) in its default mode, the
//                 2025-11-25 `initialize` handshake;
//   `2026-07-28`  the v2 SDK pinned to 2026-07-28 (`server/discover`, per-request `_meta`).
// PLAN is a JSON list of steps: `{"tool": NAME, "arguments": {...}}` calls a tool,
// `{"wait_for_file": PATH}` pauses until PATH exists (the test's signal that an approver
// has answered), `{"list": true}` lists the tools again (kept under `relisted`). Prints one
// JSON object: the negotiated protocol version, the listed tools (name and annotations)
// and each call's result (`isError`, text, structured content).
//
// Over HTTP, the environment variable AECL_MCP_TOKEN, when set, is sent as
// `Authorization: Bearer TOKEN` with every request (`aecl mcp --listen` wants an aecl token).
// At the end an HTTP session is terminated (`DELETE`), as a well-behaved client does: an
// answer other than 2xx (or 405) fails the script.

import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const [mode, planText, ...rest] = process.argv.slice(2);
const plan = JSON.parse(planText);
const info = { name: 'aecl-test-ts-client', version: '0.0.0' };
const token = process.env.AECL_MCP_TOKEN;
const httpOptions = token ? { requestInit: { headers: { Authorization: `Bearer ${token}` } } } : {};

async function waitForFile(path) {
    for (let i = 0; i < 600; i += 1) {
        if (existsSync(path)) return;
        await sleep(100);
    }
    throw new Error(`${path} did not appear`);
}

// The client connected over stdio or HTTP, and a function giving the negotiated version.
async function connect() {
    const stdio = rest[0] === '--';
    if (mode === 'v1') {
        const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
        const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
        const { StreamableHTTPClientTransport } = await import(
            '@modelcontextprotocol/sdk/client/streamableHttp.js'
        );
        const client = new Client(info);
        // The v1 client keeps the negotiated version to itself: read it off the answer
        // to `initialize`.
        let negotiated;
        const request = client.request.bind(client);
        client.request = async (req, schema, options) => {
            const result = await request(req, schema, options);
            if (req.method === 'initialize') negotiated = result.protocolVersion;
            return result;
        };
        const transport = stdio
            ? new StdioClientTransport({ command: rest[1], args: rest.slice(2) })
            : new StreamableHTTPClientTransport(new URL(rest[0]), httpOptions);
        await client.connect(transport);
        return { client, transport, protocol: () => negotiated };
    }
    const { Client, StreamableHTTPClientTransport } = await import('@modelcontextprotocol/client');
    const { StdioClientTransport } = await import('@modelcontextprotocol/client/stdio');
    let options = {};
    if (mode === '2026-07-28') {
        options = { versionNegotiation: { mode: { pin: '2026-07-28' } } };
    } else if (mode !== 'legacy') {
        throw new Error(`unknown mode \`${mode}\`: expected v1, legacy or 2026-07-28`);
    }
    const client = new Client(info, options);
    const transport = stdio
        ? new StdioClientTransport({ command: rest[1], args: rest.slice(2) })
        : new StreamableHTTPClientTransport(new URL(rest[0]), httpOptions);
    await client.connect(transport);
    return { client, transport, protocol: () => client.getNegotiatedProtocolVersion() };
}

const timeout = { timeout: 60_000 };
const { client, transport, protocol } = await connect();
const tools = (await client.listTools(undefined, timeout)).tools.map((tool) => ({
    name: tool.name,
    annotations: tool.annotations ?? null,
}));
const calls = [];
const relisted = [];
for (const step of plan) {
    if (step.list) {
        relisted.push((await client.listTools(undefined, timeout)).tools.map((t) => t.name));
    } else if (step.wait_for_file) {
        await waitForFile(step.wait_for_file);
    } else {
        const params = { name: step.tool, arguments: step.arguments ?? {} };
        const result =
            mode === 'v1'
                ? await client.callTool(params, undefined, timeout)
                : await client.callTool(params, timeout);
        calls.push({
            isError: Boolean(result.isError),
            text: (result.content ?? [])
                .filter((c) => c.type === 'text')
                .map((c) => c.text)
                .join('\n'),
            structured: result.structuredContent ?? null,
        });
    }
}
console.log(JSON.stringify({ protocol: protocol(), tools, calls, relisted }));
if (typeof transport.terminateSession === 'function') await transport.terminateSession();
await client.close();
