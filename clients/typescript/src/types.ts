/**
 * The wire types of `aecl serve` and their readers.
 *
 * A call is a trace `call` event without `type` (docs/schema/trace-event.schema.json); a
 * run event is a trace `user` or `result` event without `run` (the run is in the path).
 * A decision is an `aecl replay` line plus `approval_id` and, for execute, `effect` and
 * `replayed`; an approval is the OpenAPI document's `ApprovalView`. The readers check every
 * field they use and throw {@link Unavailable} on anything else, so a malformed answer is
 * never read as an allow. test/schema.test.mjs checks these shapes against the committed
 * JSON Schema and the server's OpenAPI document.
 */

import { Unavailable } from "./errors.js";

export type DecisionKind = "allow" | "require_approval" | "block";
export type Mode = "enforce" | "monitor" | "dry-run";
export type ApprovalStatus = "pending" | "approved" | "rejected" | "expired";
export type DeclaredSource = "user" | "trusted_tool" | "untrusted";

/** The optional fields of a call, as the trace format names them. */
export interface CallOptions {
  /** The run (task); default: the client's run. */
  run?: string;
  /** The call id; default: a new UUID. */
  callId?: string;
  nonce?: string;
  /** The tenant, environment and resources the call targets. */
  scope?: Record<string, unknown>;
  /** Client-declared provenance per argument path. */
  provenance?: Record<string, DeclaredSource>;
}

/** The body of `/v1/evaluate` and `/v1/execute`. */
export interface CallBody {
  run: string;
  id: string;
  action: string;
  args: Record<string, unknown>;
  nonce?: string;
  scope?: Record<string, unknown>;
  provenance?: Record<string, DeclaredSource>;
}

/** The body of `POST /v1/runs/{run}/events`. */
export type RunEvent =
  | { type: "user"; text: string }
  | { type: "result"; id: string; output: unknown };

/** The answer to a run event. */
export interface Recorded {
  run: string;
  recorded: "user" | "result";
  seq: number;
}

/** One finding of one stage of the pipeline. */
export interface Reason {
  stage: string;
  rule: string;
  decision: string;
  message: string;
  field?: string;
}

/** What an execute dispatched: its ledger entry. */
export interface Effect {
  id: string;
  state: string;
  result?: unknown;
  error?: string;
  rollbackToken?: string;
  /** A replayed effect that aecl has since rolled back: the compensation's effect id. */
  rolledBackBy?: string;
}

/** The server's decision on one call, as recorded in its audit log. */
export interface Decision {
  callId: string;
  run: string;
  action: string;
  decision: DecisionKind;
  mode: Mode;
  reasons: readonly Reason[];
  riskScore: number;
  policyRevision: string;
  approvalId?: string;
  effect?: Effect;
  replayed?: boolean;
  risk: Record<string, unknown>;
  /** The decision as applied: a `monitor` policy records but allows. */
  enforced: DecisionKind;
  /** The whole answer as the server sent it. */
  raw: Record<string, unknown>;
}

/** An approval request as the server shows it. */
export interface Approval {
  id: string;
  status: ApprovalStatus;
  run: string;
  callId: string;
  agent: string;
  action: string;
  callDigest: string;
  policyRevision: string;
  requestedMs: number;
  expiresMs: number;
  decidedBy?: string;
  reason?: string;
  context?: unknown;
  raw: Record<string, unknown>;
}

const DECISIONS: readonly string[] = ["allow", "require_approval", "block"];
const MODES: readonly string[] = ["enforce", "monitor", "dry-run"];
const STATUSES: readonly string[] = ["pending", "approved", "rejected", "expired"];

/** The effect result with which the server hands a call to the client that runs it. */
export const CLIENT_HAND_OVER = { executed_by: "client" } as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(object: Record<string, unknown>, key: string): string {
  const value = object[key];
  if (typeof value !== "string") throw new TypeError(`\`${key}\` is not a string`);
  return value;
}

function optStr(object: Record<string, unknown>, key: string): string | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new TypeError(`\`${key}\` is not a string`);
  return value;
}

function num(object: Record<string, unknown>, key: string): number {
  const value = object[key];
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TypeError(`\`${key}\` is not a number`);
  }
  return value;
}

function oneOf<T extends string>(object: Record<string, unknown>, key: string, allowed: readonly string[]): T {
  const value = str(object, key);
  if (!allowed.includes(value)) throw new TypeError(`unknown ${key} \`${value}\``);
  return value as T;
}

