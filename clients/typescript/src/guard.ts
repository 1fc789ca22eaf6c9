/**
 * `guard()`: an async function becomes a tool that aecl decides before it runs, and whose
 * output aecl records after it ran. {@link Guard} is the check the framework adapters share.
 *
 * Each call is sent to `aecl serve` as a call of the action through
 * {@link Client.authorize}. The function runs only on an `allow` that handed the call to
 * this process; a block, a rejected or unanswered approval, or any failure to ask throws a
 * {@link Blocked} and the function does not run. After it ran, its return value (or the
 * text of the error it threw) is recorded as the call's result; when that record fails the
 * value is withheld: {@link OutputWithheld} is thrown instead of returning it.
 */

import type { AuthorizeOptions, Client } from "./client.js";
import { OutputWithheld } from "./errors.js";
import { type Settled, settle } from "./lazy.js";
import { type Decision, describe } from "./types.js";

/** The run of a call: fixed, or computed per call (e.g. from a framework's thread id). */
export type RunSource = string | (() => string) | undefined;

export interface GuardOptions {
  /** The run id, or a function returning it (default: the client's run). */
  run?: RunSource;
  /** Tool name -> catalog action, for tools whose name is not their action's. */
  actions?: Record<string, string>;
  /** Wait for a human on `require_approval` (default true), else throw `ApprovalRequired`. */
  waitForApproval?: boolean;
  /** How long to wait for a human (default 300 000 ms). */
  approvalTimeoutMs?: number;
  /** The length of one long-poll (default 30 000 ms). */
  pollMs?: number;
}

/** What a guarded tool asks before it runs, and records after: shared by every adapter. */
export class Guard {
  readonly client: Client;
  readonly run: RunSource;
  readonly actions: Readonly<Record<string, string>>;
  readonly waitForApproval: boolean;
  readonly approvalTimeoutMs: number;
  readonly pollMs: number;

  constructor(client: Client, options: GuardOptions = {}) {
    this.client = client;
    this.run = options.run;
    this.actions = { ...options.actions };
    this.waitForApproval = options.waitForApproval ?? true;
    this.approvalTimeoutMs = options.approvalTimeoutMs ?? 300_000;
    this.pollMs = options.pollMs ?? 30_000;
  }

  actionOf(toolName: string): string {
    return Object.hasOwn(this.actions, toolName) ? (this.actions[toolName] as string) : toolName;
  }

  /** The run a call belongs to: `run` when given, else the guard's, else the client's. */
  runOf(run?: string): string {
    if (run) return run;
    if (this.run === undefined) return this.client.run;
    return typeof this.run === "function" ? this.run() : this.run;
  }

  /** The `allow` for this call (its `callId` is what {@link report} records), or throws a `Blocked`. */
  async check(toolName: string, args: unknown, run?: string): Promise<Decision> {
    const options: AuthorizeOptions = {
      run: this.runOf(run),
      waitForApproval: this.waitForApproval,
      timeoutMs: this.approvalTimeoutMs,
      pollMs: this.pollMs,
    };
    return this.client.authorize(this.actionOf(toolName), callArgs(args), options);
  }

  /**
   * Records `output` as the result of the call `decision` handed over, or throws
   * {@link OutputWithheld} (with the failure as `cause`): the caller must then not hand the
   * output on.
   */
  async report(decision: Decision, output: unknown): Promise<void> {
    try {
      await this.client.reportResult(decision.run, decision.callId, output);
    } catch (error) {
      throw new OutputWithheld(
        `aecl: the output of \`${decision.action}\` (call \`${decision.callId}\`) was not recorded, so it is withheld: ${describe(error)}`,
        decision.callId,
        output,
        decision,
        { cause: error },
      );
    }
  }

  /** Records the user's own words in the guard's run (or `run`); throws a `Blocked` on failure. */
  async userMessage(text: string, run?: string): Promise<void> {
    await this.client.reportUserMessage(this.runOf(run), text);
  }

  /**
   * Decides, runs and records one call: `run` runs only on an allow; its value is returned
   * only once recorded. A tool that throws has its error text recorded, then rethrown. A
   * generator, an async iterable, a stream, a `Response` or a `Blob` is read to its end and
   * recorded as its content, and the caller gets the same content back (`lazy.ts`).
   */
  async call<T>(toolName: string, args: unknown, execute: () => Promise<T> | T, run?: string): Promise<T> {
    const decision = await this.check(toolName, args, run);
    let settled: Settled;
    try {
      // A lazy output (a generator, a stream) is read to its end first (`lazy.ts`).
      settled = await settle(await execute());
    } catch (error) {
      await this.report(decision, failureOutput(error));
      throw error;
    }
    await this.report(decision, settled.recorded);
    return settled.handed as T;
  }
}

/** What a tool that threw showed: the result recorded for a call that failed. */
export function failureOutput(error: unknown): string {
  const name = error instanceof Error ? error.name : typeof error;
  return `error: ${name}: ${describe(error)}`;
}

/** A call's arguments as the object the catalog's schema describes. */
export function callArgs(args: unknown): Record<string, unknown> {
  if (args === undefined || args === null) return {};
  if (typeof args === "object" && !Array.isArray(args)) return args as Record<string, unknown>;
  // A tool whose input is not an object (a bare string): the catalog sees `{input: ...}`.
  return { input: args };
}

export interface GuardFunctionOptions extends GuardOptions {
  /**
   * The call's arguments from the function's parameters (default: the single object
   * parameter itself, else `{ args: [...] }`).
   */
  argsOf?: (...params: never[]) => Record<string, unknown>;
}

/**
 * Wraps an async (or sync) function as the tool `action`: every call is decided by aecl
 * before `fn` runs and its result recorded after. The wrapper's `aeclGuard` is its
 * {@link Guard} (for `fn.aeclGuard.userMessage(text)`).
 */
export function guard<P extends unknown[], R>(
  client: Client,
  action: string,
  fn: (...params: P) => Promise<R> | R,
  options: GuardFunctionOptions = {},
): ((...params: P) => Promise<R>) & { aeclGuard: Guard; aeclAction: string } {
  if (typeof action !== "string" || !action) throw new TypeError("aecl: `action` must be a non-empty string");
  if (typeof fn !== "function") throw new TypeError("aecl: `fn` must be a function");
  const checker = new Guard(client, options);
  const argsOf = options.argsOf as ((...params: P) => Record<string, unknown>) | undefined;
  const guarded = async (...params: P): Promise<R> => {
    const args = argsOf ? argsOf(...params) : defaultArgs(params);
    return checker.call(action, args, () => fn(...params));
  };
  return Object.assign(guarded, { aeclGuard: checker, aeclAction: action });
}

function defaultArgs(params: unknown[]): Record<string, unknown> {
  const [first] = params;
  if (params.length === 1 && typeof first === "object" && first !== null && !Array.isArray(first)) {
    return first as Record<string, unknown>;
  }
  return { args: params };
}
