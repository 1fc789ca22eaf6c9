// The client's wire types against the committed JSON Schema of the trace format
// (docs/schema/trace-event.schema.json: a call is a `call` event without `type`, a run
// event a `user` or `result` event without `run`) and the server's OpenAPI document (the
// approval, whose schema is aecl-protocol's), so that a field renamed on the server fails
// here.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { Client } from "../dist/esm/index.js";
import { REPO, startServer } from "./harness.mjs";

const schema = JSON.parse(readFileSync(join(REPO, "docs", "schema", "trace-event.schema.json"), "utf8"));
const variant = (type) => schema.oneOf.find((v) => v.properties?.type?.const === type);

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

/** The bodies the client sends, caught on the way out. */
function capturing() {
  const sent = [];
  const fake = async (url, init) => {
    sent.push({ path: new URL(url).pathname, body: init.body ? JSON.parse(init.body) : undefined });
    return new Response("{}", { status: 200, headers: { "content-type": "application/json" } });
  };
  return { sent, client: new Client({ baseUrl: "http://127.0.0.1:1", token: "t", fetch: fake }) };
}

function fits(body, event, omitted) {
  const properties = Object.keys(event.properties);
  for (const key of Object.keys(body)) assert.ok(properties.includes(key), `\`${key}\` is not in the schema`);
  for (const key of event.required) {
    if (key === "type" && omitted === "type") continue;
    if (key === omitted) continue;
    assert.ok(key in body, `required \`${key}\` is missing`);
  }
}

test("a call body is a trace call event without `type`", async () => {
  const { sent, client } = capturing();
  await client
    .evaluate("lookup_order", { order_id: "ORD-1" }, { nonce: "n1", scope: { tenant: "t1" }, provenance: { order_id: "user" } })
    .catch(() => undefined);
  const [{ body }] = sent;
  fits(body, variant("call"), "type");
  assert.equal("type" in body, false);
  // Every optional field the client can send is one the schema knows.
  for (const key of ["nonce", "scope", "provenance"]) assert.ok(key in body);
});

test("run events are trace user and result events without `run`", async () => {
  const { sent, client } = capturing();
  await client.reportUserMessage("r1", "hello").catch(() => undefined);
  await client.reportResult("r1", "c1", { any: ["json"] }).catch(() => undefined);
  assert.equal(sent[0].path, "/v1/runs/r1/events");
  fits({ run: "r1", ...sent[0].body }, variant("user"));
  fits({ run: "r1", ...sent[1].body }, variant("result"));
  assert.deepEqual(sent[1].body, { type: "result", id: "c1", output: { any: ["json"] } });
});

test("the approval fields the client reads are the OpenAPI document's Approval", async () => {
  const doc = await (await fetch(`${server.url}/openapi.json`)).json();
  const view = doc.components.schemas.Approval;
  const read = ["id", "status", "run", "call_id", "agent", "action", "call_digest", "policy_revision", "requested_ms", "expires_ms"];
  for (const key of read) assert.ok(view.required.includes(key), `Approval does not require \`${key}\``);
  for (const key of ["decided_by", "reason", "context"]) assert.ok(key in view.properties, `no \`${key}\` in Approval`);
  assert.equal(view.properties.status.$ref, "#/components/schemas/ApprovalStatus");
  assert.deepEqual(new Set(doc.components.schemas.ApprovalStatus.enum), new Set(["pending", "approved", "rejected", "expired"]));
  assert.ok(doc.paths["/v1/evaluate"] && doc.paths["/v1/execute"] && doc.paths["/v1/approvals/{id}"]);
});

test("a real decision answer carries every field the client reads", async () => {
  const client = server.agent();
  const decision = await client.evaluate("lookup_order", { order_id: "ORD-1" });
  for (const key of ["id", "run", "action", "decision", "mode", "reasons", "risk", "policy_revision"]) {
    assert.ok(key in decision.raw, `no \`${key}\` in the answer`);
  }
  assert.equal(typeof decision.raw.risk.score, "number");
});
