import { MemoryStore } from '../store/memory';
import type { TaskStore } from '../store/types';
import { integerOption, optionError } from '../util/validate';

/** Options of `new TaskRunner()`. */
export interface TaskRunnerOptions {
  /** How many jobs run at once; the others wait, `queued`, first in first out. @default 4 */
  concurrency?: number;
  /** How many events each task keeps for replay to reconnecting clients. @default 1000 */
  historyLimit?: number;
  /** How long a finished task is kept, in ms, before `get()` returns `undefined`. @default 3_600_000 (1 hour) */
  ttlMs?: number;
  /** Where snapshots and events live. `runner.close()` closes it. @default new MemoryStore() */
  store?: TaskStore;
}

export const RUNNER_DEFAULTS = {
  concurrency: 4,
  historyLimit: 1000,
  ttlMs: 3_600_000,
} as const;

export interface ResolvedRunnerOptions {
  concurrency: number;
  historyLimit: number;
  ttlMs: number;
  store: TaskStore;
}

export function resolveRunnerOptions(options: TaskRunnerOptions = {}): ResolvedRunnerOptions {
  if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options);
  const { concurrency = RUNNER_DEFAULTS.concurrency, historyLimit = RUNNER_DEFAULTS.historyLimit } = options;
  const { ttlMs = RUNNER_DEFAULTS.ttlMs, store } = options;
  if (store !== undefined && (typeof store !== 'object' || store === null || typeof store.commit !== 'function')) {
    throw optionError('store', 'a TaskStore (e.g. new MemoryStore())', store);
  }
  return {
    concurrency: integerOption('concurrency', concurrency, 1, 10_000),
    historyLimit: integerOption('historyLimit', historyLimit, 1, 1_000_000),
    ttlMs: integerOption('ttlMs', ttlMs, 1),
    store: store ?? new MemoryStore(),
  };
}
