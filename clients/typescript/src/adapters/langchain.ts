/**
 * LangChain.js (`@langchain/core` 1.x): tools that aecl decides before they run, for any
 * agent loop that runs LangChain tools (LangGraph's `createReactAgent` and `ToolNode`,
 * `langchain`'s `createAgent`, or your own), and a callback handler that records the user's
 * turns.
 *
 *     import { guardTools, AeclCallbackHandler } from "@aecl/client/langchain";
 *
 *     const agent = createReactAgent({ llm, tools: guardTools(guard, [lookupOrder]) });
 *     await agent.invoke({ messages }, { callbacks: [new AeclCallbackHandler(guard)] });
 *
 * A refused call does not run: by default the model gets an error `ToolMessage` with the
 * reason; `onBlock: "raise"` throws the `Blocked` out of the agent instead. The run is, in
 * order: the guard's `run`, the LangGraph `thread_id` of the invocation, the client's run.
 */

import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { type BaseMessage, ToolMessage } from "@langchain/core/messages";
import { type StructuredToolInterface, tool as makeTool } from "@langchain/core/tools";
import { Blocked, OutputWithheld } from "../errors.js";
import type { Guard } from "../guard.js";
import { UserTurns, textOf } from "./messages.js";

export interface GuardToolOptions {
  /** `message` (default): the model gets an error ToolMessage; `raise`: the agent throws. */
  onBlock?: "message" | "raise";
}

type Config = {
  toolCall?: { id?: string; name?: string };
  configurable?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
} & Record<string, unknown>;

/** The run of an invocation: the guard's, else the LangGraph thread id, else the client's. */
function runOf(guard: Guard, config: Config | undefined): string {
  if (guard.run !== undefined) return guard.runOf();
  const thread = config?.configurable?.["thread_id"] ?? config?.metadata?.["thread_id"];
  return guard.runOf(typeof thread === "string" || typeof thread === "number" ? String(thread) : undefined);
}

/** The tools, each decided by aecl before it runs. */
export function guardTools(
  guard: Guard,
  tools: readonly StructuredToolInterface[],
  options: GuardToolOptions = {},
): StructuredToolInterface[] {
  return tools.map((t) => guardTool(guard, t, options));
}

/** A tool with the same name, description and schema that asks aecl before `inner` runs. */
export function guardTool(
  guard: Guard,
  inner: StructuredToolInterface,
  options: GuardToolOptions = {},
): StructuredToolInterface {
  const onBlock = options.onBlock ?? "message";
  if (onBlock !== "message" && onBlock !== "raise") throw new TypeError("aecl: `onBlock` must be `message` or `raise`");
  const func = async (input: unknown, config?: Config): Promise<unknown> => {
    const { toolCall, ...rest } = config ?? {};
    const run = runOf(guard, config);
    try {
      // The inner tool runs without the tool call, so it returns its plain output (this
      // tool wraps it as the ToolMessage) and that output is what aecl records.
      return await guard.call(inner.name, input, () => inner.invoke(input as never, rest), run);
    } catch (error) {
      if (!(error instanceof Blocked) || onBlock === "raise" || !toolCall?.id) throw error;
      return new ToolMessage({
        // A withheld output: the tool ran, but the model does not get what it returned.
        content: `${error instanceof OutputWithheld ? "Output withheld" : "Not run"}: ${error.message}`,
        tool_call_id: toolCall.id,
        name: inner.name,
        status: "error",
      });
    }
  };
  return makeTool(func as never, {
    name: inner.name,
    description: inner.description,
    schema: inner.schema as never,
  }) as unknown as StructuredToolInterface;
}

// The most runs in progress a handler remembers (oldest forgotten first: a run whose end
// never comes must not make the table grow without end; a model call below a forgotten
// run is not taken for the conversation's).
const RUNS_REMEMBERED = 4096;

