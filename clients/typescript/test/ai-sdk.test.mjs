// The Vercel AI SDK adapter driven through `generateText`'s real tool loop with a scripted
// model (`MockLanguageModelV3` from `ai/test`): no network, no LLM.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { generateText, stepCountIs, tool } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { z } from "zod";

import { Client, Guard } from "../dist/esm/index.js";
import { guardTools } from "../dist/esm/adapters/ai-sdk.js";
import { answerWhenAsked, runEvents, startServer } from "./harness.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

const usage = {
  inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 1, text: 1, reasoning: 0 },
};

/** A model that answers each step with the next scripted content, and keeps what it saw. */
function scripted(steps) {
  const prompts = [];
  const model = new MockLanguageModelV3({
    doGenerate: async (options) => {
      prompts.push(options.prompt);
      const content = steps[prompts.length - 1] ?? [{ type: "text", text: "done" }];
      const calls = content.some((c) => c.type === "tool-call");
      return {
        content,
        finishReason: { unified: calls ? "tool-calls" : "stop", raw: undefined },
        usage,
        warnings: [],
      };
    },
  });
  return { model, prompts };
}

const call = (id, toolName, input) => ({ type: "tool-call", toolCallId: id, toolName, input: JSON.stringify(input) });

/** The tool results the model was shown in its last prompt, by tool call id. */
function toolResults(prompt) {
  const out = {};
  for (const message of prompt) {
    if (message.role !== "tool") continue;
    for (const part of message.content) if (part.type === "tool-result") out[part.toolCallId] = part.output;
  }
  return out;
}

function tools(ran) {
  return {
    lookup_order: tool({
      description: "Read one order.",
      inputSchema: z.object({ order_id: z.string() }),
      execute: async ({ order_id }) => {
        ran.push(["lookup_order", order_id]);
        return { order_id, status: "shipped" };
      },
    }),
    delete_customer: tool({
      description: "Delete a customer.",
      inputSchema: z.object({ customer_id: z.string() }),
      execute: async ({ customer_id }) => {
        ran.push(["delete_customer", customer_id]);
        return "deleted";
      },
    }),
    refund_payment: tool({
      description: "Refund an order.",
      inputSchema: z.object({ order_id: z.string(), amount: z.number() }),
      execute: async ({ order_id }) => {
        ran.push(["refund_payment", order_id]);
        return "refunded";
      },
    }),
  };
}

