// The built declarations work for a TypeScript user: test/types/usage.ts (the README's
// examples, against the frameworks' own types) must compile with `strict`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), "..");

test("the declarations type-check against the frameworks' types", () => {
  const tsc = join(PACKAGE, "node_modules", "typescript", "bin", "tsc");
  const out = spawnSync(process.execPath, [tsc, "-p", join(PACKAGE, "test", "types", "tsconfig.json")], {
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(out.status, 0, `${out.stdout}${out.stderr}`);
});
