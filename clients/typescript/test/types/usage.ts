// Compiled (not run) by test/types.test.mjs against the built declarations and the
// frameworks' own types: the README's examples must type-check for a TypeScript user.
import { tool as aiTool, type ToolSet } from "ai";
import { tool as lcTool } from "@langchain/core/tools";
import { Agent, tool as oaTool, type MCPServer } from "@openai/agents-core";
import { z } from "zod";

import { ApprovalTimeout, Blocked, Client, Guard, guard, type Decision } from "@aecl/client";
import { guardTools as aiGuardTools } from "@aecl/client/ai-sdk";
import { AeclCallbackHandler, guardTools as lcGuardTools } from "@aecl/client/langchain";
import { guardAgentTools, guardMcpServers, userTurnsGuardrail } from "@aecl/client/openai-agents";

const client = new Client({ baseUrl: "http://127.0.0.1:8080", token: "t", timeoutMs: 5_000 });
const g = new Guard(client, { run: () => "r1", actions: { lookup: "lookup_order" }, pollMs: 1_000 });

const refund = guard(client, "refund_payment", async (args: { order_id: string; amount: number }) => args.amount * 2);
export const doubled: Promise<number> = refund({ order_id: "ORD-1", amount: 2 });
export const decision: Promise<Decision> = client.evaluate("lookup_order", { order_id: "ORD-1" });
export function why(error: unknown): string | undefined {
  if (error instanceof ApprovalTimeout) return error.approvalId;
  if (error instanceof Blocked) return error.decision?.decision;
  return undefined;
}

const aiTools = {
  lookup_order: aiTool({
    description: "Read one order.",
    inputSchema: z.object({ order_id: z.string() }),
    execute: async ({ order_id }) => ({ order_id }),
  }),
} satisfies ToolSet;
export const guardedAi: typeof aiTools = aiGuardTools(g, aiTools);
export const guardedAiAllowing: typeof aiTools = aiGuardTools(g, aiTools, { allowUnguarded: ["web_search"] });

const lookup = lcTool(async ({ order_id }: { order_id: string }) => order_id, {
  name: "lookup_order",
  description: "Read one order.",
  schema: z.object({ order_id: z.string() }),
});
export const guardedLc = lcGuardTools(g, [lookup]);
export const handler = new AeclCallbackHandler(g);

const oa = oaTool({
  name: "lookup_order",
  description: "Read one order.",
  parameters: z.object({ order_id: z.string() }),
  execute: async ({ order_id }) => order_id,
});
declare const docsServer: MCPServer;
export const agent = new Agent({
  name: "support",
  tools: guardAgentTools(g, [oa], { allowUnguarded: [] }),
  mcpServers: guardMcpServers(g, [docsServer]),
  inputGuardrails: [userTurnsGuardrail(g, { allowUnguarded: ["behind_aecl_mcp"] })],
});
