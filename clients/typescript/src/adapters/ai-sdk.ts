/**
 * Vercel AI SDK (`ai` 5 and 6): every tool of a `generateText`/`streamText` call is decided
 * by aecl before its `execute` runs.
 *
 *     import { generateText, tool } from "ai";
 *     import { guardTools } from "@aecl/client/ai-sdk";
 *
 *     const tools = guardTools(guard, { lookup_order: tool({ ... }) });
 *     await generateText({ model, tools, prompt });
 *
 * The key of a tool in the record is its name (the catalog action unless the guard's
 * `actions` maps it). Before a call is decided, the user turns of the messages the SDK
 * hands the tool are recorded (once each); after it ran, its output. A refused call does
 * not run: `execute` throws the `Blocked`, which the SDK returns to the model as a tool
 * error with the reason. Needs no import of `ai`: a tool is anything with an `execute`.
 *
 * A tool without `execute` is refused (a `TypeError` naming it) unless `allowUnguarded`
 * names it: the SDK never runs it here, so aecl could neither decide its calls nor see its
 * output. Those are provider-executed tools (a provider's web search or web fetch, run by
 * the model's provider, whose results reach the model unseen by aecl) and tools whose calls
 * the application answers itself.
 */

import type { Guard } from "../guard.js";
import { UserTurns, textOf } from "./messages.js";

/** The part of the SDK's `ToolExecutionOptions` the wrapper reads. */
export interface ToolCallOptions {
  toolCallId?: string;
  messages?: readonly unknown[];
}

type Execute = (input: never, options: never) => unknown;

export interface GuardToolsOptions {
  /** The run of a call (default: the guard's): e.g. from `experimental_context`. */
  runOf?: (options: ToolCallOptions) => string | undefined;
}

export interface GuardToolSetOptions extends GuardToolsOptions {
  /**
   * Names of tools without `execute` (provider-executed tools such as a provider's web
   * search) to keep as they are: aecl neither decides their calls nor sees their output.
   */
  allowUnguarded?: readonly string[];
}

/**
 * Copies of the tools, each with an `execute` that asks aecl first. A tool without
 * `execute` is refused with a `TypeError`, unless `allowUnguarded` names it (it is then
 * kept as it is).
 */
export function guardTools<T extends Record<string, { execute?: Execute }>>(
  guard: Guard,
  tools: T,
  options: GuardToolSetOptions = {},
): T {
  const { allowUnguarded, ...rest } = options;
  if (typeof allowUnguarded === "string") throw new TypeError("aecl: `allowUnguarded` is a list of names, not a string");
  const allowed = new Set(allowUnguarded ?? []);
  const turns = new UserTurns();
  const out: Record<string, unknown> = {};
  for (const [name, tool] of Object.entries(tools)) {
    out[name] = typeof tool?.execute !== "function" && allowed.has(name) ? tool : guardTool(guard, name, tool, { ...rest, turns });
  }
  return out as T;
}

/**
 * One tool whose `execute` asks aecl first; `name` is its name in the tools record. A tool
 * without `execute` is refused with a `TypeError` (see the module's doc).
 */
export function guardTool<T extends { execute?: Execute }>(
  guard: Guard,
  name: string,
  tool: T,
  options: GuardToolsOptions & { turns?: UserTurns } = {},
): T {
  const execute = tool?.execute as ((input: unknown, options: ToolCallOptions) => unknown) | undefined;
  if (typeof execute !== "function") {
    const kind = (tool as { type?: unknown } | undefined)?.type === "provider" ? "a provider-executed tool" : "a tool without `execute`";
    throw new TypeError(
      `aecl: \`${name}\` is ${kind}: the SDK does not run it here, so aecl can neither decide its calls ` +
        "nor see its output (data flow would not see what it returns). Give it an `execute`, leave it out, " +
        "or name it in guardTools' `allowUnguarded` to keep it unguarded.",
    );
  }
  const turns = options.turns ?? new UserTurns();
  const guarded = async (input: unknown, callOptions: ToolCallOptions = {}): Promise<unknown> => {
    const run = guard.runOf(options.runOf?.(callOptions));
    await turns.report(guard, run, userTexts(callOptions.messages));
    return guard.call(name, input, async () => finalOf(await execute.call(tool, input, callOptions)), run);
  };
  return { ...tool, execute: guarded };
}

/**
 * The output of an `execute`: a streaming tool (an async generator) yields preliminary
 * results and its last one is the output. It is drained here, so that what the model gets
 * is the value aecl recorded (the preliminary results are not streamed).
 */
async function finalOf(value: unknown): Promise<unknown> {
  if (typeof value !== "object" || value === null || !(Symbol.asyncIterator in value)) return value;
  let last: unknown;
  for await (const item of value as AsyncIterable<unknown>) last = item;
  return last;
}

/** The texts of the `user` messages of an AI SDK message list, in order. */
export function userTexts(messages: readonly unknown[] | undefined): string[] {
  const texts: string[] = [];
  for (const message of messages ?? []) {
    if (typeof message !== "object" || message === null) continue;
    const { role, content } = message as Record<string, unknown>;
    if (role !== "user") continue;
    const text = textOf(content);
    if (text !== undefined) texts.push(text);
  }
  return texts;
}
