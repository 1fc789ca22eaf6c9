/**
 * OpenAI Agents SDK for JavaScript (`@openai/agents`): a tool input guardrail that has aecl
 * decide each function tool call before it runs, a tool output guardrail that records the
 * output, MCP servers carrying the same guardrails for their tools, and an agent input
 * guardrail that records the user's turns and refuses an agent with tools aecl does not
 * guard.
 *
 *     import { Agent, run, tool } from "@openai/agents";
 *     import { guardAgentTools, guardMcpServers, userTurnsGuardrail } from "@aecl/client/openai-agents";
 *
 *     const agent = new Agent({ name, tools: guardAgentTools(guard, [lookupOrder]),
 *                               mcpServers: guardMcpServers(guard, [docsServer]),
 *                               inputGuardrails: [userTurnsGuardrail(guard)] });
 *
 * A refused call does not run: the input guardrail answers `rejectContent` with the reason,
 * which the SDK gives the model as the tool's output. An output that cannot be recorded is
 * replaced by a refusal the same way (it is withheld from the model). The guardrails are
 * plain objects of the SDK's shapes: no import of the SDK is needed.
 *
 * Nothing is left unguarded silently: `guardAgentTools` refuses tools that take no
 * guardrails (hosted tools), and `userTurnsGuardrail` trips before the model runs when the
 * agent (or an agent it hands off to) has a function tool or an MCP server without aecl's
 * guardrails, or any other tool, unless `allowUnguarded` names it.
 */

import { Blocked } from "../errors.js";
import type { Guard } from "../guard.js";
import type { Decision } from "../types.js";
import { describe } from "../types.js";
import { UserTurns, textOf } from "./messages.js";

/** The SDK's `ToolGuardrailFunctionOutput`. */
export type ToolGuardrailOutput = {
  behavior: { type: "allow" } | { type: "rejectContent"; message: string };
  outputInfo?: unknown;
};

/** The part of the SDK's function call item the guardrails read. */
export interface FunctionCall {
  callId?: string;
  name: string;
  arguments: string;
}

export interface ToolInputGuardrail {
  type: "tool_input";
  name: string;
  run: (data: { toolCall: FunctionCall }) => Promise<ToolGuardrailOutput>;
}

export interface ToolOutputGuardrail {
  type: "tool_output";
  name: string;
  run: (data: { toolCall: FunctionCall; output: unknown }) => Promise<ToolGuardrailOutput>;
}

// On each input guardrail `toolGuardrails` made, its output guardrail: how the check for
// unguarded tools knows aecl's guardrails (by identity, not by name). A registered symbol,
// so that the ES module and CommonJS copies of this package know each other's.
const PAIR = Symbol.for("@aecl/client/openai-agents.output");

/** The input and output guardrails of one guard; they share the allowed calls in flight. */
export function toolGuardrails(guard: Guard): { input: ToolInputGuardrail; output: ToolOutputGuardrail } {
  const allowed = new Map<string, Decision>();
  const reject = (message: string, info?: unknown): ToolGuardrailOutput => ({
    behavior: { type: "rejectContent", message },
    outputInfo: info,
  });
  const input: ToolInputGuardrail = {
    type: "tool_input",
    name: "aecl",
    async run({ toolCall }) {
      let args: unknown;
      try {
        args = toolCall.arguments ? JSON.parse(toolCall.arguments) : {};
      } catch (error) {
        return reject(`Not run: aecl: the arguments are not JSON (${describe(error)})`);
      }
      try {
        const decision = await guard.check(toolCall.name, args);
        allowed.set(keyOf(toolCall), decision);
        return { behavior: { type: "allow" }, outputInfo: { callId: decision.callId } };
      } catch (error) {
        if (error instanceof Blocked) return reject(`Not run: ${error.message}`, { decision: error.decision?.decision });
        return reject(`Not run: aecl: ${describe(error)}`);
      }
    },
  };
  const output: ToolOutputGuardrail = {
    type: "tool_output",
    name: "aecl",
    async run({ toolCall, output: value }) {
      const key = keyOf(toolCall);
      const decision = allowed.get(key);
      allowed.delete(key);
      // No allow for this call (another guardrail's or none): nothing aecl knows ran.
      if (decision === undefined) return reject("Output withheld: aecl did not allow this call");
      try {
        await guard.report(decision, value);
        return { behavior: { type: "allow" } };
      } catch (error) {
        return reject(`Output withheld: ${describe(error)}`);
      }
    },
  };
  Object.defineProperty(input, PAIR, { value: output });
  return { input, output };
}

