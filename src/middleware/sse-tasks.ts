import Router, { type RouterContext } from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import { TaskError } from '../errors';
import { Heartbeat } from '../sse/heartbeat';
import type { TaskRecord } from '../store/types';
import { readJsonBody, toStartRequest } from './body';
import { serveTaskEvents, type EventsContext } from './events';
import { TaskFeeds } from './feeds';
import { idsOf, taskFinder } from './find';
import { serveOwnerFeed, serveTaskSet } from './task-set';
import { corsMiddleware } from './cors';
import { ConnectionLimits } from './limits';
import { serveLongPoll, waitOf } from './long-poll';
import { resolveSseTasksOptions, type SseTasksOptions } from './options';

type Handler = (ctx: Context) => Promise<void>;

/** The middleware `sseTasks()` returns: mount it with `app.use()`, end its streams with `close()` on shutdown. */
export interface SseTasksMiddleware extends Middleware {
  /** How many event streams are open now. */
  readonly openStreams: number;
  /**
   * Ends every open event stream (clients reconnect, to another instance if there is one), answers waiting
   * long-polls at once, and answers later stream requests and `POST`s with 503 (`Retry-After`). Reads and `DELETE`
   * keep working. Call it before `server.close()`, which waits for open streams.
   */
  close(): void;
}

/**
 * Mounts the task API under `prefix` (default `/tasks`):
 * `POST /tasks`, `GET /tasks/:id` (a long-poll with `?wait=`), `DELETE /tasks/:id`, the event stream
 * `GET /tasks/:id/events`, and the multiplexed stream `GET /tasks/events` (`?ids=a,b,c`, or the owner's tasks).
 */
