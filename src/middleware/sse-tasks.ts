import type Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import { TaskFeeds } from '../streams/feeds';
import { OpenStreams } from '../streams/open-streams';
import type { StreamStats } from '../streams/stats';
import { logAsBefore, logNote } from '../util/logger';
import { taskAccess } from './access';
import type { Streaming } from './open-stream';
import { resolveSseTasksOptions, type SseTasksOptions } from './options';
import { taskRouter } from './routes';
import { StreamTokens, type StreamTokenOptions, type TokenScope } from './tokens';

/** The middleware `sseTasks()` returns: mount it with `app.use()`, end its streams with `close()` on shutdown. */
export interface SseTasksMiddleware extends Middleware {
  /** How many event streams are open now. */
  readonly openStreams: number;
  /** What the streams and long-polls did so far, as counters: what `koa-sse-tasks/metrics` reads. */
  readonly stats: Readonly<StreamStats>;
  /**
   * Ends every open event stream (clients reconnect, to another instance if there is one), answers waiting
   * long-polls at once, and answers later stream requests and `POST`s with 503 (`Retry-After`). Reads and `DELETE`
   * keep working. Call it before `server.close()`, which waits for open streams.
   */
  close(): void;
  /**
   * The task routes as `@koa/router` routes, for an app that has a router of its own: `router.use(tasks.routes())`
   * mounts them under the router's prefix (and its own `prefix`, `/tasks` by default). They answer every method on
   * their paths (405 with `Allow` for those they do not take), so no `allowedMethods()` is needed for them.
   */
  routes(): ReturnType<Router['routes']>;
  /**
   * A signed token that lets its bearer read the tasks of `scope` (`?token=` on every read route) without cookies
   * and without `authorize`, until `ttlMs` (default 5 minutes) has passed. Needs the `secret` option.
   */
  streamToken(scope: TokenScope, options?: StreamTokenOptions): string;
}

/**
 * Mounts the task API under `prefix` (default `/tasks`):
 * `POST /tasks`, `GET /tasks/:id` (a long-poll with `?wait=`), `DELETE /tasks/:id`, the event stream
 * `GET /tasks/:id/events`, and the multiplexed stream `GET /tasks/events` (`?ids=a,b,c`, or the owner's tasks).
 */
export function sseTasks(options: SseTasksOptions): SseTasksMiddleware {
  const resolved = resolveSseTasksOptions(options);
  const { runner, prefix, logger, slowClientMs } = resolved;
  const retryAfterSeconds = Math.max(1, Math.ceil(resolved.retryMs / 1000));
  const streaming: Streaming = {
    feeds: new TaskFeeds(runner.store, (error) =>
      logAsBefore(logger, 'error', { err: error }, 'koa-sse-tasks: a stream threw on a live event'),
    ),
    streams: new OpenStreams({
      heartbeatMs: resolved.heartbeatMs,
      maxConnections: resolved.maxConnections,
      maxConnectionsPerTask: resolved.maxConnectionsPerTask,
      retryAfterSeconds,
    }),
    retryMs: resolved.retryMs,
    slowClients: {
      bufferBytes: resolved.bufferBytes,
      slowClientMs,
      onDisconnect: (waitingBytes) => {
        const message = `koa-sse-tasks: disconnected a slow client: it stayed backed up for ${slowClientMs} ms (slowClientMs)`;
        logNote(logger, 'warn', { waitingBytes, slowClientMs }, message);
      },
    },
    polls: new Set(),
  };
  let closing = false;
  const tokens = resolved.secrets === undefined ? undefined : new StreamTokens(resolved.secrets);
  const router = taskRouter(resolved, {
    streaming,
    access: taskAccess(resolved, tokens),
    closing: () => closing,
    retryAfterSeconds,
  });
  const routes = router.routes() as (ctx: Context, next: Next) => Promise<unknown>;

  const below = `${prefix}/`;
  // Not async: a request for another route passes straight through, without a promise of ours in between.
  function sseTasks(ctx: Context, next: Next): Promise<unknown> {
    const { path } = ctx;
    return path === prefix || path.startsWith(below) ? routes(ctx, next) : next();
  }
  return Object.defineProperties(sseTasks, {
    openStreams: { get: () => streaming.streams.size, enumerable: true },
    stats: { value: streaming.streams.stats, enumerable: true },
    close: {
      value: (): void => {
        closing = true;
        const fields = { streams: streaming.streams.size, longPolls: streaming.polls.size };
        logNote(logger, 'info', fields, 'koa-sse-tasks: closing: ending the event streams and answering long-polls');
        streaming.streams.closeAll();
        for (const answer of [...streaming.polls]) answer();
      },
      enumerable: true,
    },
    routes: { value: () => router.routes(), enumerable: true },
    streamToken: {
      value: (scope: TokenScope, tokenOptions?: StreamTokenOptions): string => {
        if (tokens === undefined) {
          throw new TypeError('koa-sse-tasks: tasks.streamToken() needs the `secret` option of sseTasks()');
        }
        return tokens.sign(scope, tokenOptions);
      },
      enumerable: true,
    },
  }) as SseTasksMiddleware;
}