function keyOf(call: FunctionCall): string {
  return `${call.callId ?? ""}\u0000${call.name}\u0000${call.arguments}`;
}

type GuardableTool = {
  type?: string;
  name?: string;
  inputGuardrails?: unknown[];
  outputGuardrails?: unknown[];
};

export interface GuardAgentToolsOptions {
  /**
   * Names of tools that take no guardrails (hosted tools, which run at OpenAI) to pass
   * through unguarded: aecl neither decides their calls nor sees their output.
   */
  allowUnguarded?: readonly string[];
}

/**
 * Copies of the tools with aecl's guardrails first (the tools given are not changed).
 * A tool that takes no guardrails (a hosted tool: it runs at OpenAI, and its output never
 * reaches this process) is refused with a `TypeError`, unless `allowUnguarded` names it.
 */
export function guardAgentTools<T extends GuardableTool>(
  guard: Guard,
  tools: readonly T[],
  options: GuardAgentToolsOptions = {},
): T[] {
  const allowed = allowedNames(options.allowUnguarded);
  const { input, output } = toolGuardrails(guard);
  return tools.map((tool) => {
    if (tool.type !== "function") {
      const name = nameOf(tool);
      if (allowed.has(name)) return tool;
      throw new TypeError(
        `aecl: \`${name}\` is not a function tool: aecl can neither decide its calls nor see its output. ` +
          "Leave it out, or name it in `allowUnguarded` to run it unguarded.",
      );
    }
    return {
      ...tool,
      inputGuardrails: [input, ...(tool.inputGuardrails ?? [])],
      outputGuardrails: [output, ...(tool.outputGuardrails ?? [])],
    };
  });
}

/** The part of the SDK's `MCPServer` the guard reads. */
type GuardableServer = {
  readonly name: string;
  toolInputGuardrails?: unknown[];
  toolOutputGuardrails?: unknown[];
};

/**
 * The MCP servers, each carrying aecl's tool guardrails first: the SDK gives them to every
 * tool it makes of the server for a run, so each call of an MCP tool is decided (the tool's
 * name as the model sees it is the catalog action unless the guard's `actions` maps it) and
 * its output recorded, as for a function tool. Each is a view of the server given (a
 * `Proxy`: connecting or closing it does so to the server), which is not changed.
 */
export function guardMcpServers<T extends GuardableServer>(guard: Guard, servers: readonly T[]): T[] {
  const { input, output } = toolGuardrails(guard);
  return servers.map((server) => {
    if (typeof server !== "object" || server === null || typeof server.name !== "string") {
      throw new TypeError("aecl: guardMcpServers takes the SDK's MCP servers");
    }
    return new Proxy(server, {
      get(target, key) {
        if (key === "toolInputGuardrails") return [input, ...(target.toolInputGuardrails ?? [])];
        if (key === "toolOutputGuardrails") return [output, ...(target.toolOutputGuardrails ?? [])];
        const value: unknown = Reflect.get(target, key, target);
        // Methods run on the server itself (its private fields and its connection).
        return typeof value === "function" ? value.bind(target) : value;
      },
      set(target, key, value) {
        return Reflect.set(target, key, value, target);
      },
    });
  });
}

/** The part of the SDK's `Agent` the check for unguarded tools reads. */
type CheckedAgent = {
  name?: string;
  tools?: readonly GuardableTool[];
  mcpServers?: readonly GuardableServer[];
  handoffs?: readonly unknown[];
};

/**
 * What of `agent`, and of the agents it can hand off to, runs without aecl: a function
 * tool or an MCP server without an input guardrail of {@link toolGuardrails} and its output
 * guardrail, any other tool; those `allowUnguarded` names (tools by name, servers by
 * `name`) excepted. Each entry says which agent and what.
 */
