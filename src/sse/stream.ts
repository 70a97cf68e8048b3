import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import { encodeRetry } from './encode';

/** Small, so a client that stops reading backs up into its socket instead of our heap. */
const STREAM_HIGH_WATER_MARK = 16 * 1024;

/**
 * One open text/event-stream response. `close()` is the single way it ends, whoever ends it (the client going
 * away, a terminal event, an error, shutdown); it is idempotent and runs every cleanup registered with `onClose`.
 */
export class EventStream {
  #body: PassThrough;
  #cleanups: Array<() => void> = [];
  #closed = false;

  constructor(body: PassThrough) {
    this.#body = body;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes one or more whole frames; a no-op once closed, so a late event can never reach a dead socket. */
  write(frame: string | Buffer): void {
    if (!this.#closed) this.#body.write(frame);
  }

  /** Runs `cleanup` when the stream closes, or at once if it already has. */
  onClose(cleanup: () => void): void {
    if (this.#closed) cleanup();
    else this.#cleanups.push(cleanup);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const cleanups = this.#cleanups;
    this.#cleanups = [];
    for (const cleanup of cleanups) cleanup();
    if (!this.#body.destroyed) this.#body.end();
  }
}

/** Status 200 and the SSE headers, without a body: what HEAD answers, and the start of every stream. */
export function setEventStreamHeaders(ctx: Context): void {
  ctx.status = 200;
  ctx.set('Content-Type', 'text/event-stream; charset=utf-8');
  ctx.set('Cache-Control', 'no-cache, no-transform');
  // nginx buffers proxied responses unless told not to.
  ctx.set('X-Accel-Buffering', 'no');
  if (ctx.req.httpVersionMajor < 2) ctx.set('Connection', 'keep-alive');
  // koa-compress buffers until it has enough to compress; events must leave at once.
  (ctx as Context & { compress?: boolean }).compress = false;
}

/**
 * Sets the SSE headers on a Koa context, makes a PassThrough its body, flushes the headers with a `retry:` line
 * and returns the stream. Connection-specific headers are set on HTTP/1.x only: HTTP/2 forbids them.
 */
export function openEventStream(ctx: Context, retryMs: number): EventStream {
  setEventStreamHeaders(ctx);
  const body = new PassThrough({ highWaterMark: STREAM_HIGH_WATER_MARK });
  const stream = new EventStream(body);
  ctx.body = body;
  ctx.flushHeaders();
  stream.write(encodeRetry(retryMs));

  const close = (): void => stream.close();
  ctx.res.once('close', close);
  stream.onClose(() => ctx.res.off('close', close));
  return stream;
}
