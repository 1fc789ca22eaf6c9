/**
 * The HTTP client of a running `aecl serve`: evaluate, execute, run events, approvals.
 *
 * It uses the platform's `fetch` only. It fails closed: whatever is not an `allow` answer
 * read in full throws a subclass of {@link Blocked}, never returns as an allow. Every
 * request has a deadline (an `AbortController` covering the connection and the body), and
 * redirects are never followed (`redirect: "manual"`): the bearer token would go along to
 * wherever the answer points, so a 3xx is an error.
 *
 * The agent is the bearer token's subject and is never sent.
 */

import { AgentKey } from "./agent-key.js";
import {
  ApprovalRejected,
  ApprovalRequired,
  ApprovalTimeout,
  Blocked,
  DuplicateResult,
  EventRefused,
  NotRun,
  Refused,
  Unavailable,
  UnknownCall,
  WrongAgent,
} from "./errors.js";
import {
  type Approval,
  type CallBody,
  type CallOptions,
  type Decision,
  type Recorded,
  type RunEvent,
  describe,
  explain,
  handedToClient,
  readApproval,
  readDecision,
  readRecorded,
} from "./types.js";

/** The server answers a long-poll for at most this long (approvals.rs MAX_WAIT). */
export const MAX_WAIT_MS = 60_000;
/** Answers larger than this are not read (a server never sends one this large). */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

export interface ClientOptions {
  /** The server, e.g. `http://127.0.0.1:8080`; default `AECL_URL`. */
  baseUrl?: string;
  /** An agent's (or an approver's) bearer token; default `AECL_TOKEN`. */
  token?: string;
  /**
   * The agent's own secret key (its text, or an {@link AgentKey}); default
   * `AECL_AGENT_KEY`. A fresh short token is signed with it for every request instead of
   * one bearer token for the session.
   */
  agentKey?: string | AgentKey;
  /** The agent the key's tokens name (default: the key's name). */
  agent?: string;
  /** The deadline of one request in milliseconds (default 10 000). */
  timeoutMs?: number;
  /** The run that calls name when they give none (default: a new id per client). */
  run?: string;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
}

export interface ExecuteOptions extends CallOptions {
  idempotencyKey?: string;
  /** `server`: a connector runs it; `client`: it is handed to this client to run. */
  executor?: "server" | "client";
}

export interface ApprovalWaitOptions {
  /** How long to wait for a human in total (default 300 000 ms). */
  timeoutMs?: number;
  /** The length of one long-poll (default 30 000 ms, at most 60 000). */
  pollMs?: number;
}

/** The call id is chosen per request: the call after an approval is a new call. */
export interface AuthorizeOptions extends Omit<CallOptions, "callId">, ApprovalWaitOptions {
  /** Wait for a human on `require_approval` (default true), else throw `ApprovalRequired`. */
  waitForApproval?: boolean;
}

interface Request {
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

type Env = { process?: { env?: Record<string, string | undefined> } };

function env(name: string): string | undefined {
  return (globalThis as Env).process?.env?.[name];
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new RangeError(`aecl: \`${name}\` must be a positive number of milliseconds`);
  }
  return v;
}

/**
 * A client of `aecl serve` holding an agent's (or an approver's) bearer token. `run` is the
 * run (task) that calls name when they give none: one client is one agent session.
 */
export class Client {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly run: string;
  readonly #token: string;
  readonly #agentKey: AgentKey | undefined;
  readonly #agent: string | undefined;
  readonly #fetch: typeof fetch;

