import { checkStore } from '../store/members';
import { MemoryStore } from '../store/memory/store';
import type { CommitLimits, TaskStore } from '../store/types';
import { loggerOption, type Logger } from '../util/logger';
import { integerOption, optionError } from '../util/validate';

/** Options of `new TaskRunner()`. */
export interface TaskRunnerOptions {
  /**
   * How many jobs run at once here; the others wait, `queued`. Owners take turns: each owner's tasks start first in,
   * first out, one owner's turn after another's. @default 4
   */
  concurrency?: number;
  /** How many events each task keeps for replay to reconnecting clients. @default 1000 */
  historyLimit?: number;
  /**
   * How many bytes of event data each task keeps for replay, besides `historyLimit`: the oldest events go first
   * (the latest is always kept). @default 262_144 (256 KiB)
   */
  maxHistoryBytes?: number;
  /**
   * How many tasks may wait `queued` (over the types this runner defines) before `start()` rejects with
   * `QueueFullError` (`POST` answers 503 with `Retry-After`). @default 10_000
   */
  maxQueued?: number;
  /**
   * How many tasks of one owner (`StartOptions.owner`, the middleware's `owner(ctx)`) may wait `queued`, over every
   * type, counted in the store in the same step that queues; past it `start()` rejects with a `QueueFullError` whose
   * `limit` is `'maxQueuedPerOwner'` (`POST` answers 429 `too_many_tasks` with `Retry-After`). The tasks without an
   * owner count as one owner. @default none
   */
  maxQueuedPerOwner?: number;
  /**
   * How many jobs of one owner may run at once in the whole deployment (over every worker sharing the store); the
   * owner's other tasks wait `queued` while other owners' run. The tasks without an owner count as one owner. Give
   * every runner sharing a store the same value. @default none
   */
  concurrencyPerOwner?: number;
  /** How long a finished task is kept, in ms, before `get()` returns `undefined`. @default 3_600_000 (1 hour) */
  ttlMs?: number;
  /** Where snapshots, events and the job queue live. `runner.close()` closes it. @default new MemoryStore() */
  store?: TaskStore;
  /**
   * Whether this runner claims and runs queued jobs of the types it defines. `false` for a web instance that only
   * starts tasks and serves their streams while worker processes (sharing a `RedisStore`) run them. @default true
   */
  worker?: boolean;
  /**
   * With a shared store: how long a claimed job stays leased to this runner without a renewal, in ms. A worker that
   * dies loses its jobs after this long, and they become `failed`. Leases are renewed every
   * `max(50, min(1000, floor(leaseMs / 3)))` ms: every second with the default. @default 30_000
   */
  leaseMs?: number;
  /** The largest custom event (`job.emit()`), in UTF-8 bytes of its JSON; larger is a `RangeError`. @default 65_536 */
  maxEventBytes?: number;
  /**
   * The most output one attempt of a task keeps (`job.write()`), in UTF-8 bytes; a write past it is a `RangeError`
   * and appends nothing. @default 1_048_576 (1 MiB)
   */
  maxOutputBytes?: number;
  /**
   * Where the runner writes structured records (pino's shape: `logger.error({ err }, message)`): store failures,
   * leases taken over, the steps of `close()`. It is passed on to a store with `useLogger()` (`RedisStore`) that has
   * no logger of its own, and is `sseTasks()`'s default. `error` listeners still get every error. @default none:
   * failures nobody listens to go to `console.error`, as before
   */
  logger?: Logger;
}

export const RUNNER_DEFAULTS = {
  concurrency: 4,
  historyLimit: 1000,
  maxHistoryBytes: 262_144,
  maxQueued: 10_000,
  ttlMs: 3_600_000,
  worker: true,
  leaseMs: 30_000,
  maxEventBytes: 65_536,
  maxOutputBytes: 1_048_576,
} as const;

/** The runner's options that every commit carries; the BullMQ bridge takes them too. */
export type CommitLimitOptions = Pick<TaskRunnerOptions, 'historyLimit' | 'maxHistoryBytes' | 'ttlMs'>;

export interface ResolvedRunnerOptions {
  concurrency: number;
  /** The limits every commit of this runner carries: one frozen object. */
  limits: CommitLimits;
  maxQueued: number;
  maxQueuedPerOwner: number | undefined;
  concurrencyPerOwner: number | undefined;
  store: TaskStore;
  worker: boolean;
  leaseMs: number;
  /** What one job may write and emit. */
  jobLimits: JobLimits;
  logger: Logger | undefined;
}

/** What one job may write and emit: `maxEventBytes` and `maxOutputBytes`. */
export interface JobLimits {
  readonly maxEventBytes: number;
  readonly maxOutputBytes: number;
}

export function resolveRunnerOptions(options: TaskRunnerOptions = {}): ResolvedRunnerOptions {
  if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options);
  const { concurrency = RUNNER_DEFAULTS.concurrency, maxQueued = RUNNER_DEFAULTS.maxQueued, store } = options;
  const { worker = RUNNER_DEFAULTS.worker, leaseMs = RUNNER_DEFAULTS.leaseMs } = options;
  const { maxQueuedPerOwner, concurrencyPerOwner } = options;
  if (store !== undefined) checkStore('store', store, 'e.g. new MemoryStore()');
  if (typeof worker !== 'boolean') throw optionError('worker', 'true or false', worker);
  return {
    concurrency: integerOption('concurrency', concurrency, 1, 10_000),
    limits: resolveCommitLimits(options),
    maxQueued: integerOption('maxQueued', maxQueued, 1, 100_000_000),
    maxQueuedPerOwner:
      maxQueuedPerOwner === undefined
        ? undefined
        : integerOption('maxQueuedPerOwner', maxQueuedPerOwner, 1, 100_000_000),
    concurrencyPerOwner:
      concurrencyPerOwner === undefined
        ? undefined
        : integerOption('concurrencyPerOwner', concurrencyPerOwner, 1, 10_000),
    store: store ?? new MemoryStore(),
    logger: loggerOption('logger', options.logger),
    worker,
    leaseMs: integerOption('leaseMs', leaseMs, 100),
    jobLimits: Object.freeze({
      maxEventBytes: integerOption('maxEventBytes', options.maxEventBytes ?? RUNNER_DEFAULTS.maxEventBytes, 2, 2 ** 30),
      maxOutputBytes: integerOption(
        'maxOutputBytes',
        options.maxOutputBytes ?? RUNNER_DEFAULTS.maxOutputBytes,
        1,
        2 ** 30,
      ),
    }),
  };
}

/** Checks `historyLimit`, `maxHistoryBytes` and `ttlMs`, with the runner's defaults, once: one frozen object. */
export function resolveCommitLimits(options: CommitLimitOptions): CommitLimits {
  const { historyLimit = RUNNER_DEFAULTS.historyLimit, maxHistoryBytes = RUNNER_DEFAULTS.maxHistoryBytes } = options;
  return Object.freeze({
    historyLimit: integerOption('historyLimit', historyLimit, 1, 1_000_000),
    maxHistoryBytes: integerOption('maxHistoryBytes', maxHistoryBytes, 1, 2 ** 30),
    ttlMs: integerOption('ttlMs', options.ttlMs ?? RUNNER_DEFAULTS.ttlMs, 1),
  });
}