export function unguarded(agent: unknown, allowUnguarded: readonly string[] = []): string[] {
  const allowed = allowedNames(allowUnguarded);
  const found: string[] = [];
  const seen = new Set<unknown>();
  const visit = (candidate: unknown): void => {
    if (typeof candidate !== "object" || candidate === null || seen.has(candidate)) return;
    seen.add(candidate);
    const current = candidate as CheckedAgent;
    const where = `agent \`${current.name ?? "?"}\``;
    for (const tool of current.tools ?? []) {
      const name = nameOf(tool);
      if (allowed.has(name)) continue;
      if (tool.type === "function" && guarded(tool.inputGuardrails, tool.outputGuardrails)) continue;
      found.push(`${where}: tool \`${name}\``);
    }
    for (const server of current.mcpServers ?? []) {
      const name = nameOf(server);
      if (allowed.has(name) || guarded(server.toolInputGuardrails, server.toolOutputGuardrails)) continue;
      found.push(`${where}: MCP server \`${name}\``);
    }
    for (const handoff of current.handoffs ?? []) {
      // An Agent, or a Handoff (it has a `toolName`) whose `agent` is the one it hands off to.
      const entry = (handoff ?? {}) as { toolName?: unknown; agent?: unknown };
      visit(typeof entry.toolName === "string" ? entry.agent : handoff);
    }
  };
  visit(agent);
  return found;
}

function guarded(inputs: readonly unknown[] | undefined, outputs: readonly unknown[] | undefined): boolean {
  return (inputs ?? []).some((input) => {
    const output = typeof input === "object" && input !== null ? (input as Record<symbol, unknown>)[PAIR] : undefined;
    return output !== undefined && (outputs ?? []).includes(output);
  });
}

function allowedNames(names: readonly string[] | undefined): Set<string> {
  if (typeof names === "string") throw new TypeError("aecl: `allowUnguarded` is a list of names, not a string");
  return new Set(names ?? []);
}

function nameOf(thing: unknown): string {
  const name = typeof thing === "object" && thing !== null ? (thing as { name?: unknown }).name : undefined;
  return typeof name === "string" && name !== "" ? name : String((thing as { type?: unknown })?.type ?? thing);
}

/** The SDK's `InputGuardrail` shape. */
export interface AgentInputGuardrail {
  name: string;
  runInParallel: boolean;
  execute: (args: {
    input: string | readonly unknown[];
    agent?: unknown;
  }) => Promise<{ tripwireTriggered: boolean; outputInfo: unknown }>;
}

export interface UserTurnsGuardrailOptions {
  /** Tools (by name) and MCP servers (by `name`) that may run without aecl's guardrails. */
  allowUnguarded?: readonly string[];
}

/**
 * An agent input guardrail that runs before the model (`runInParallel: false`): it trips
 * when the agent, or an agent it can hand off to, has tools aecl does not guard (see
 * {@link unguarded}), then records the user's turns of the run's input. A failure to record
 * trips the wire too: the run stops.
 */
export function userTurnsGuardrail(guard: Guard, options: UserTurnsGuardrailOptions = {}): AgentInputGuardrail {
  const allowUnguarded = [...allowedNames(options.allowUnguarded)];
  const turns = new UserTurns();
  return {
    name: "aecl-user-turns",
    runInParallel: false,
    async execute({ input, agent }) {
      const missing = unguarded(agent, allowUnguarded);
      if (missing.length > 0) {
        return {
          tripwireTriggered: true,
          outputInfo: {
            error:
              `aecl: tools aecl does not guard: ${missing.join(", ")}. Their calls would run undecided and ` +
              "what they return would never reach aecl, so data flow could not see it. Guard function tools " +
              "with guardAgentTools and MCP servers with guardMcpServers (or put `aecl mcp` in front of the " +
              "server), or name those that may run unguarded in userTurnsGuardrail's `allowUnguarded`.",
            unguarded: missing,
          },
        };
      }
      const texts: string[] = [];
      if (typeof input === "string") texts.push(input);
      else {
        for (const item of input) {
          if (typeof item !== "object" || item === null) continue;
          const { role, content } = item as Record<string, unknown>;
          if (role !== "user") continue;
          const text = textOf(content);
          if (text !== undefined) texts.push(text);
        }
      }
      try {
        await turns.report(guard, guard.runOf(), texts);
        return { tripwireTriggered: false, outputInfo: { recorded: texts.length } };
      } catch (error) {
        return { tripwireTriggered: true, outputInfo: { error: describe(error) } };
      }
    },
  };
}
