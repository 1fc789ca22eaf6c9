// `npm pack` makes a package that installs into a clean project and imports both as an ES
// module and through `require` (CommonJS), with its type declarations, and carries
// nothing but the build and the README.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const npm = (args, cwd) =>
  execFileSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, encoding: "utf8", timeout: 120_000 });
const node = (args, cwd) => execFileSync(process.execPath, args, { cwd, encoding: "utf8", timeout: 60_000 }).trim();

test("the packed package installs and imports through ESM and CommonJS", () => {
  const dir = mkdtempSync(join(tmpdir(), "aecl-ts-pack-"));
  try {
    const [packed] = JSON.parse(npm(["pack", "--json", "--pack-destination", dir], PACKAGE));
    const files = packed.files.map((f) => f.path);
    assert.ok(files.includes("dist/esm/index.js") && files.includes("dist/cjs/index.js"));
    assert.ok(files.includes("dist/esm/index.d.ts") && files.includes("dist/cjs/index.d.ts"));
    assert.ok(files.every((f) => f.startsWith("dist/") || ["package.json", "README.md"].includes(f)), files.join(", "));

    const project = join(dir, "project");
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true }));
    // No dependencies to fetch: the install works offline.
    npm(["install", "--offline", join(dir, packed.filename)], project);
    assert.deepEqual(readdirSync(join(project, "node_modules")).filter((f) => !f.startsWith(".")), ["@aecl"]);

    const esm = node(
      [
        "--input-type=module",
        "-e",
        `import { Client, Blocked, ApprovalTimeout, guard } from "@aecl/client";
         import { guardTools } from "@aecl/client/ai-sdk";
         import { guardAgentTools } from "@aecl/client/openai-agents";
         const c = new Client({ baseUrl: "http://127.0.0.1:1", token: "t" });
         console.log([typeof guard, typeof guardTools, typeof guardAgentTools, new ApprovalTimeout("x") instanceof Blocked, c.baseUrl].join(" "));`,
      ],
      project,
    );
    assert.equal(esm, "function function function true http://127.0.0.1:1");

    const cjs = node(
      [
        "-e",
        `const { Client, Blocked, Unavailable, guard } = require("@aecl/client");
         const { guardTools } = require("@aecl/client/ai-sdk");
         const c = new Client({ baseUrl: "http://127.0.0.1:1", token: "t" });
         c.evaluate("a", {}).catch((e) => console.log([typeof guard, typeof guardTools, e instanceof Unavailable, e instanceof Blocked].join(" ")));`,
      ],
      project,
    );
    assert.equal(cjs, "function function true true");
    assert.ok(existsSync(join(project, "node_modules", "@aecl", "client", "dist", "cjs", "package.json")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
