/**
 * `@aecl/client`: the TypeScript client of aecl (Agent Execution Control Layer).
 *
 * {@link Client} talks to a running `aecl serve`; {@link guard} makes an async function a
 * tool that aecl decides before it runs; the adapters (`@aecl/client/ai-sdk`,
 * `@aecl/client/langchain`, `@aecl/client/openai-agents`) plug the same check into the
 * agent frameworks. Every way a call can fail to be allowed throws a subclass of
 * {@link Blocked}.
 */

export { AGENT_TOKEN_SECONDS, AgentKey } from "./agent-key.js";
export {
  Client,
  MAX_WAIT_MS,
  outputValue,
  type ApprovalWaitOptions,
  type AuthorizeOptions,
  type ClientOptions,
  type ExecuteOptions,
} from "./client.js";
export {
  ApprovalRejected,
  ApprovalRequired,
  ApprovalTimeout,
  Blocked,
  DuplicateResult,
  EventRefused,
  NotRun,
  OutputWithheld,
  Refused,
  Unavailable,
  UnknownCall,
  WrongAgent,
} from "./errors.js";
export { Guard, callArgs, failureOutput, guard, type GuardFunctionOptions, type GuardOptions, type RunSource } from "./guard.js";
export {
  CLIENT_HAND_OVER,
  decidingReasons,
  explain,
  handedToClient,
  type Approval,
  type ApprovalStatus,
  type CallBody,
  type CallOptions,
  type Decision,
  type DecisionKind,
  type DeclaredSource,
  type Effect,
  type Mode,
  type Reason,
  type Recorded,
  type RunEvent,
} from "./types.js";
