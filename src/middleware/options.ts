import type { Context } from 'koa';
import type { TaskRunner } from '../runner/runner';
import { loggerOption, type Logger } from '../util/logger';
import type { TaskSnapshot } from '../types';
import { functionOption, integerOption, optionError } from '../util/validate';
import type { CorsOptions } from './cors';
import { resolveSecrets } from './tokens';

export type { CorsOptions };

/** Options of `sseTasks()`. */
export interface SseTasksOptions {
  /** The runner whose tasks are served. Required. */
  runner: TaskRunner;
  /** Where the routes are mounted. @default '/tasks' */
  prefix?: string;
  /** How often an idle stream gets a `heartbeat` event, in ms, so proxies keep it open. @default 15_000 */
  heartbeatMs?: number;
  /** The `retry:` sent first on every stream: how long a browser waits before reconnecting, in ms. @default 3_000 */
  retryMs?: number;
  /**
   * Decides whether `ctx` may read, follow or cancel `task` (GET, events, DELETE); `false` answers 403.
   * @default with `owner`: `owner(ctx) === task.owner`; without: everyone may
   */
  authorize?: (ctx: Context, task: TaskSnapshot) => boolean | Promise<boolean>;
  /** Names the user who starts a task (`POST`); recorded as the task's `owner`. @default none */
  owner?: (ctx: Context) => string | undefined;
  /**
   * `@koa/cors` options for every response under the prefix (errors too); `Location` and `Idempotent-Replayed` are
   * always exposed, `Idempotency-Key` always allowed. `origin` may
   * be a list of origins; with `credentials`, an `origin` other than `'*'` is required. @default false
   */
  cors?: CorsOptions | false;
  /** The largest `POST` body accepted, in bytes; larger answers 413. @default 65_536 */
  bodyLimit?: number;
  /**
   * Bytes of events that may wait for one client before it counts as slow; a slow client gets only the latest
   * `progress` (and heartbeat) until it catches up, never fewer `status` or terminal events. @default 65_536
   */
  bufferBytes?: number;
  /** How long a client may stay slow before it is disconnected (it resumes with Last-Event-ID), in ms. @default 30_000 */
  slowClientMs?: number;
  /**
   * The most event streams (single, multiplexed and owner feeds) open at once in this process; one more answers 503
   * with `Retry-After`. @default 10_000
   */
  maxConnections?: number;
  /** The most event streams following one task at once in this process; one more answers 503. @default 1_000 */
  maxConnectionsPerTask?: number;
  /**
   * The key of signed stream tokens (`tasks.streamToken()`, `?token=`): a string of at least 32 characters, or a
   * list of them for rotation (the first signs, every one verifies). Every instance must share it. @default none
   */
  secret?: string | readonly string[];
  /**
   * Where the middleware writes structured records (pino's shape): slow clients disconnected (`warn`), the steps of
   * `close()` (`info`). @default the runner's `logger`, else none
   */
  logger?: Logger;
}

export const MIDDLEWARE_DEFAULTS = {
  prefix: '/tasks',
  heartbeatMs: 15_000,
  retryMs: 3_000,
  bodyLimit: 65_536,
  bufferBytes: 65_536,
  slowClientMs: 30_000,
  maxConnections: 10_000,
  maxConnectionsPerTask: 1_000,
} as const;

export interface ResolvedSseTasksOptions {
  runner: TaskRunner;
  prefix: string;
  heartbeatMs: number;
  retryMs: number;
  authorize: ((ctx: Context, task: TaskSnapshot) => boolean | Promise<boolean>) | undefined;
  owner: ((ctx: Context) => string | undefined) | undefined;
  cors: CorsOptions | false;
  bodyLimit: number;
  bufferBytes: number;
  slowClientMs: number;
  maxConnections: number;
  maxConnectionsPerTask: number;
  secrets: string[] | undefined;
  logger: Logger | undefined;
}

export function resolveSseTasksOptions(options: SseTasksOptions): ResolvedSseTasksOptions {
  if (typeof options !== 'object' || options === null)
    throw optionError('options', 'an object with a `runner`', options);
  const { runner, prefix = MIDDLEWARE_DEFAULTS.prefix, cors = false } = options;
  if (typeof runner !== 'object' || runner === null || typeof runner.submit !== 'function') {
    throw optionError('runner', 'a TaskRunner (new TaskRunner())', runner);
  }
  if (typeof prefix !== 'string' || !/^(\/[A-Za-z0-9._~-]+)+$/.test(prefix)) {
    throw optionError('prefix', "a path such as '/tasks' (leading slash, no trailing slash)", prefix);
  }
  if (cors !== false && (typeof cors !== 'object' || cors === null))
    throw optionError('cors', '@koa/cors options or false', cors);
  const owner = functionOption<ResolvedSseTasksOptions['owner']>('owner', options.owner);
  const authorize = functionOption<ResolvedSseTasksOptions['authorize']>('authorize', options.authorize);
  return {
    runner,
    prefix,
    heartbeatMs: integerOption('heartbeatMs', options.heartbeatMs ?? MIDDLEWARE_DEFAULTS.heartbeatMs, 1),
    retryMs: integerOption('retryMs', options.retryMs ?? MIDDLEWARE_DEFAULTS.retryMs, 0),
    bodyLimit: integerOption('bodyLimit', options.bodyLimit ?? MIDDLEWARE_DEFAULTS.bodyLimit, 1, 2 ** 30),
    bufferBytes: integerOption('bufferBytes', options.bufferBytes ?? MIDDLEWARE_DEFAULTS.bufferBytes, 1024, 2 ** 30),
    slowClientMs: integerOption('slowClientMs', options.slowClientMs ?? MIDDLEWARE_DEFAULTS.slowClientMs, 1),
    maxConnections: integerOption(
      'maxConnections',
      options.maxConnections ?? MIDDLEWARE_DEFAULTS.maxConnections,
      1,
      10_000_000,
    ),
    maxConnectionsPerTask: integerOption(
      'maxConnectionsPerTask',
      options.maxConnectionsPerTask ?? MIDDLEWARE_DEFAULTS.maxConnectionsPerTask,
      1,
      10_000_000,
    ),
    owner,
    authorize: authorize ?? (owner === undefined ? undefined : (ctx, task) => owner(ctx) === task.owner),
    cors,
    secrets: resolveSecrets(options.secret),
    logger: loggerOption('logger', options.logger) ?? runner.logger,
  };
}
