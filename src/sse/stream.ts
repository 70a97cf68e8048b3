import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import { encodeRetry } from './encode';

/** Small, so a client that stops reading backs up into its socket instead of our heap. */
const STREAM_HIGH_WATER_MARK = 16 * 1024;

type Response = ServerResponse | Http2ServerResponse;

/**
 * One open text/event-stream response. `close()` is the single way it ends, whoever ends it (the client going
 * away, a terminal event, an error, shutdown); it is idempotent and runs every cleanup registered with `onClose`.
 */
export class EventStream {
  readonly #body: PassThrough;
  #cleanups: Array<() => void> = [];
  #closed = false;
  #clientGone = false;

  constructor(body: PassThrough, response: Response) {
    this.#body = body;
    const onClose = (): void => {
      this.#clientGone = true;
      this.close();
    };
    response.once('close', onClose);
    this.onClose(() => response.off('close', onClose));
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

  /** Ends the response after what was written (or drops it, if the client is gone) and runs the cleanups. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const cleanups = this.#cleanups;
    this.#cleanups = [];
    for (const cleanup of cleanups) cleanup();
    if (this.#clientGone) this.#body.destroy();
    else this.#body.end();
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

/** How a socket reports a client that hung up: the normal end of an event stream, not an error. */
const CLIENT_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/**
 * Sets the SSE headers on a Koa context, makes a PassThrough its body, flushes the headers with a `retry:` line and
 * returns the stream. Koa pipes the body as usual; only for this response, a client hanging up is not reported to
 * `app.on('error')` (Koa 3's pipeline and Koa's on-finished would log a stack trace per closed tab).
 */
export function openEventStream(ctx: Context, retryMs: number): EventStream {
  setEventStreamHeaders(ctx);
  const body = new PassThrough({ highWaterMark: STREAM_HIGH_WATER_MARK });
  ctx.body = body;
  const onerror = ctx.onerror.bind(ctx);
  ctx.onerror = (error: Error) => {
    const code = (error as NodeJS.ErrnoException | null)?.code;
    if (code !== undefined && CLIENT_GONE.has(code)) return;
    onerror(error);
  };
  ctx.flushHeaders();
  const stream = new EventStream(body, ctx.res);
  stream.write(encodeRetry(retryMs));
  return stream;
}
