import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { Readable } from 'node:stream';
import type { Context } from 'koa';
import { encodeRetry } from './encode';

type Response = ServerResponse | Http2ServerResponse;

/** How a stream treats a client that reads slower than events come. */
export interface StreamLimits {
  /** The `retry:` line written first: how long a browser waits before reconnecting, in ms. */
  retryMs: number;
  /** Bytes that may wait for the client before it counts as backed up (the body's high-water mark). */
  bufferBytes: number;
  /** How long a client may stay backed up before it is disconnected, in ms. */
  slowClientMs: number;
}

/**
 * The response body: a Readable that whole frames are pushed into. Not a PassThrough: with no writable side, a
 * frame costs one `push()`, and a fan-out to thousands of streams spends a third less CPU (see BENCHMARKS.md).
 */
class EventBody extends Readable {
  readonly #onRead: () => void;

  constructor(highWaterMark: number, onRead: () => void) {
    super({ highWaterMark });
    this.#onRead = onRead;
  }

  override _read(): void {
    this.#onRead();
  }
}

/**
 * One open text/event-stream response. `close()` is the single way it ends, whoever ends it (the client going
 * away, a terminal event, an error, shutdown); it is idempotent and runs every cleanup registered with `onClose`.
 *
 * A client that reads slower than events come backs up the body. Meanwhile a frame written with a `latest` key
 * (progress, heartbeats) replaces the one waiting under that key instead of queueing, so memory stays bounded; other
 * frames are never dropped. A client backed up for longer than `slowClientMs` is disconnected; it resumes with
 * Last-Event-ID like any other.
 */
export class EventStream {
  readonly #body: EventBody;
  readonly #response: Response;
  readonly #slowClientMs: number;
  /** The newest frame per key, held while the client is backed up, in the order they were last written. */
  readonly #latest = new Map<string, string | Buffer>();
  #backedUp = false;
  /** Whether anything reads the body yet: Koa pipes it only after the middleware returns, past the catch-up. */
  #reading = false;
  #slowTimer: NodeJS.Timeout | undefined;
  #cleanups: Array<() => void> = [];
  #closed = false;
  #clientGone = false;

  constructor(response: Response, { bufferBytes, slowClientMs }: Omit<StreamLimits, 'retryMs'>) {
    this.#response = response;
    this.#slowClientMs = slowClientMs;
    this.#body = new EventBody(bufferBytes, () => this.#drained());
    const onClose = (): void => {
      this.#clientGone = true;
      this.close();
    };
    response.once('close', onClose);
    this.onClose(() => response.off('close', onClose));
  }

  get body(): Readable {
    return this.#body;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** True while the client has not taken what was written. */
  get backedUp(): boolean {
    return this.#backedUp;
  }

  /**
   * Writes one or more whole frames; a no-op once closed, so a late event can never reach a dead socket. With
   * `latest`, a backed-up client gets only the newest frame written under that key, when it catches up.
   */
  write(frame: string | Buffer, latest?: string): void {
    if (this.#closed) return;
    if (!this.#backedUp) return this.#push(frame);
    if (latest === undefined) {
      this.#flushLatest();
      this.#push(frame);
    } else {
      this.#latest.delete(latest); // re-inserted last: the held frames stay in the order they were written
      this.#latest.set(latest, frame);
    }
  }

  /** Runs `cleanup` when the stream closes, or at once if it already has. */
  onClose(cleanup: () => void): void {
    if (this.#closed) cleanup();
    else this.#cleanups.push(cleanup);
  }

  /** Ends the response after what was written (or drops it, if the client is gone) and runs the cleanups. */
  close(): void {
    if (this.#closed) return;
    if (!this.#clientGone) this.#flushLatest(); // a client that is gone gets nothing more
    this.#closed = true;
    clearTimeout(this.#slowTimer);
    const cleanups = this.#cleanups;
    this.#cleanups = [];
    for (const cleanup of cleanups) cleanup();
    if (this.#clientGone) this.#body.destroy();
    else this.#body.push(null);
  }

  #push(frame: string | Buffer): void {
    if (this.#body.push(frame) || this.#backedUp || !this.#reading) return;
    this.#backedUp = true;
    this.#slowTimer = setTimeout(() => this.#disconnectSlowClient(), this.#slowClientMs);
    this.#slowTimer.unref();
  }

  /** The client took what was waiting: send the held frames, and it is no longer backed up. */
  #drained(): void {
    this.#reading = true;
    if (!this.#backedUp) return;
    this.#backedUp = false;
    clearTimeout(this.#slowTimer);
    this.#slowTimer = undefined;
    this.#flushLatest();
  }

  #flushLatest(): void {
    if (this.#latest.size === 0) return;
    const held = [...this.#latest.values()];
    this.#latest.clear();
    for (const frame of held) this.#push(frame);
  }

  #disconnectSlowClient(): void {
    this.#latest.clear();
    this.#clientGone = true;
    this.close();
    this.#response.destroy();
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
 * Sets the SSE headers on a Koa context, flushes them with a `retry:` line and returns the stream.
 *
 * The event body is `ctx.body`, so middleware upstream sees what is sent, but we pipe it ourselves
 * (`ctx.respond = false`): Koa 3 pipes with `stream.pipeline`, which per stream costs more memory and CPU than the
 * stream itself (see BENCHMARKS.md), and reports every client that goes away as ERR_STREAM_PREMATURE_CLOSE. For
 * this response only, a client hanging up is not reported to `app.on('error')` either (Koa's on-finished would).
 */
export function openEventStream(ctx: Context, { retryMs, ...limits }: StreamLimits): EventStream {
  setEventStreamHeaders(ctx);
  const stream = new EventStream(ctx.res, limits);
  ctx.body = stream.body;
  ctx.respond = false;
  const onerror = ctx.onerror.bind(ctx);
  ctx.onerror = (error: Error) => {
    const code = (error as NodeJS.ErrnoException | null)?.code;
    if (code !== undefined && CLIENT_GONE.has(code)) return;
    onerror(error);
  };
  ctx.flushHeaders();
  stream.body.pipe(ctx.res as NodeJS.WritableStream);
  stream.write(encodeRetry(retryMs));
  return stream;
}
