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

/**
 * Records the user's turns before each chat model call of the agent (once each), so a
 * value the user typed counts as trusted when a later tool call uses it. A failure to
 * record stops the model call (the handler raises, and is awaited).
 */
export class AeclCallbackHandler extends BaseCallbackHandler {
  name = "aecl";
  readonly #guard: Guard;
  readonly #turns = new UserTurns();

  constructor(guard: Guard) {
    // Awaited and raising: the model call waits for the record, and a failure stops it.
    super({ _awaitHandler: true, raiseError: true });
    this.#guard = guard;
  }

  override async handleChatModelStart(
    _llm: unknown,
    messages: BaseMessage[][],
    _runId: string,
    _parentRunId?: string,
    _extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    const texts: string[] = [];
    for (const message of messages[0] ?? []) {
      if (message.getType() !== "human") continue;
      const text = textOf(message.content);
      if (text !== undefined) texts.push(text);
    }
    const run = runOf(this.#guard, metadata ? { metadata } : undefined);
    await this.#turns.report(this.#guard, run, texts);
  }
}
