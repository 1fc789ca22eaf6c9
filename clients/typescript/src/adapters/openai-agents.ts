/**
 * OpenAI Agents SDK for JavaScript (`@openai/agents`): a tool input guardrail that has aecl
 * decide each function tool call before it runs, a tool output guardrail that records the
 * output, and an agent input guardrail that records the user's turns.
 *
 *     import { Agent, run, tool } from "@openai/agents";
 *     import { guardAgentTools, userTurnsGuardrail } from "@aecl/client/openai-agents";
 *
 *     const agent = new Agent({ name, tools: guardAgentTools(guard, [lookupOrder]),
 *                               inputGuardrails: [userTurnsGuardrail(guard)] });
 *
 * A refused call does not run: the input guardrail answers `rejectContent` with the reason,
 * which the SDK gives the model as the tool's output. An output that cannot be recorded is
 * replaced by a refusal the same way (it is withheld from the model). The guardrails are
 * plain objects of the SDK's shapes: no import of the SDK is needed.
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
  return { input, output };
}

function keyOf(call: FunctionCall): string {
  return `${call.callId ?? ""}\u0000${call.name}\u0000${call.arguments}`;
}

type GuardableTool = {
  type?: string;
  inputGuardrails?: unknown[];
  outputGuardrails?: unknown[];
};

/**
 * The tools with aecl's guardrails first (function tools only: other kinds, such as hosted
 * tools, run at OpenAI and never reach this process).
 */
export function guardAgentTools<T extends GuardableTool>(guard: Guard, tools: readonly T[]): T[] {
  const { input, output } = toolGuardrails(guard);
  return tools.map((tool) => {
    if (tool.type !== "function") return tool;
    return {
      ...tool,
      inputGuardrails: [input, ...(tool.inputGuardrails ?? [])],
      outputGuardrails: [output, ...(tool.outputGuardrails ?? [])],
    };
  });
}

/** The SDK's `InputGuardrail` shape. */
export interface AgentInputGuardrail {
  name: string;
  runInParallel: boolean;
  execute: (args: { input: string | readonly unknown[] }) => Promise<{ tripwireTriggered: boolean; outputInfo: unknown }>;
}

/**
 * An agent input guardrail that records the user's turns of the run's input before the
 * model runs (`runInParallel: false`). A failure to record trips the wire: the run stops.
 */
export function userTurnsGuardrail(guard: Guard): AgentInputGuardrail {
  const turns = new UserTurns();
  return {
    name: "aecl-user-turns",
    runInParallel: false,
    async execute({ input }) {
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