/** Reads a decision answer; throws {@link Unavailable} when it is malformed. */
export function readDecision(answer: unknown): Decision {
  try {
    if (!isObject(answer)) throw new TypeError("not an object");
    const decision = oneOf<DecisionKind>(answer, "decision", DECISIONS);
    const mode = oneOf<Mode>(answer, "mode", MODES);
    const rawReasons = answer["reasons"];
    if (!Array.isArray(rawReasons)) throw new TypeError("`reasons` is not a list");
    const reasons: Reason[] = rawReasons.map((r: unknown) => {
      if (!isObject(r)) throw new TypeError("a reason is not an object");
      const field = optStr(r, "field");
      return {
        stage: str(r, "stage"),
        rule: str(r, "rule"),
        decision: str(r, "decision"),
        message: str(r, "message"),
        ...(field !== undefined ? { field } : {}),
      };
    });
    const risk = answer["risk"];
    if (!isObject(risk)) throw new TypeError("`risk` is not an object");
    let effect: Effect | undefined;
    const rawEffect = answer["effect"];
    if (rawEffect !== undefined && rawEffect !== null) {
      if (!isObject(rawEffect)) throw new TypeError("`effect` is not an object");
      const error = optStr(rawEffect, "error");
      const rollbackToken = optStr(rawEffect, "rollback_token");
      const rolledBackBy = optStr(rawEffect, "rolled_back_by");
      effect = {
        id: str(rawEffect, "id"),
        state: str(rawEffect, "state"),
        result: rawEffect["result"],
        ...(error !== undefined ? { error } : {}),
        ...(rollbackToken !== undefined ? { rollbackToken } : {}),
        ...(rolledBackBy !== undefined ? { rolledBackBy } : {}),
      };
    }
    const approvalId = optStr(answer, "approval_id");
    const replayed = answer["replayed"];
    if (replayed !== undefined && replayed !== null && typeof replayed !== "boolean") {
      throw new TypeError("`replayed` is not a boolean");
    }
    return {
      callId: str(answer, "id"),
      run: str(answer, "run"),
      action: str(answer, "action"),
      decision,
      mode,
      reasons,
      riskScore: num(risk, "score"),
      policyRevision: str(answer, "policy_revision"),
      ...(approvalId !== undefined ? { approvalId } : {}),
      ...(effect !== undefined ? { effect } : {}),
      ...(typeof replayed === "boolean" ? { replayed } : {}),
      risk,
      enforced: mode === "monitor" ? "allow" : decision,
      raw: answer,
    };
  } catch (error) {
    throw new Unavailable(`aecl: the decision answer is malformed (${describe(error)})`, undefined, undefined, {
      cause: error,
    });
  }
}

/** Reads an approval answer; throws {@link Unavailable} when it is malformed. */
export function readApproval(answer: unknown): Approval {
  try {
    if (!isObject(answer)) throw new TypeError("not an object");
    const decidedBy = optStr(answer, "decided_by");
    const reason = optStr(answer, "reason");
    const context = answer["context"];
    return {
      id: str(answer, "id"),
      status: oneOf<ApprovalStatus>(answer, "status", STATUSES),
      run: str(answer, "run"),
      callId: str(answer, "call_id"),
      agent: str(answer, "agent"),
      action: str(answer, "action"),
      callDigest: str(answer, "call_digest"),
      policyRevision: str(answer, "policy_revision"),
      requestedMs: num(answer, "requested_ms"),
      expiresMs: num(answer, "expires_ms"),
      ...(decidedBy !== undefined ? { decidedBy } : {}),
      ...(reason !== undefined ? { reason } : {}),
      ...(context !== undefined && context !== null ? { context } : {}),
      raw: answer,
    };
  } catch (error) {
    throw new Unavailable(`aecl: the approval answer is malformed (${describe(error)})`, undefined, undefined, {
      cause: error,
    });
  }
}

/** Reads the answer to a run event. */
export function readRecorded(answer: unknown): Recorded {
  try {
    if (!isObject(answer)) throw new TypeError("not an object");
    return {
      run: str(answer, "run"),
      recorded: oneOf<"user" | "result">(answer, "recorded", ["user", "result"]),
      seq: num(answer, "seq"),
    };
  } catch (error) {
    throw new Unavailable(`aecl: the event answer is malformed (${describe(error)})`, undefined, undefined, {
      cause: error,
    });
  }
}

/** Whether an execute with `Aecl-Executor: client` lets this client run the call, now, once. */
export function handedToClient(decision: Decision): boolean {
  const result = decision.effect?.result;
  return (
    decision.enforced === "allow" &&
    decision.replayed !== true &&
    decision.effect?.state === "succeeded" &&
    isObject(result) &&
    Object.keys(result).length === 1 &&
    result["executed_by"] === CLIENT_HAND_OVER.executed_by
  );
}

/** The reasons as strict as the decision (those that set it). */
export function decidingReasons(decision: Decision): Reason[] {
  return decision.reasons.filter((r) => r.decision === decision.decision);
}

/** One line saying what was decided and why. */
export function explain(decision: Decision): string {
  const reasons = decidingReasons(decision)
    .map((r) => `${r.rule}${r.field ? ` (${r.field})` : ""}: ${r.message}`)
    .join("; ");
  return `\`${decision.action}\` ${decision.decision}${reasons ? `: ${reasons}` : ""}`;
}

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}
