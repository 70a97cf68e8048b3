/**
 * The text/event-stream wire format (WHATWG HTML, "Server-sent events") as pure functions.
 * `encodeEvent` returns the exact text of one block, ending with the blank line that dispatches it; `encodeRetry`
 * one field line, which joins the next block.
 */

/** One event: every field optional, but a browser dispatches only events that have `data`. */
export interface SseEvent {
  event?: string;
  id?: string;
  data?: string;
}

const LINE_BREAK = /\r\n|\r|\n/;

function assertSingleLine(field: string, value: string): void {
  if (/[\r\n]/.test(value)) {
    throw new TypeError(`koa-sse-tasks: an SSE ${field} must not contain CR or LF, got ${JSON.stringify(value)}`);
  }
}

/** `event: progress\nid: 7\ndata: a\ndata: b\n\n`. Data lines split on CR, LF and CRLF alike. */
export function encodeEvent({ event, id, data }: SseEvent): string {
  let out = '';
  if (event !== undefined) {
    assertSingleLine('event name', event);
    out += `event: ${event}\n`;
  }
  if (id !== undefined) {
    assertSingleLine('id', id);
    // The spec makes a parser ignore an id containing NULL, which would silently break resumption.
    if (id.includes('\0'))
      throw new TypeError(`koa-sse-tasks: an SSE id must not contain NULL, got ${JSON.stringify(id)}`);
    out += `id: ${id}\n`;
  }
  if (data === undefined) return `${out}\n`;
  // Most data is JSON, one line: two plain searches are much cheaper than a split on a large text (a late joiner's
  // whole output).
  if (!data.includes('\n') && !data.includes('\r')) return `${out}data: ${data}\n\n`;
  for (const line of data.split(LINE_BREAK)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/**
 * `retry: <ms>\n`, the field line alone, without the blank line that ends a block: written first on a stream, it
 * joins the block of the stream's first event. A block of its own is not dispatched by EventSource, but
 * fetch-based clients (`@microsoft/fetch-event-source`, `extended-eventsource`, Python's `httpx-sse`) hand it to the
 * app as an empty message, and `JSON.parse('')` then throws.
 */
export function encodeRetry(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) {
    throw new TypeError(`koa-sse-tasks: an SSE retry must be an integer >= 0, got ${String(ms)} (${typeof ms})`);
  }
  return `retry: ${ms}\n`;
}
