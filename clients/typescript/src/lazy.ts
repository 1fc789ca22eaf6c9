/**
 * Outputs whose content only shows when the caller reads them: a generator or another
 * iterator, an async iterable (an async generator, a Node.js stream), a web
 * `ReadableStream`, a fetch `Response` and a `Blob`. Recorded as they are, they would be
 * `{}` or `"[object Generator]"`: the text the caller then reads (a page's link, an
 * invoice's IBAN) was never shown to aecl, and a value taken from it would pass the
 * data-flow check as the model's own (red team round 27, flow D2).
 *
 * So a guarded tool's lazy output is read to its end first. What was read is recorded,
 * and the caller gets the same content in the same form: an iterator over the items, a
 * stream of the same chunks, the `Response` or `Blob` itself (its body read from a copy).
 * The caller's reading then starts after the tool's work is done, which is what recording
 * before handing on means; a stream that never ends never returns.
 */

/** What is recorded of an output, and what the caller gets. */
export interface Settled {
  recorded: unknown;
  handed: unknown;
}

/** Reads a lazy output to its end; a value that is not lazy is both recorded and handed on. */
export async function settle(value: unknown): Promise<Settled> {
  if (typeof value !== "object" || value === null) return { recorded: value, handed: value };
  if (typeof Response !== "undefined" && value instanceof Response) {
    const body = value.bodyUsed ? "" : await value.clone().text();
    const recorded = {
      status: value.status,
      statusText: value.statusText,
      url: value.url,
      headers: Object.fromEntries(value.headers),
      body,
    };
    return { recorded, handed: value };
  }
  if (typeof Blob !== "undefined" && value instanceof Blob) {
    return { recorded: await value.text(), handed: value };
  }
  if (typeof ReadableStream !== "undefined" && value instanceof ReadableStream) {
    const items = await readStream(value);
    return { recorded: recordedForm(items), handed: streamOf(items) };
  }
  if (isIterator(value)) {
    const items = [...(value as Iterable<unknown>)];
    return { recorded: recordedForm(items), handed: items[Symbol.iterator]() };
  }
  if (Symbol.asyncIterator in value) {
    const items: unknown[] = [];
    for await (const item of value as AsyncIterable<unknown>) items.push(item);
    return { recorded: recordedForm(items), handed: replayOf(value, items) };
  }
  return { recorded: value, handed: value };
}

/**
 * An iterator that is not a collection: a generator, a `Map`'s `entries()`, a string's
 * `matchAll`. Arrays, maps, sets and typed arrays are read whole by the recorder as they
 * are.
 */
function isIterator(value: object): boolean {
  if (Array.isArray(value) || value instanceof Map || value instanceof Set || ArrayBuffer.isView(value)) {
    return false;
  }
  return Symbol.iterator in value && typeof (value as { next?: unknown }).next === "function";
}

async function readStream(stream: ReadableStream<unknown>): Promise<unknown[]> {
  const reader = stream.getReader();
  const items: unknown[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return items;
    items.push(value);
  }
}

function streamOf(items: unknown[]): ReadableStream<unknown> {
  return new ReadableStream({
    start(controller) {
      for (const item of items) controller.enqueue(item);
      controller.close();
    },
  });
}

/**
 * The items of an async iterable again: a Node.js stream as a stream of the same class
 * family (its `from`, so `pipe` and events still work), anything else as an async iterator.
 */
function replayOf(original: object, items: unknown[]): unknown {
  const maker = (original as { constructor?: { from?: unknown } }).constructor;
  const from = maker?.from;
  if (typeof (original as { pipe?: unknown }).pipe === "function" && typeof from === "function") {
    try {
      return from.call(maker, items);
    } catch {
      // An async iterator below.
    }
  }
  return (async function* replay() {
    yield* items;
  })();
}

/**
 * Chunks of text or bytes are recorded as the one text the caller puts together (a value
 * split across two chunks is still one value); other items as the list.
 */
export function recordedForm(items: unknown[]): unknown {
  if (items.length > 0 && items.every((item) => typeof item === "string")) return items.join("");
  if (items.length > 0 && items.every((item) => item instanceof Uint8Array)) {
    const decoder = new TextDecoder();
    let text = "";
    for (const item of items) text += decoder.decode(item as Uint8Array, { stream: true });
    return text + decoder.decode();
  }
  return items;
}