  constructor(options: ClientOptions = {}) {
    const baseUrl = options.baseUrl ?? env("AECL_URL");
    const key = options.agentKey ?? (options.token === undefined ? env("AECL_AGENT_KEY") : undefined);
    this.#agentKey = key === undefined ? undefined : key instanceof AgentKey ? key : new AgentKey(key);
    this.#agent = options.agent;
    const token = options.token ?? (this.#agentKey ? "-" : env("AECL_TOKEN"));
    if (!token || !token.trim()) throw new TypeError("aecl: no token (pass `token` or `agentKey`, or set AECL_TOKEN)");
    if (!baseUrl) throw new TypeError("aecl: no server URL (pass `baseUrl` or set AECL_URL)");
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new TypeError(`aecl: \`${baseUrl}\` is not an http(s) URL`);
    }
    if ((url.protocol !== "http:" && url.protocol !== "https:") || !url.host) {
      throw new TypeError(`aecl: \`${baseUrl}\` is not an http(s) URL`);
    }
    if (url.username || url.password || url.search || url.hash) {
      throw new TypeError("aecl: the server URL must carry no credentials, query or fragment");
    }
    this.baseUrl = url.href.replace(/\/+$/, "");
    this.#token = token.trim();
    this.timeoutMs = positive(options.timeoutMs, 10_000, "timeoutMs");
    this.run = options.run ?? `ts-${crypto.randomUUID()}`;
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== "function") throw new TypeError("aecl: no `fetch` in this runtime (Node 20 or later)");
    this.#fetch = f;
  }

  /** The token stays out of logs: this is what `console.log(client)` shows. */
  toJSON(): Record<string, string> {
    return { baseUrl: this.baseUrl, run: this.run };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `Client(${this.baseUrl}, run=${this.run})`;
  }

  // Calls.

  /**
   * Decides and records a call; executes nothing. A `require_approval` evaluate files no
   * approval request: use {@link authorize} for that.
   */
  async evaluate(action: string, args: Record<string, unknown> = {}, options: CallOptions = {}): Promise<Decision> {
    const body = this.#callBody(action, args, options);
    return readDecision(await this.#request({ method: "POST", path: "/v1/evaluate", body }));
  }

  /**
   * Decides, records and (when allowed) executes a call: through the server's connector
   * (`executor: "server"`), or by handing it to this client (`executor: "client"`: see
   * {@link authorize}). A `require_approval` answer carries the `approvalId` to wait on.
   */
  async execute(action: string, args: Record<string, unknown> = {}, options: ExecuteOptions = {}): Promise<Decision> {
    const executor = options.executor ?? "server";
    if (executor !== "server" && executor !== "client") {
      throw new TypeError("aecl: `executor` must be `server` or `client`");
    }
    const body = this.#callBody(action, args, options);
    const headers: Record<string, string> = { "Aecl-Executor": executor };
    if (options.idempotencyKey !== undefined) headers["Idempotency-Key"] = options.idempotencyKey;
    return readDecision(await this.#request({ method: "POST", path: "/v1/execute", body, headers }));
  }

  /**
   * Permission for this process to run a call itself, once: returns the `allow` decision
   * (its `callId` names the call in {@link reportResult}), or throws (`Blocked`,
   * `ApprovalRequired`, `ApprovalRejected`, `ApprovalTimeout`, `Unavailable`, ...). On
   * `require_approval` it waits for a human (or throws `ApprovalRequired` when
   * `waitForApproval` is false), then asks again with the same call.
   */
  async authorize(action: string, args: Record<string, unknown> = {}, options: AuthorizeOptions = {}): Promise<Decision> {
    const { waitForApproval = true, timeoutMs, pollMs, ...call } = options;
    const run = call.run ?? this.run;
    const decision = await this.execute(action, args, { ...call, run, executor: "client" });
    if (decision.enforced !== "require_approval" || decision.approvalId === undefined) {
      return this.#handedOver(decision);
    }
    if (!waitForApproval) {
      throw new ApprovalRequired(
        `aecl: ${explain(decision)} (approval \`${decision.approvalId}\`)`,
        decision.approvalId,
        decision,
      );
    }
    await this.waitForApproval(decision.approvalId, {
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(pollMs !== undefined ? { pollMs } : {}),
    });
    // The grant is bound to the exact call: the same run, action and arguments.
    return this.#handedOver(await this.execute(action, args, { ...call, run, executor: "client" }));
  }

  // Run events: what the agent saw, for the data-flow check of its later calls.

  /**
   * Records the output of a call this client ran (`callId` is the `callId` of the decision
   * that handed it over; `run` undefined is the client's run). Throws `UnknownCall` (404),
   * `WrongAgent` (403), `DuplicateResult` (409), another `EventRefused` or `Unavailable`.
   * Never ignore these: an output that is not recorded is one aecl cannot trace values to.
   */
  async reportResult(run: string | undefined, callId: string, output: unknown): Promise<Recorded> {
    if (typeof callId !== "string" || !callId) throw new TypeError("aecl: `callId` must be a non-empty string");
    return this.#event(run, { type: "result", id: callId, output: outputValue(output) });
  }

  /**
   * Records the user's own words in `run` (undefined: the client's run): values they name
   * count as trusted. Only the user's text belongs here, never what an agent or a tool
   * produced.
   */
  async reportUserMessage(run: string | undefined, text: string): Promise<Recorded> {
    if (typeof text !== "string") throw new TypeError("aecl: `text` must be a string");
    return this.#event(run, { type: "user", text });
  }

  // Approvals.

  /** The request `approvalId`; with `waitMs`, long-polls while it is pending. */
  async approval(approvalId: string, waitMs?: number): Promise<Approval> {
    let path = `/v1/approvals/${encodeURIComponent(approvalId)}`;
    let timeoutMs = this.timeoutMs;
    if (waitMs !== undefined) {
      const wait = Math.max(0, Math.floor(Math.min(waitMs, MAX_WAIT_MS)));
      path += `?wait=${wait}ms`;
      timeoutMs += wait;
    }
    return readApproval(await this.#request({ method: "GET", path, timeoutMs }));
  }

  /**
   * Waits until a human answers `approvalId`: returns the approved request, throws
   * `ApprovalRejected` (rejected or expired) or `ApprovalTimeout` (still pending after
   * `timeoutMs`).
   */
  async waitForApproval(approvalId: string, options: ApprovalWaitOptions = {}): Promise<Approval> {
    const timeoutMs = options.timeoutMs ?? 300_000;
    if (typeof timeoutMs !== "number" || !(timeoutMs >= 0)) {
      throw new RangeError("aecl: `timeoutMs` must be a number of milliseconds");
    }
    const pollMs = positive(options.pollMs, 30_000, "pollMs");
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const remaining = deadline - performance.now();
      const approval = await this.approval(approvalId, Math.max(0, Math.min(pollMs, remaining)));
      if (approval.status === "approved") return approval;
      if (approval.status === "rejected" || approval.status === "expired") {
        const why = approval.reason ? `: ${approval.reason}` : "";
        const by = approval.decidedBy ? ` by ${approval.decidedBy}` : "";
        throw new ApprovalRejected(
          `aecl: approval \`${approvalId}\` for \`${approval.action}\` was ${approval.status}${by}${why}`,
          approval,
        );
      }
      if (performance.now() >= deadline) {
        throw new ApprovalTimeout(
          `aecl: approval \`${approvalId}\` for \`${approval.action}\` is still pending after ${timeoutMs} ms`,
          approvalId,
        );
      }
    }
  }

  /** Approves a request (approver tokens only; never the agent that asked). */
  async approve(approvalId: string, reason?: string): Promise<Record<string, unknown>> {
    const path = `/v1/approvals/${encodeURIComponent(approvalId)}/approve`;
    const answer = await this.#request({ method: "POST", path, body: reason !== undefined ? { reason } : {} });
    return answer as Record<string, unknown>;
  }

  /** Rejects a request with a reason (approver tokens only). */
  async reject(approvalId: string, reason: string): Promise<Approval> {
    const path = `/v1/approvals/${encodeURIComponent(approvalId)}/reject`;
    return readApproval(await this.#request({ method: "POST", path, body: { reason } }));
  }

  /** `/healthz`; throws `Unavailable` when the server is not enforcing. */
  async health(): Promise<Record<string, unknown>> {
    return (await this.#request({ method: "GET", path: "/healthz" })) as Record<string, unknown>;
  }

  // Internals.

  #callBody(action: string, args: Record<string, unknown>, options: CallOptions): CallBody {
    if (typeof action !== "string" || !action) throw new TypeError("aecl: `action` must be a non-empty string");
    if (typeof args !== "object" || args === null || Array.isArray(args)) {
      throw new TypeError("aecl: `args` must be an object");
    }
    const body: CallBody = {
      run: options.run ?? this.run,
      id: options.callId ?? crypto.randomUUID(),
      action,
      args,
    };
    if (options.nonce !== undefined) body.nonce = options.nonce;
    if (options.scope !== undefined) body.scope = options.scope;
    if (options.provenance !== undefined) body.provenance = options.provenance;
    return body;
  }

  #handedOver(decision: Decision): Decision {
    if (handedToClient(decision)) return decision;
    if (decision.enforced === "block") throw new Blocked(`aecl: ${explain(decision)}`, decision);
    if (decision.enforced === "require_approval") {
      throw new ApprovalRequired(`aecl: ${explain(decision)}`, decision.approvalId, decision);
    }
    if (decision.replayed === true) {
      throw new NotRun(`aecl: \`${decision.action}\` already ran under this idempotency key`, decision);
    }
    if (decision.mode === "dry-run") {
      throw new NotRun(`aecl: \`${decision.action}\` allowed in dry-run mode: nothing runs`, decision);
    }
    throw new NotRun(
      `aecl: \`${decision.action}\` allowed without a hand-over to the client (effect ${JSON.stringify(
        decision.effect ?? null,
      )}): not run`,
      decision,
    );
  }

  async #event(run: string | undefined, event: RunEvent): Promise<Recorded> {
    const target = run ?? this.run;
    if (typeof target !== "string" || !target) throw new TypeError("aecl: `run` must be a non-empty string");
    const path = `/v1/runs/${encodeURIComponent(target)}/events`;
    let answer: unknown;
    try {
      answer = await this.#request({ method: "POST", path, body: event });
    } catch (error) {
      if (error instanceof Refused) throw eventRefusal(error);
      throw error;
    }
    const recorded = readRecorded(answer);
    // Only an answer that says this event was recorded in this run counts as recorded.
    if (recorded.recorded !== event.type || recorded.run !== target) {
      throw new Unavailable(`aecl: the event answer does not confirm the record: ${JSON.stringify(answer)}`);
    }
    return recorded;
  }

  async #request(request: Request): Promise<unknown> {
    const { method, path } = request;
    const url = this.baseUrl + path;
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.#agentKey ? await this.#agentKey.token(this.#agent) : this.#token}`,
      Accept: "application/json",
      ...request.headers,
    };
    let payload: string | undefined;
    if (request.body !== undefined) {
      try {
        payload = JSON.stringify(request.body, rejectNonJson);
      } catch (error) {
        throw new Blocked(`aecl: the request cannot be sent as JSON: ${describe(error)}`);
      }
      headers["Content-Type"] = "application/json";
    }
    const timeoutMs = request.timeoutMs ?? this.timeoutMs;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    let status: number;
    let text: string;
    try {
      const response = await this.#fetch(url, {
        method,
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
        redirect: "manual",
        signal: controller.signal,
      });
      status = response.status;
      // A redirect is not followed: the token would go along. `opaqueredirect` is what a
      // browser's fetch shows for one.
      if (response.type === "opaqueredirect" || (status >= 300 && status < 400) || status === 0) {
        await response.body?.cancel().catch(() => undefined);
        throw new Unavailable(`aecl: ${method} ${path} answered with a redirect (${status}): not followed`, status);
      }
      const length = Number(response.headers.get("content-length") ?? "0");
      if (length > MAX_ANSWER_BYTES) {
        await response.body?.cancel().catch(() => undefined);
        throw new Unavailable(`aecl: ${method} ${path} answered ${length} bytes: too large`, status);
      }
      text = await response.text();
    } catch (error) {
      if (error instanceof Blocked) throw error;
      const why = controller.signal.aborted ? describe(controller.signal.reason) : describe(error);
      throw new Unavailable(`aecl: ${method} ${url} failed: ${why}`, undefined, undefined, { cause: error });
    } finally {
      clearTimeout(timer);
    }
    let answer: unknown;
    try {
      answer = text ? JSON.parse(text) : undefined;
    } catch {
      answer = undefined;
    }
    if (status >= 200 && status < 300) {
      if (answer === undefined) {
        throw new Unavailable(`aecl: ${method} ${path} answered ${status} without a JSON body`, status);
      }
      return answer;
    }
    const [code, message] = errorOf(answer);
    if (status >= 500 || status < 400) {
      let decision: Decision | undefined;
      if (typeof answer === "object" && answer !== null && "decision" in answer) {
        try {
          decision = readDecision(answer);
        } catch {
          decision = undefined;
        }
      }
      throw new Unavailable(`aecl: ${method} ${path} answered ${status}: ${message ?? "no message"}`, status, decision);
    }
    throw new Refused(
      `aecl: ${method} ${path} refused (${status} ${code ?? "error"}): ${message ?? "no message"}`,
      status,
      code,
    );
  }
}