export function sseTasks(options: SseTasksOptions): SseTasksMiddleware {
  const resolved = resolveSseTasksOptions(options);
  const { runner, prefix, bodyLimit } = resolved;
  /** Every 503 says when to come back: as soon as a browser would reconnect by itself. */
  const retryAfter = String(Math.max(1, Math.ceil(resolved.retryMs / 1000)));
  const events: EventsContext = {
    store: runner.store,
    feeds: new TaskFeeds(runner.store),
    heartbeat: new Heartbeat(resolved.heartbeatMs),
    stream: { retryMs: resolved.retryMs, bufferBytes: resolved.bufferBytes, slowClientMs: resolved.slowClientMs },
    polls: new Set(),
    limits: new ConnectionLimits(resolved.maxConnections, resolved.maxConnectionsPerTask, Number(retryAfter)),
  };
  let closed = false;
  const refuseWhenClosed = (): void => {
    if (closed) {
      throw new TaskError('shutting_down', 503, 'The server is shutting down; reconnect shortly', {
        'Retry-After': retryAfter,
      });
    }
  };
  const answerErrors = errorAnswers(retryAfter);
  const find = taskFinder(resolved);
  const findTask = (ctx: Context): Promise<TaskRecord> => find(ctx, (ctx.params as { id?: string }).id ?? '');
  const visible = async (ctx: Context, id: string): Promise<boolean> => {
    const record = await runner.store.read(id);
    return (
      record !== undefined &&
      (resolved.authorize === undefined || (await resolved.authorize(ctx, record.snapshot)) === true)
    );
  };

  const router = new Router({ prefix });
  router.post(
    '/',
    answerErrors(async (ctx) => {
      refuseWhenClosed();
      const { type, input } = toStartRequest(await readJsonBody(ctx, bodyLimit));
      const owner = resolved.owner?.(ctx);
      const snapshot = await runner.start(type, input, owner === undefined ? {} : { owner });
      ctx.status = 202;
      ctx.set('Location', `${prefix}/${snapshot.id}`);
      ctx.body = snapshot;
    }),
  );
  // Before '/:id', which would take `events` for a task id.
  router.get(
    '/events',
    answerErrors(async (ctx) => {
      refuseWhenClosed();
      const ids = idsOf(ctx);
      if (ids !== undefined) {
        const records = await Promise.all(ids.map((id) => find(ctx, id)));
        return serveTaskSet(ctx, records, events);
      }
      if (resolved.owner === undefined) {
        throw new TaskError(
          'ids_required',
          400,
          'Give ?ids=a,b,c; the feed of all your tasks needs the `owner` option',
        );
      }
      const owner = resolved.owner(ctx);
      if (owner === undefined)
        throw new TaskError('unauthenticated', 401, 'The feed of your tasks needs to know who you are');
      await serveOwnerFeed(ctx, owner, (id) => visible(ctx, id), events);
    }),
  );
  router.get(
    '/:id',
    answerErrors(async (ctx) => {
      const wait = waitOf(ctx);
      const record = await findTask(ctx);
      if (wait === undefined) ctx.body = record.snapshot;
      else await serveLongPoll(ctx, record, closed ? 0 : wait, events);
    }),
  );
  router.delete(
    '/:id',
    answerErrors(async (ctx) => {
      const { snapshot } = await findTask(ctx);
      ctx.status = 202;
      ctx.body = await runner.cancel(snapshot.id);
    }),
  );
  router.get(
    '/:id/events',
    answerErrors(async (ctx) => {
      refuseWhenClosed();
      await serveTaskEvents(ctx, await findTask(ctx), events);
    }),
  );
  const routes = router.routes();
  const allowedMethods = router.allowedMethods();
  const eventsPath = `${prefix}/events`;
  const route = async (ctx: Context, next: Next): Promise<void> => {
    // '/:id' would take `events` for a task id (DELETE /tasks/events would look for a task named "events"), and
    // the router would then allow DELETE here: this path takes only GET and HEAD.
    if (ctx.path === eventsPath && ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', 'HEAD, GET');
      if (ctx.method === 'OPTIONS') ctx.body = '';
      else ctx.status = 405;
      return;
    }
    const routed = ctx as RouterContext;
    await routes(routed, async () => {
      await allowedMethods(routed, next);
    });
  };
  const withCors = resolved.cors === false ? undefined : corsMiddleware(resolved.cors);

  const below = `${prefix}/`;
  async function serve(ctx: Context, next: Next): Promise<void> {
    await (withCors === undefined ? route(ctx, next) : withCors(ctx, () => route(ctx, next)));
    // A method the router does not know (PROPFIND, TRACE...) is a 501 there; for a client it is the same mistake
    // as any other method these paths do not take: 405 with `Allow`, never a 5xx.
    if ((ctx.status === 405 || ctx.status === 501) && ctx.body == null) {
      ctx.status = 405;
      ctx.body = errorBody(
        'method_not_allowed',
        `${ctx.method} is not allowed here; allowed: ${ctx.response.get('Allow')}`,
      );
    }
  }
  // Not async: a request for another route passes straight through, without a promise of ours in between.
  function sseTasks(ctx: Context, next: Next): Promise<unknown> {
    const { path } = ctx;
    return path === prefix || path.startsWith(below) ? serve(ctx, next) : next();
  }
  return Object.defineProperties(sseTasks, {
    openStreams: { get: () => events.heartbeat.size, enumerable: true },
    close: {
      value: (): void => {
        closed = true;
        for (const stream of [...events.heartbeat]) stream.close();
        for (const answer of [...events.polls]) answer();
      },
      enumerable: true,
    },
  }) as SseTasksMiddleware;
}

/**
 * The one place errors become HTTP answers: ours with their status and headers (every 503 with `Retry-After`),
 * anything else as a logged 500.
 */
function errorAnswers(retryAfter: string): (handler: Handler) => Handler {
  return (handler) => async (ctx) => {
    try {
      await handler(ctx);
    } catch (error) {
      if (error instanceof TaskError) {
        ctx.status = error.status;
        ctx.set(error.headers);
        if (error.status === 503 && !ctx.response.get('Retry-After')) ctx.set('Retry-After', retryAfter);
        ctx.body = errorBody(error.code, error.message);
      } else {
        ctx.status = 500;
        ctx.body = errorBody('internal_error', 'Internal Server Error');
        ctx.app.emit('error', error, ctx);
      }
    }
  };
}

function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}
