import type { Context } from 'koa';
import { encodeRetry } from '../sse/encode';
import { EventStream, type SlowClientLimits, type WriteStats } from '../sse/stream';
import type { TaskFeeds } from '../streams/feeds';
import type { OpenStreams } from '../streams/open-streams';
import type { StreamKind } from '../streams/stats';

/** What the handlers that stream share: the engine's feeds and open streams, and how each stream starts. */
export interface Streaming {
  feeds: TaskFeeds;
  streams: OpenStreams;
  /** The `retry:` line written first: how long a browser waits before reconnecting, in ms. */
  retryMs: number;
  slowClients: SlowClientLimits;
  /** Every long-poll waiting now: calling one answers it at once (shutdown does). */
  polls: Set<() => void>;
}

/** Status 200 and the SSE headers, without a body: what HEAD answers, and the start of every stream. */
export function setEventStreamHeaders(ctx: Context): void {
  ctx.status = 200;
  ctx.set('Content-Type', 'text/event-stream; charset=utf-8');
  ctx.set('Cache-Control', 'no-cache, no-transform');
  // nginx buffers proxied responses unless told not to.
  ctx.set('X-Accel-Buffering', 'no');
  // HTTP/1.1 only: illegal on HTTP/2, and on HTTP/1.0 (no chunked encoding) the end of the body is the connection's.
  if (ctx.req.httpVersion === '1.1') ctx.set('Connection', 'keep-alive');
  // koa-compress buffers until it has enough to compress; events must leave at once.
  (ctx as Context & { compress?: boolean }).compress = false;
}

/** How a socket reports a client that hung up: the normal end of an event stream, not an error. */
const CLIENT_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/**
 * Opens an event stream on `ctx` for the tasks `taskIds`: counted against the connection limits (a 503 before any
 * header is sent when one is reached), heartbeated, and ended by shutdown. It sets the SSE headers, flushes them
 * with a `retry:` line and returns the stream.
 *
 * The frames go straight to `ctx.res` (`ctx.respond = false`, Koa's documented way to write the raw response), not
 * through a `ctx.body` stream that Koa pipes: Koa 3 pipes with `stream.pipeline`, which per stream costs more memory
 * and CPU than everything else a stream holds (see BENCHMARKS.md), and reports every client that goes away as
 * ERR_STREAM_PREMATURE_CLOSE. Middleware upstream sees status 200 and the SSE headers, and no body to buffer or
 * transform. For this response only, a client hanging up is not reported to `app.on('error')` either (Koa's
 * on-finished would).
 */
export function openStream(
  ctx: Context,
  streaming: Streaming,
  kind: StreamKind,
  taskIds: readonly string[],
): EventStream {
  const { streams, retryMs, slowClients } = streaming;
  return streams.add(kind, taskIds, () => startEventStream(ctx, retryMs, slowClients, streams.stats));
}

/** The response part of `openStream`: the headers, the raw response taken over, the `retry:` line. */
export function startEventStream(
  ctx: Context,
  retryMs: number,
  slowClients: SlowClientLimits,
  stats?: WriteStats,
): EventStream {
  setEventStreamHeaders(ctx);
  ctx.respond = false;
  const onerror = ctx.onerror.bind(ctx);
  ctx.onerror = (error: Error) => {
    const code = (error as NodeJS.ErrnoException | null)?.code;
    if (code !== undefined && CLIENT_GONE.has(code)) return;
    onerror(error);
  };
  ctx.flushHeaders();
  const stream = new EventStream(ctx.res, slowClients, stats);
  // Bytes at once (for proxies that wait for the body), and no block of their own: see encodeRetry.
  stream.write(encodeRetry(retryMs));
  return stream;
}

/** Ends `stream` after a failure that came once it was open (its client resumes), and reports it as Koa does. */
export function failStream(ctx: Context, stream: EventStream, error: unknown): void {
  stream.close();
  ctx.app.emit('error', error, ctx);
}