/**
 * Records the user's turns before each of the conversation's chat model calls (once each),
 * so a value the user typed counts as trusted when a later tool call uses it. A failure to
 * record stops the model call (the handler raises, and is awaited).
 *
 * Only the conversation's own model calls are read: the invocation's root run, or a call
 * nested only in chains (the agent's graph and its nodes) that this handler saw start. A
 * model call nested in a tool or a retriever (a tool that runs an LLM on what it fetched,
 * passing its `config` on) carries the tool's text, not the user's, and is never read; nor
 * is one below a run the handler did not see start. Pass the handler in the invocation's
 * `callbacks`, so that it sees the whole run tree.
 */
export class AeclCallbackHandler extends BaseCallbackHandler {
  name = "aecl";
  readonly #guard: Guard;
  readonly #turns = new UserTurns();
  // The runs in progress: each one's parent, and whether it is a tool's (or a retriever's).
  readonly #runs = new Map<string, { parent: string | undefined; tool: boolean }>();

  constructor(guard: Guard) {
    // Awaited and raising: the model call waits for the record, and a failure stops it.
    // Awaited also keeps the run tree in step: a run's start is seen before its children's.
    super({ _awaitHandler: true, raiseError: true });
    this.#guard = guard;
  }

  override async handleChatModelStart(
    _llm: unknown,
    messages: BaseMessage[][],
    runId: string,
    parentRunId?: string,
    _extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    this.#started(runId, parentRunId, false);
    if (!this.#conversational(parentRunId)) return;
    const texts: string[] = [];
    for (const message of messages[0] ?? []) {
      if (message.getType() !== "human") continue;
      const text = textOf(message.content);
      if (text !== undefined) texts.push(text);
    }
    const run = runOf(this.#guard, metadata ? { metadata } : undefined);
    await this.#turns.report(this.#guard, run, texts);
  }

  override handleChainStart(
    _chain: unknown,
    _inputs: unknown,
    runId: string,
    _runType?: string,
    _tags?: string[],
    _metadata?: Record<string, unknown>,
    _runName?: string,
    parentRunId?: string,
  ): void {
    this.#started(runId, parentRunId, false);
  }

  override handleToolStart(_tool: unknown, _input: string, runId: string, parentRunId?: string): void {
    this.#started(runId, parentRunId, true);
  }

  override handleRetrieverStart(_retriever: unknown, _query: string, runId: string, parentRunId?: string): void {
    this.#started(runId, parentRunId, true);
  }

  override handleLLMStart(_llm: unknown, _prompts: string[], runId: string, parentRunId?: string): void {
    this.#started(runId, parentRunId, false);
  }

  override handleChainEnd(_outputs: unknown, runId: string): void {
    this.#runs.delete(runId);
  }

  override handleChainError(_error: unknown, runId: string): void {
    this.#runs.delete(runId);
  }

  override handleToolEnd(_output: unknown, runId: string): void {
    this.#runs.delete(runId);
  }

  override handleToolError(_error: unknown, runId: string): void {
    this.#runs.delete(runId);
  }

  override handleRetrieverEnd(_documents: unknown, runId: string): void {
    this.#runs.delete(runId);
  }

  override handleRetrieverError(_error: unknown, runId: string): void {
    this.#runs.delete(runId);
  }

  override handleLLMEnd(_output: unknown, runId: string): void {
    this.#runs.delete(runId);
  }

  override handleLLMError(_error: unknown, runId: string): void {
    this.#runs.delete(runId);
  }

  #started(runId: string, parent: string | undefined, tool: boolean): void {
    this.#runs.set(runId, { parent, tool });
    while (this.#runs.size > RUNS_REMEMBERED) {
      const oldest = this.#runs.keys().next().value;
      if (oldest === undefined) break;
      this.#runs.delete(oldest);
    }
  }

  /** Whether a model call under `parent` is the conversation's (see the class doc). */
  #conversational(parent: string | undefined): boolean {
    let id = parent;
    for (let depth = 0; id !== undefined; depth += 1) {
      const run = this.#runs.get(id);
      if (run === undefined || run.tool || depth > RUNS_REMEMBERED) return false;
      id = run.parent;
    }
    return true;
  }
}
