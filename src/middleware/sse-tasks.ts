import cors from '@koa/cors';
import Router, { type RouterContext } from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import { TaskError, TaskNotFoundError } from '../errors';
import { Heartbeat } from '../sse/heartbeat';
import type { TaskRecord } from '../store/types';
import { readJsonBody, toStartRequest } from './body';
import { serveTaskEvents, type EventsContext } from './events';
import { TaskFeeds } from './feeds';
import { serveLongPoll, waitOf } from './long-poll';
import { resolveSseTasksOptions, type ResolvedSseTasksOptions, type SseTasksOptions } from './options';

/** Ids we could have issued: UUIDs, and the ids of other queues (BullMQ) later. Anything else is a 400. */
const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

type Handler = (ctx: Context) => Promise<void>;

/** The middleware `sseTasks()` returns: mount it with `app.use()`, end its streams with `close()` on shutdown. */
export interface SseTasksMiddleware extends Middleware {
  /** How many event streams are open now. */
  readonly openStreams: number;
  /**
   * Ends every open event stream (clients reconnect, to another instance if there is one), answers waiting
   * long-polls at once, and answers later stream requests with 503. Other routes keep working. Call it before `server.close()`, which waits for them.
   */
  close(): void;
}

/**
 * Mounts the task API under `prefix` (default `/tasks`):
 * `POST /tasks`, `GET /tasks/:id`, `DELETE /tasks/:id` and the event stream `GET /tasks/:id/events`.
 */
export function sseTasks(options: SseTasksOptions): SseTasksMiddleware {
  const resolved = resolveSseTasksOptions(options);
  const { runner, prefix, bodyLimit } = resolved;
  const events: EventsContext = {
    store: runner.store,
    feeds: new TaskFeeds(runner.store),
    heartbeat: new Heartbeat(resolved.heartbeatMs),
    retryMs: resolved.retryMs,
    open: new Set(),
    polls: new Set(),
  };
  let closed = false;
  const findTask = taskFinder(resolved);

  const router = new Router({ prefix });
  router.post(
    '/',
    answerErrors(async (ctx) => {
      const { type, input } = toStartRequest(await readJsonBody(ctx, bodyLimit));
      const owner = resolved.owner?.(ctx);
      const snapshot = await runner.start(type, input, owner === undefined ? {} : { owner });
      ctx.status = 202;
      ctx.set('Location', `${prefix}/${snapshot.id}`);
      ctx.body = snapshot;
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
      if (closed) throw new TaskError('shutting_down', 503, 'The server is shutting down; reconnect shortly');
      await serveTaskEvents(ctx, await findTask(ctx), events);
    }),
  );
  const routes = router.routes();
  const allowedMethods = router.allowedMethods();
  const route = async (ctx: Context, next: Next): Promise<void> => {
    const routed = ctx as RouterContext;
    await routes(routed, async () => {
      await allowedMethods(routed, next);
    });
  };
  const withCors = corsMiddleware(resolved);

  async function sseTasks(ctx: Context, next: Next): Promise<void> {
    if (ctx.path !== prefix && !ctx.path.startsWith(`${prefix}/`)) {
      await next();
      return;
    }
    await (withCors === undefined ? route(ctx, next) : withCors(ctx, () => route(ctx, next)));
    if ((ctx.status === 405 || ctx.status === 501) && ctx.body == null) {
      const code = ctx.status === 405 ? 'method_not_allowed' : 'not_implemented';
      ctx.body = errorBody(code, `${ctx.method} is not allowed here; allowed: ${ctx.response.get('Allow')}`);
    }
  }
  return Object.defineProperties(sseTasks, {
    openStreams: { get: () => events.open.size, enumerable: true },
    close: {
      value: (): void => {
        closed = true;
        for (const stream of [...events.open]) stream.close();
        for (const answer of [...events.polls]) answer();
      },
      enumerable: true,
    },
  }) as SseTasksMiddleware;
}

/** Reads the task named by `:id` and checks the caller may see it: 400, 404 or 403 otherwise. */
function taskFinder({ runner, authorize }: ResolvedSseTasksOptions): (ctx: Context) => Promise<TaskRecord> {
  return async (ctx) => {
    const id = (ctx.params as { id?: string }).id ?? '';
    if (!TASK_ID.test(id)) {
      throw new TaskError('invalid_task_id', 400, 'A task id is 1 to 128 letters, digits, or the characters _ . : -');
    }
    const record = await runner.store.read(id);
    if (record === undefined) throw new TaskNotFoundError(id);
    if (authorize !== undefined && (await authorize(ctx, record.snapshot)) !== true) {
      throw new TaskError('forbidden', 403, 'You may not access this task');
    }
    return record;
  };
}

/** The one place errors become HTTP answers: ours with their status, anything else as a logged 500. */
function answerErrors(handler: Handler): Handler {
  return async (ctx) => {
    try {
      await handler(ctx);
    } catch (error) {
      if (error instanceof TaskError) {
        ctx.status = error.status;
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

function corsMiddleware({ cors: options }: ResolvedSseTasksOptions): Middleware | undefined {
  if (options === false) return undefined;
  const exposed = options.exposeHeaders ?? [];
  const exposeHeaders = [...(Array.isArray(exposed) ? exposed : exposed.split(',').map((h) => h.trim())), 'Location'];
  return cors({ ...options, exposeHeaders });
}
