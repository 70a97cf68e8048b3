import { METHODS } from 'node:http';
import Router from '@koa/router';
import type { Context } from 'koa';
import { TaskError, TaskNotFoundError } from '../errors';
import type { TaskAccess } from './access';
import { idsOf } from './access';
import { readJsonBody, toStartRequest } from './body';
import { corsMiddleware } from './cors';
import { answerErrors } from './errors';
import { serveTaskEvents } from './events';
import { idempotencyKeyOf, REPLAYED_HEADER } from './idempotency';
import { serveLongPoll, waitOf } from './long-poll';
import type { Streaming } from './open-stream';
import type { StartOptions } from '../runner/calls';
import type { ResolvedSseTasksOptions } from './options';
import { serveOwnerFeed, serveTaskSet } from './task-sets';

type Handler = (ctx: Context) => Promise<void>;

/** What the routes need besides the options: the engine, the access checks, and whether `close()` was called. */
export interface RouteDeps {
  streaming: Streaming;
  access: TaskAccess;
  closing: () => boolean;
  /** Every 503 says when to come back: as soon as a browser would reconnect by itself, in seconds. */
  retryAfterSeconds: number;
}

/**
 * The task API as a `@koa/router` Router under `prefix`: each path with the methods it takes, and a 405 (with
 * `Allow`; OPTIONS answered) for every other method on it, so the router alone answers every request for its paths.
 * Errors of every route are answered in one place (errors.ts), and CORS, when configured, applies to them all.
 */
export function taskRouter(options: ResolvedSseTasksOptions, deps: RouteDeps): Router {
  const { runner, bodyLimit } = options;
  const { streaming, access, closing } = deps;
  const refuseWhenClosing = (stream = false): void => {
    if (!closing()) return;
    if (stream) streaming.streams.stats.refusals.shutting_down++;
    throw new TaskError('shutting_down', 'The server is shutting down; reconnect shortly');
  };
  const taskOf = (ctx: Context) => access.find(ctx, (ctx.params as { id?: string }).id ?? '');

  const start: Handler = async (ctx) => {
    refuseWhenClosing();
    const idempotencyKey = idempotencyKeyOf(ctx);
    const { type, input } = toStartRequest(await readJsonBody(ctx, bodyLimit));
    const owner = options.owner?.(ctx);
    const startOptions: StartOptions = {};
    if (owner !== undefined) startOptions.owner = owner;
    if (idempotencyKey !== undefined) startOptions.idempotencyKey = idempotencyKey;
    const { snapshot, replayed } = await runner.submit(type, input, startOptions);
    if (replayed) {
      // A key is not a way to read a task this request may not see.
      await access.mayReplay(ctx, snapshot);
      ctx.set(REPLAYED_HEADER, 'true');
    }
    ctx.status = replayed ? 200 : 202;
    // Where this router is mounted (a router of the app's own may nest it under a prefix of its own).
    ctx.set('Location', `${ctx.path.replace(/\/$/, '')}/${snapshot.id}`);
    ctx.body = snapshot;
  };
  const followMany: Handler = async (ctx) => {
    refuseWhenClosing(true);
    const ids = idsOf(ctx);
    if (ids !== undefined) return serveTaskSet(ctx, await access.findAll(ctx, ids), streaming);
    const { owner, visible } = await access.feedOf(ctx);
    await serveOwnerFeed(ctx, owner, visible, streaming);
  };
  const read: Handler = async (ctx) => {
    const wait = waitOf(ctx);
    const record = await taskOf(ctx);
    if (wait === undefined) ctx.body = record.snapshot;
    else await serveLongPoll(ctx, record, closing() ? 0 : wait, streaming);
  };
  const cancel: Handler = async (ctx) => {
    const { snapshot } = await taskOf(ctx);
    ctx.status = 202;
    ctx.body = await runner.cancel(snapshot.id);
  };
  const output: Handler = async (ctx) => {
    const { snapshot } = await taskOf(ctx);
    const kept = await runner.store.readWithOutput(snapshot.id);
    if (kept === undefined) throw new TaskNotFoundError(snapshot.id);
    ctx.type = 'text/plain; charset=utf-8';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = kept.output;
  };
  const follow: Handler = async (ctx) => {
    refuseWhenClosing(true);
    await serveTaskEvents(ctx, await taskOf(ctx), streaming);
  };

  const routes: Array<[path: string, methods: { GET?: Handler; POST?: Handler; DELETE?: Handler }]> = [
    ['/', { POST: start }],
    // Before '/:id', which would take `events` for a task id (DELETE /tasks/events is a 405, not a cancel).
    ['/events', { GET: followMany }],
    ['/:id', { GET: read, DELETE: cancel }],
    ['/:id/events', { GET: follow }],
    ['/:id/output', { GET: output }],
  ];
  // Every method, so a method Node knows and these paths do not take (PROPFIND...) is a 405 too, never a 501.
  const router = new Router({ prefix: options.prefix, methods: METHODS });
  router.use(answerErrors(deps.retryAfterSeconds));
  if (options.cors !== false) router.use(corsMiddleware(options.cors));
  for (const [path, handlers] of routes) {
    if (handlers.GET) router.get(path, handlers.GET); // HEAD too
    if (handlers.POST) router.post(path, handlers.POST);
    if (handlers.DELETE) router.delete(path, handlers.DELETE);
    router.all(path, methodNotAllowed(Object.keys(handlers).flatMap((m) => (m === 'GET' ? ['HEAD', 'GET'] : [m]))));
  }
  return router;
}

/** The answer for a method a path does not take: 405 with `Allow`; OPTIONS gets `Allow` and a 200. */
function methodNotAllowed(allowed: string[]): Handler {
  const allow = allowed.join(', ');
  return async (ctx) => {
    ctx.set('Allow', allow);
    if (ctx.method === 'OPTIONS') ctx.body = '';
    else throw new TaskError('method_not_allowed', `${ctx.method} is not allowed here; allowed: ${allow}`);
  };
}