/** JSON.stringify replacer: values JSON cannot carry are an error, not a silent `null`. */
function rejectNonJson(_key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) throw new TypeError(`${value} is not JSON`);
  if (typeof value === "bigint") throw new TypeError("a BigInt is not JSON");
  return value;
}

/** Levels of nesting `outputValue` follows; deeper values are recorded as their text. */
const MAX_OUTPUT_DEPTH = 64;

/**
 * A tool's return value as the JSON a result event carries, holding everything the caller
 * can read of it: JSON as it is, `null` for `undefined`; a number JSON cannot carry (NaN,
 * infinity) and a BigInt as their text; bytes (a Buffer, a typed array) as UTF-8 text; a
 * Map as an object and a Set as a list; an object with `toJSON` as what that gives; a
 * cycle as `"[circular]"`. A value recorded as less than the caller reads (the whole
 * output as `"[object Object]"` because one field was NaN) would let an injected value the
 * caller then acts on pass as the model's own.
 */
export function outputValue(value: unknown): unknown {
  return jsonable(value, new Set(), 0);
}

function jsonable(value: unknown, ancestors: Set<object>, depth: number): unknown {
  if (value === undefined) return null;
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value !== "object") return String(value);
  if (depth >= MAX_OUTPUT_DEPTH) return String(value);
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  if (value instanceof ArrayBuffer) return new TextDecoder().decode(new Uint8Array(value));
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
  if (ancestors.has(value)) return "[circular]";
  ancestors.add(value);
  try {
    const next = (item: unknown) => jsonable(item, ancestors, depth + 1);
    if (Array.isArray(value)) return value.map(next);
    if (value instanceof Map) {
      return Object.fromEntries([...value].map(([key, item]) => [String(next(key)), next(item)]));
    }
    if (value instanceof Set) return [...value].map(next);
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") {
      try {
        return next(toJSON.call(value));
      } catch {
        // Its own fields below.
      }
    }
    const fields: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) fields[key] = next(item);
    // Own members `Object.entries` leaves out, which the caller still reads: those not
    // enumerable (an Error's `message` and `cause`) and those keyed by a symbol.
    for (const key of Reflect.ownKeys(value)) {
      const name = typeof key === "symbol" ? String(key) : key;
      if (name in fields) continue;
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (descriptor && "value" in descriptor && typeof descriptor.value !== "function") {
        fields[name] = next(descriptor.value);
      }
    }
    // A class's getters are read like its fields (a caller reads `mail.body` as it reads
    // `mail.to`), and its own `toString` when it has one: red team, 2026-11-30.
    for (const [key, item] of getters(value)) if (!(key in fields)) fields[key] = next(item);
    const text = ownText(value);
    if (text !== undefined) fields["__str__"] = text;
    return fields;
  } finally {
    ancestors.delete(value);
  }
}