test("an allowed tool runs, a blocked one does not and the model sees why", async () => {
  const client = server.agent();
  const guard = new Guard(client);
  const ran = [];
  const { model, prompts } = scripted([
    [call("t1", "lookup_order", { order_id: "ORD-1" }), call("t2", "delete_customer", { customer_id: "C-1" })],
  ]);
  const result = await generateText({
    model,
    tools: guardTools(guard, tools(ran)),
    prompt: "Check order ORD-1 and delete customer C-1",
    stopWhen: stepCountIs(3),
  });
  assert.equal(result.text, "done");
  assert.deepEqual(ran, [["lookup_order", "ORD-1"]]);
  const shown = toolResults(prompts[1]);
  assert.deepEqual(shown.t1, { type: "json", value: { order_id: "ORD-1", status: "shipped" } });
  assert.equal(shown.t2.type, "error-text");
  assert.match(shown.t2.value, /delete_customer` block: manifest\.blocked_actions/);

  // The user's words and the output that ran are in the run's history, once each.
  const events = await runEvents(server, client.run);
  assert.deepEqual(
    events.filter((e) => e.type === "user").map((e) => e.text),
    ["Check order ORD-1 and delete customer C-1"],
  );
  assert.deepEqual(events.filter((e) => e.type === "result").map((e) => e.output), [{ order_id: "ORD-1", status: "shipped" }]);
});

test("a call needing approval waits for the human, then runs", async () => {
  const client = server.agent();
  const guard = new Guard(client, { pollMs: 5_000 });
  const ran = [];
  const { model, prompts } = scripted([[call("t1", "refund_payment", { order_id: "ORD-2", amount: 20 })]]);
  const [result] = await Promise.all([
    generateText({ model, tools: guardTools(guard, tools(ran)), prompt: "Refund ORD-2", stopWhen: stepCountIs(3) }),
    answerWhenAsked(server, "refund_payment", client.run),
  ]);
  assert.equal(result.text, "done");
  assert.deepEqual(ran, [["refund_payment", "ORD-2"]]);
  assert.deepEqual(toolResults(prompts[1]).t1, { type: "text", value: "refunded" });
});

test("a pending call returns to the model as a tool error when not waiting", async () => {
  const client = server.agent();
  const guard = new Guard(client, { waitForApproval: false });
  const ran = [];
  const { model, prompts } = scripted([[call("t1", "refund_payment", { order_id: "ORD-3", amount: 20 })]]);
  await generateText({ model, tools: guardTools(guard, tools(ran)), prompt: "Refund ORD-3", stopWhen: stepCountIs(3) });
  assert.deepEqual(ran, []);
  const shown = toolResults(prompts[1]).t1;
  assert.equal(shown.type, "error-text");
  assert.match(shown.value, /require_approval: manifest\.context_rules/);
});

test("an output aecl could not record is withheld from the model", async () => {
  // The server refuses nothing here: the connection fails for result events only.
  const failing = (url, init) =>
    init?.body?.includes('"type":"result"') ? Promise.reject(new Error("connection reset")) : fetch(url, init);
  const client = new Client({ baseUrl: server.url, token: server.agentToken, fetch: failing });
  const ran = [];
  const { model, prompts } = scripted([[call("t1", "lookup_order", { order_id: "ORD-4" })]]);
  await generateText({ model, tools: guardTools(new Guard(client), tools(ran)), prompt: "Check ORD-4", stopWhen: stepCountIs(3) });
  assert.deepEqual(ran, [["lookup_order", "ORD-4"]]);
  const shown = toolResults(prompts[1]).t1;
  assert.equal(shown.type, "error-text");
  assert.match(shown.value, /was not recorded, so it is withheld: .*connection reset/);
  assert.doesNotMatch(shown.value, /shipped/);
});

test("a streaming tool's final output is the one recorded and shown", async () => {
  const client = server.agent();
  const ran = [];
  const streaming = {
    lookup_order: tool({
      description: "Read one order, in steps.",
      inputSchema: z.object({ order_id: z.string() }),
      async *execute({ order_id }) {
        ran.push(order_id);
        yield { status: "looking" };
        yield { order_id, status: "shipped" };
      },
    }),
  };
  const { model, prompts } = scripted([[call("t1", "lookup_order", { order_id: "ORD-5" })]]);
  await generateText({ model, tools: guardTools(new Guard(client), streaming), prompt: "Check ORD-5", stopWhen: stepCountIs(3) });
  assert.deepEqual(ran, ["ORD-5"]);
  assert.deepEqual(toolResults(prompts[1]).t1, { type: "json", value: { order_id: "ORD-5", status: "shipped" } });
  const events = await runEvents(server, client.run);
  assert.deepEqual(events.filter((e) => e.type === "result").map((e) => e.output), [{ order_id: "ORD-5", status: "shipped" }]);
});

test("a tool without execute (provider-executed) is refused unless allowUnguarded names it", async () => {
  const guard = new Guard(server.agent());
  // A provider-defined tool: the model's provider runs it, and its result reaches the
  // model without passing through this process.
  const webFetch = { type: "provider", id: "anthropic.web_fetch_20250910", args: {}, inputSchema: z.object({ url: z.string() }) };
  const ran = [];
  assert.throws(() => guardTools(guard, { ...tools(ran), web_fetch: webFetch }), (error) => {
    assert.ok(error instanceof TypeError);
    assert.match(error.message, /`web_fetch` is a provider-executed tool/);
    assert.match(error.message, /allowUnguarded/);
    return true;
  });
  // A tool whose calls the application answers itself has no `execute` either.
  const ask = tool({ description: "Ask the user.", inputSchema: z.object({ question: z.string() }) });
  assert.throws(() => guardTools(guard, { ask }), /`ask` is a tool without `execute`/);

  const guarded = guardTools(guard, { ...tools(ran), web_fetch: webFetch }, { allowUnguarded: ["web_fetch"] });
  assert.equal(guarded.web_fetch, webFetch);
  assert.notEqual(guarded.lookup_order.execute, undefined);
});

test("guardTools leaves the tools it is given as they were", async () => {
  const ran = [];
  const shared = tools(ran);
  const execute = shared.lookup_order.execute;
  const guarded = guardTools(new Guard(server.agent()), shared);
  assert.equal(shared.lookup_order.execute, execute);
  assert.notEqual(guarded.lookup_order.execute, execute);
});
