// The test harness: a real `aecl serve` (the binary of AECL_BIN, default
// target/debug/aecl) over the policy in test/policy, with keys from `aecl keys generate`
// and tokens from `aecl token issue`, as a user starts it. One server per test file (each
// file is its own process under `node --test`); `approveWhenAsked` plays the human who
// answers through the HTTP API with an approver token.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { Client } from "../dist/esm/index.js";

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, "..", "..", "..");
export const POLICY = join(HERE, "policy");
export const AGENT = "ts_agent";

export function aeclBin() {
  const path = process.env.AECL_BIN || join(REPO, "target", "debug", "aecl");
  if (!existsSync(path)) throw new Error(`no aecl binary at ${path}: run \`cargo build -p aecl-cli\` or set AECL_BIN`);
  return path;
}

function aecl(...args) {
  return execFileSync(aeclBin(), args, { encoding: "utf8", timeout: 60_000 }).trim();
}

/** Starts `aecl serve`; `stop()` ends it and removes its directory. */
export async function startServer(options = {}) {
  const policy = options.policy ?? POLICY;
  const dir = mkdtempSync(join(tmpdir(), "aecl-ts-"));
  for (const [name, out] of [["aecl.test/audit", "audit"], ["aecl.test/tokens", "tokens"]]) {
    aecl("keys", "generate", "--name", name, "--out", join(dir, out));
  }
  const tokenKey = join(dir, "tokens", "audit.key");
  const agentToken = aecl("token", "issue", "--key", tokenKey, "--agent", AGENT, "--policy", policy);
  const approverToken = aecl("token", "issue", "--key", tokenKey, "--approver", "alice");
  const child = spawn(
    aeclBin(),
    [
      "serve",
      "--policy", policy,
      "--db", join(dir, "aecl.db"),
      "--listen", "127.0.0.1:0",
      "--key", join(dir, "audit", "audit.key"),
      "--token-key", join(dir, "tokens", "audit.pub"),
    ],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, AECL_LOG: process.env.AECL_LOG ?? "error" } },
  );
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error("aecl serve did not start within 30 s")), 30_000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      done(line.trim());
    });
    child.once("exit", (code) => fail(new Error(`aecl serve exited with ${code}`)));
  });
  const prefix = "aecl serve: listening on ";
  if (!first.startsWith(prefix)) {
    child.kill("SIGKILL");
    throw new Error(`unexpected first line of aecl serve: ${first}`);
  }
  const url = first.slice(prefix.length);
  return {
    url,
    dir,
    agentToken,
    approverToken,
    agent: (options = {}) => new Client({ baseUrl: url, token: agentToken, ...options }),
    approver: () => new Client({ baseUrl: url, token: approverToken }),
    async stop() {
      lines.close();
      if (child.exitCode === null) {
        const exited = new Promise((done) => child.once("exit", done));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The pending request of `action` in `run`, as an approver lists it (waits up to 30 s). */
export async function pendingFor(server, action, run, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const response = await fetch(`${server.url}/v1/approvals`, {
      headers: { Authorization: `Bearer ${server.approverToken}` },
    });
    const items = await response.json();
    const item = items.find((i) => i.action === action && i.run === run);
    if (item) return item;
    await new Promise((done) => setTimeout(done, 50));
  }
  return undefined;
}

/**
 * A human answering the first request of `action` in `run` ("approve" or "reject") while
 * the test waits; resolves to the approval id.
 */
export async function answerWhenAsked(server, action, run, answer = "approve") {
  const item = await pendingFor(server, action, run);
  if (!item) throw new Error(`no pending request of ${action} in ${run}`);
  const human = server.approver();
  if (answer === "approve") await human.approve(item.id, "checked by the test");
  else await human.reject(item.id, "not this one");
  return item.id;
}

/** The events of a run as the server recorded them (`GET /v1/runs/{run}`). */
export async function runEvents(server, run) {
  const response = await fetch(`${server.url}/v1/runs/${encodeURIComponent(run)}`, {
    headers: { Authorization: `Bearer ${server.agentToken}` },
  });
  if (response.status === 404) return [];
  return (await response.json()).events;
}
