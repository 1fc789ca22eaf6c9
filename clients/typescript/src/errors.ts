/**
 * The errors of the aecl client.
 *
 * Every failure is a {@link Blocked}: a call is allowed only by an `allow` answer that was
 * read in full, so anything else (a block, a pending or rejected approval, an unreachable
 * or slow server, a refused token, an answer that cannot be read) stops the tool. Code that
 * catches `Blocked` catches every way a call can fail to be allowed, and nothing that reads
 * as an allow.
 */

import type { Approval, Decision, Reason } from "./types.js";

/** The call may not run. `decision` is the server's answer when there was one. */
export class Blocked extends Error {
  readonly decision: Decision | undefined;

  constructor(message: string, decision?: Decision, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.decision = decision;
  }

  /** The reasons of the decision (none when the server gave no decision). */
  get reasons(): readonly Reason[] {
    return this.decision?.reasons ?? [];
  }
}

/**
 * The call waits for a human: approve `approvalId` (web page, CLI or API), then call again
 * with the same arguments.
 */
export class ApprovalRequired extends Blocked {
  readonly approvalId: string | undefined;

  constructor(message: string, approvalId: string | undefined, decision?: Decision) {
    super(message, decision);
    this.approvalId = approvalId;
  }
}

/** Nobody answered the approval request in time; it may still be answered later. */
export class ApprovalTimeout extends ApprovalRequired {}

/** An approver rejected the request, or it expired (an expired request is a rejection). */
export class ApprovalRejected extends Blocked {
  readonly approval: Approval;

  constructor(message: string, approval: Approval, decision?: Decision) {
    super(message, decision);
    this.approval = approval;
  }
}

/**
 * The policy allowed the call but says it must not run here: a dry run, a repeated
 * idempotency key whose first execution already happened, or an allow without a hand-over
 * to this client.
 */
export class NotRun extends Blocked {}

/**
 * The server could not be asked or did not answer usably: unreachable, timed out, a
 * redirect, 5xx (the engine failed and blocked the call), or an answer that is not the
 * expected JSON.
 */
export class Unavailable extends Blocked {
  readonly status: number | undefined;

  constructor(
    message: string,
    status?: number,
    decision?: Decision,
    options?: { cause?: unknown },
  ) {
    super(message, decision, options);
    this.status = status;
  }
}

/**
 * The server refused the request (4xx): no valid token, wrong role, another agent's run, a
 * malformed call, a rate limit, an unknown call id. `code` is the server's error code.
 */
export class Refused extends Blocked {
  readonly status: number;
  readonly code: string | undefined;

  constructor(message: string, status: number, code: string | undefined) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * The server refused a run event (`POST /v1/runs/{run}/events`): the base of the typed
 * refusals below, and what any other 4xx on that endpoint throws.
 */
export class EventRefused extends Refused {}

/** 404 `event.unknown_call`: the result names no call the engine allowed in that run. */
export class UnknownCall extends EventRefused {}

/** 403 `event.wrong_agent`: the run belongs to another agent than the token's. */
export class WrongAgent extends EventRefused {}

/** 409 `event.duplicate_result`: a result for that call was already recorded. */
export class DuplicateResult extends EventRefused {}

/**
 * The tool ran, but its output could not be recorded with aecl, so it is not handed on: an
 * output aecl does not know would let a value read from it pass the data-flow check later
 * as if nobody had shown it. `output` is the tool's value (for the developer; it is never
 * part of the message, which a framework may show the model); the cause is `cause`.
 */
export class OutputWithheld extends Blocked {
  readonly callId: string;
  readonly output: unknown;

  constructor(message: string, callId: string, output: unknown, decision?: Decision, options?: { cause?: unknown }) {
    super(message, decision, options);
    this.callId = callId;
    this.output = output;
  }
}
