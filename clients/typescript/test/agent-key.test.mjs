// An agent's own key against a real `aecl serve`: the client signs a fresh short token for
// every request; a replayed token, another key and a revoked key are refused.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import * as aecl from "../dist/esm/index.js";
import { AGENT, POLICY, aeclBin, startServer } from "./harness.mjs";

const dir = mkdtempSync(join(tmpdir(), "aecl-ts-key-"));
let server;
let keyText;
let keyId;

function aeclRun(...args) {
  return execFileSync(aeclBin(), args, { encoding: "utf8", timeout: 60_000 }).trim();
}

before(async () => {
  const policy = join(dir, "policy");
  cpSync(POLICY, policy, { recursive: true });
  const out = aeclRun("keys", "generate", "--agent", AGENT, "--out", join(dir, "agent"));
  keyId = out.split("\n").find((l) => l.startsWith("key id: ")).slice("key id: ".length);
  const pub = readFileSync(join(dir, "agent", `${AGENT}.pub`), "utf8").trim();
  const manifest = join(policy, "agents", `${AGENT}.toml`);
  const text = readFileSync(manifest, "utf8").replace("allowed_actions", `public_keys = ["${pub}"]\nallowed_actions`);
  writeFileSync(manifest, text);
  keyText = readFileSync(join(dir, "agent", `${AGENT}.key`), "utf8");
  server = await startServer({ policy });
});

after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function call(id) {
  return { run: "r-key", id, action: "lookup_order", args: { order_id: "ORD-1" } };
}

async function post(token, body) {
  const response = await fetch(`${server.url}/v1/evaluate`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return response.status;
}

test("a client with an agent key mints a token per request", async () => {
  const client = new aecl.Client({ baseUrl: server.url, agentKey: keyText });
  assert.ok(!JSON.stringify(client).includes("PRIVATE"));
  assert.ok(!JSON.stringify(new aecl.AgentKey(keyText)).includes("PRIVATE"));
  for (let i = 0; i < 3; i++) {
    const decided = await client.evaluate("lookup_order", { order_id: `ORD-${i}` });
    assert.equal(decided.decision, "allow");
  }
  const token = await new aecl.AgentKey(keyText).token();
  assert.equal(await post(token, call("c1")), 200);
  assert.equal(await post(token, call("c2")), 401, "a replayed token is refused");

  aeclRun("keys", "generate", "--agent", AGENT, "--out", join(dir, "thief"));
  const thief = new aecl.Client({ baseUrl: server.url, agentKey: readFileSync(join(dir, "thief", `${AGENT}.key`), "utf8") });
  await assert.rejects(thief.evaluate("lookup_order", { order_id: "ORD-9" }), aecl.Refused);
});

test("a revoked agent key is refused at the next request", async () => {
  const client = new aecl.Client({ baseUrl: server.url, agentKey: keyText });
  assert.equal((await client.evaluate("lookup_order", { order_id: "ORD-1" })).decision, "allow");
  const admin = aeclRun("token", "issue", "--key", join(server.dir, "tokens", "audit.key"), "--admin", "root");
  const response = await fetch(`${server.url}/v1/tokens/revoke`, {
    method: "POST",
    headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
    body: JSON.stringify({ agent_key: keyId }),
  });
  assert.equal(response.status, 200);
  await assert.rejects(client.evaluate("lookup_order", { order_id: "ORD-2" }), (error) => {
    assert.ok(error instanceof aecl.Refused);
    assert.match(error.message, /revoked/);
    return true;
  });
});
