import { MemoryStore } from '../store/memory';
import type { TaskStore } from '../store/types';
import { integerOption, optionError } from '../util/validate';

/** Options of `new TaskRunner()`. */
export interface TaskRunnerOptions {
  /** How many jobs run at once; the others wait, `queued`, first in first out. @default 4 */
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
}

export const RUNNER_DEFAULTS = {
  concurrency: 4,
  historyLimit: 1000,
  maxHistoryBytes: 262_144,
  maxQueued: 10_000,
  ttlMs: 3_600_000,
  worker: true,
  leaseMs: 30_000,
} as const;

export interface ResolvedRunnerOptions {
  concurrency: number;
  historyLimit: number;
  maxHistoryBytes: number;
  maxQueued: number;
  ttlMs: number;
  store: TaskStore;
  worker: boolean;
  leaseMs: number;
}

const STORE_METHODS = [
  'commit',
  'read',
  'eventsAfter',
  'subscribe',
  'enqueue',
  'claim',
  'renew',
  'reapExpired',
  'queuedCount',
] as const;

export function resolveRunnerOptions(options: TaskRunnerOptions = {}): ResolvedRunnerOptions {
  if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options);
  const { concurrency = RUNNER_DEFAULTS.concurrency, historyLimit = RUNNER_DEFAULTS.historyLimit } = options;
  const {
    ttlMs = RUNNER_DEFAULTS.ttlMs,
    store,
    worker = RUNNER_DEFAULTS.worker,
    leaseMs = RUNNER_DEFAULTS.leaseMs,
  } = options;
  if (store !== undefined && (typeof store !== 'object' || store === null || typeof store.commit !== 'function')) {
    throw optionError('store', 'a TaskStore (e.g. new MemoryStore())', store);
  }
  const missing = STORE_METHODS.filter((name) => typeof store?.[name] !== 'function');
  if (store !== undefined && missing.length > 0) {
    throw optionError('store', `a TaskStore of this version of koa-sse-tasks (it lacks ${missing.join(', ')})`, store);
  }
  if (typeof worker !== 'boolean') throw optionError('worker', 'true or false', worker);
  return {
    concurrency: integerOption('concurrency', concurrency, 1, 10_000),
    historyLimit: integerOption('historyLimit', historyLimit, 1, 1_000_000),
    maxHistoryBytes: integerOption(
      'maxHistoryBytes',
      options.maxHistoryBytes ?? RUNNER_DEFAULTS.maxHistoryBytes,
      1,
      2 ** 30,
    ),
    maxQueued: integerOption('maxQueued', options.maxQueued ?? RUNNER_DEFAULTS.maxQueued, 1, 100_000_000),
    ttlMs: integerOption('ttlMs', ttlMs, 1),
    store: store ?? new MemoryStore(),
    worker,
    leaseMs: integerOption('leaseMs', leaseMs, 100),
  };
}
