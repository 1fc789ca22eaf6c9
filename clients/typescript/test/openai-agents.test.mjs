// The OpenAI Agents SDK adapter driven through the SDK's real runner (`run(agent, input)`:
// model turn, tool guardrails, tool, next turn) with a custom `Model` that returns scripted
// tool calls: no network, no LLM.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Agent, InputGuardrailTripwireTriggered, Runner, Usage, tool } from "@openai/agents-core";
import { z } from "zod";

import { Client, Guard } from "../dist/esm/index.js";
import { guardAgentTools, userTurnsGuardrail } from "../dist/esm/adapters/openai-agents.js";
import { answerWhenAsked, runEvents, startServer } from "./harness.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

/** A model that answers each turn with the next scripted output items, and keeps its inputs. */
class ScriptedModel {
  constructor(turns) {
    this.turns = turns;
    this.inputs = [];
  }
  async getResponse(request) {
    this.inputs.push(request.input);
    const output = this.turns[this.inputs.length - 1] ?? [
      { type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text: "done" }] },
    ];
    return { usage: new Usage(), output, responseId: `resp-${this.inputs.length}` };
  }
  // eslint-disable-next-line require-yield
  async *getStreamedResponse() {
    throw new Error("the tests do not stream");
  }
}

const call = (callId, name, args) => ({
  type: "function_call",
  callId,
  name,
  arguments: JSON.stringify(args),
  status: "completed",
});

/** The tool outputs the model was shown in its last input, by call id. */
function shown(input) {
  const out = {};
  for (const item of Array.isArray(input) ? input : []) {
    if (item.type === "function_call_result") {
      const o = item.output;
      out[item.callId] = typeof o === "string" ? o : o?.text ?? JSON.stringify(o);
    }
  }
  return out;
}

function tools(ran) {
  return [
    tool({
      name: "lookup_order",
      description: "Read one order.",
      parameters: z.object({ order_id: z.string() }),
      execute: async ({ order_id }) => {
        ran.push(["lookup_order", order_id]);
        return `order ${order_id}: shipped`;
      },
    }),
    tool({
      name: "delete_customer",
      description: "Delete a customer.",
      parameters: z.object({ customer_id: z.string() }),
      execute: async ({ customer_id }) => {
        ran.push(["delete_customer", customer_id]);
        return "deleted";
      },
    }),
    tool({
      name: "refund_payment",
      description: "Refund an order.",
      parameters: z.object({ order_id: z.string(), amount: z.number() }),
      execute: async ({ order_id }) => {
        ran.push(["refund_payment", order_id]);
        return "refunded";
      },
    }),
  ];
}

function agentOf(guard, model, ran) {
  return new Agent({
    name: "support",
    instructions: "Help with orders.",
    model,
    tools: guardAgentTools(guard, tools(ran)),
    inputGuardrails: [userTurnsGuardrail(guard)],
  });
}

const runner = new Runner({ tracingDisabled: true });

test("an allowed tool runs, a blocked one does not and the model sees why", async () => {
  const client = server.agent();
  const guard = new Guard(client);
  const ran = [];
  const model = new ScriptedModel([
    [call("c1", "lookup_order", { order_id: "ORD-1" }), call("c2", "delete_customer", { customer_id: "C-1" })],
  ]);
  const result = await runner.run(agentOf(guard, model, ran), "Check ORD-1 and delete customer C-1");
  assert.equal(result.finalOutput, "done");
  assert.deepEqual(ran, [["lookup_order", "ORD-1"]]);
  const outputs = shown(model.inputs[1]);
  assert.equal(outputs.c1, "order ORD-1: shipped");
  assert.match(outputs.c2, /^Not run: aecl: `delete_customer` block: manifest\.blocked_actions/);

  const events = await runEvents(server, client.run);
  assert.deepEqual(events.filter((e) => e.type === "user").map((e) => e.text), ["Check ORD-1 and delete customer C-1"]);
  assert.deepEqual(events.filter((e) => e.type === "result").map((e) => e.output), ["order ORD-1: shipped"]);
});

test("a call needing approval waits for the human, then runs", async () => {
  const client = server.agent();
  const guard = new Guard(client, { pollMs: 5_000 });
  const ran = [];
  const model = new ScriptedModel([[call("c1", "refund_payment", { order_id: "ORD-2", amount: 20 })]]);
  const [result] = await Promise.all([
    runner.run(agentOf(guard, model, ran), "Refund ORD-2"),
    answerWhenAsked(server, "refund_payment", client.run),
  ]);
  assert.equal(result.finalOutput, "done");
  assert.deepEqual(ran, [["refund_payment", "ORD-2"]]);
  assert.equal(shown(model.inputs[1]).c1, "refunded");
});

test("a rejected approval reaches the model as the reason, and nothing runs", async () => {
  const client = server.agent();
  const guard = new Guard(client, { pollMs: 5_000 });
  const ran = [];
  const model = new ScriptedModel([[call("c1", "refund_payment", { order_id: "ORD-3", amount: 20 })]]);
  await Promise.all([
    runner.run(agentOf(guard, model, ran), "Refund ORD-3"),
    answerWhenAsked(server, "refund_payment", client.run, "reject"),
  ]);
  assert.deepEqual(ran, []);
  assert.match(shown(model.inputs[1]).c1, /^Not run: aecl: approval `.*` for `refund_payment` was rejected by alice/);
});

test("the server down stops the run before the model: the user's words cannot be recorded", async () => {
  const client = new Client({ baseUrl: "http://127.0.0.1:9", token: server.agentToken, timeoutMs: 2_000 });
  const guard = new Guard(client);
  const ran = [];
  const model = new ScriptedModel([[call("c1", "lookup_order", { order_id: "ORD-1" })]]);
  await assert.rejects(runner.run(agentOf(guard, model, ran), "Check ORD-1"), InputGuardrailTripwireTriggered);
  assert.deepEqual(ran, []);
  assert.equal(model.inputs.length, 0);
});
