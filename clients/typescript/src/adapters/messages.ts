/**
 * The user's turns of a conversation, reported once each: the frameworks hand a tool the
 * whole history on every call, so the adapters remember how many user turns of a run they
 * have already recorded and send only the new ones, before the call is decided (a value the
 * user typed then counts as trusted for that call).
 */

import type { Guard } from "../guard.js";

export class UserTurns {
  readonly #seen = new Map<string, number>();
  // One report at a time per run: tool calls of one step run concurrently and each sees
  // the same history, which must be recorded once.
  readonly #queue = new Map<string, Promise<void>>();

  /**
   * Records the texts past those already recorded for `run`. A failure throws (a
   * `Blocked`): the caller does not go on to the call, and the turns are retried next time.
   */
  async report(guard: Guard, run: string, texts: readonly string[]): Promise<void> {
    const previous = this.#queue.get(run) ?? Promise.resolve();
    const mine = previous.catch(() => undefined).then(async () => {
      const done = this.#seen.get(run) ?? 0;
      for (let i = done; i < texts.length; i += 1) {
        await guard.userMessage(texts[i] as string, run);
        this.#seen.set(run, i + 1);
      }
    });
    this.#queue.set(run, mine);
    try {
      await mine;
    } finally {
      if (this.#queue.get(run) === mine) this.#queue.delete(run);
    }
  }
}

/** The text of a message's content: a string, or the `text` parts of a list of parts. */
export function textOf(content: unknown): string | undefined {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return undefined;
  const parts = content
    .map((part: unknown) => {
      if (typeof part === "string") return part;
      if (typeof part === "object" && part !== null) {
        const { type, text } = part as Record<string, unknown>;
        if ((type === "text" || type === "input_text") && typeof text === "string") return text;
      }
      return undefined;
    })
    .filter((text): text is string => text !== undefined);
  return parts.length > 0 ? parts.join("\n") : undefined;
}