/** The values of the getters `value`'s classes define (not `Object`'s), each read once. */
function getters(value: object): [string, unknown][] {
  const out: [string, unknown][] = [];
  const seen = new Set<string>();
  for (let proto = Object.getPrototypeOf(value); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const [key, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      if (typeof descriptor.get !== "function" || seen.has(key)) continue;
      seen.add(key);
      try {
        out.push([key, descriptor.get.call(value)]);
      } catch {
        // A getter that throws shows the caller nothing.
      }
    }
  }
  return out;
}

/** `String(value)` when a class of `value` defines its own `toString`. */
function ownText(value: object): string | undefined {
  const toString = (value as { toString?: unknown }).toString;
  if (typeof toString !== "function" || toString === Object.prototype.toString) return undefined;
  try {
    return String(toString.call(value));
  } catch {
    return undefined;
  }
}

function errorOf(answer: unknown): [string | undefined, string | undefined] {
  if (typeof answer === "object" && answer !== null) {
    const error = (answer as Record<string, unknown>)["error"];
    if (typeof error === "object" && error !== null) {
      const { code, message } = error as Record<string, unknown>;
      return [typeof code === "string" ? code : undefined, typeof message === "string" ? message : undefined];
    }
  }
  return [undefined, undefined];
}

const EVENT_REFUSALS: Record<string, typeof EventRefused> = {
  "event.unknown_call": UnknownCall,
  "event.wrong_agent": WrongAgent,
  "event.duplicate_result": DuplicateResult,
};
// An answer without a code is typed by its status alone.
const EVENT_STATUSES: Record<number, typeof EventRefused> = { 404: UnknownCall, 403: WrongAgent, 409: DuplicateResult };

function eventRefusal(refused: Refused): EventRefused {
  const kind =
    (refused.code !== undefined ? EVENT_REFUSALS[refused.code] : EVENT_STATUSES[refused.status]) ?? EventRefused;
  return new kind(refused.message, refused.status, refused.code);
}
