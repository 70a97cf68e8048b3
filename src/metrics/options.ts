import type { Middleware } from 'koa';
import { Registry } from 'prom-client';
import type { SseTasksMiddleware } from '../middleware/sse-tasks';
import type { TaskRunner } from '../runner/runner';
import { integerOption, optionError } from '../util/validate';

/** Options of `tasksMetrics()`. */
export interface TasksMetricsOptions {
  /** The runner whose tasks, jobs and store are measured. Required. */
  runner: TaskRunner;
  /** The `sseTasks()` middleware whose streams and long-polls are measured; none in a worker without one. */
  tasks?: SseTasksMiddleware;
  /** The prom-client `Registry` the collectors are registered in (the app's own, say). @default a new Registry */
  registry?: Registry;
  /** Where the middleware answers `GET` with the text exposition format. @default '/metrics' */
  path?: string;
  /**
   * How long a scrape waits for the store's queue counts (`tasks_queued`), in ms; past it, or when the store fails,
   * the gauges keep the counts last read, so `/metrics` answers while the store is down. @default 1_000
   */
  queueReadTimeoutMs?: number;
}

export const METRICS_DEFAULTS = { path: '/metrics', queueReadTimeoutMs: 1_000 } as const;

/** What `tasksMetrics()` returns: the registry holding the collectors, and the middleware serving it. */
export interface TasksMetrics {
  registry: Registry;
  /** Answers `GET <path>` (and `HEAD`) with the registry's metrics; passes every other request on. */
  middleware: Middleware;
  /** Stops observing the runner (the collectors stay registered, and stop moving). */
  close(): void;
}

export interface ResolvedMetricsOptions {
  runner: TaskRunner;
  tasks: SseTasksMiddleware | undefined;
  registry: Registry;
  path: string;
  queueReadTimeoutMs: number;
}

export function resolveMetricsOptions(options: TasksMetricsOptions): ResolvedMetricsOptions {
  if (typeof options !== 'object' || options === null) {
    throw optionError('options', 'an object with a `runner`', options);
  }
  const { runner, tasks, registry = new Registry(), path = METRICS_DEFAULTS.path } = options;
  if (typeof runner !== 'object' || runner === null || typeof runner.observe !== 'function') {
    throw optionError('runner', 'a TaskRunner (new TaskRunner())', runner);
  }
  if (tasks !== undefined && (typeof tasks !== 'function' || typeof tasks.stats !== 'object')) {
    throw optionError('tasks', 'the middleware sseTasks() returned', tasks);
  }
  if (!(registry instanceof Registry)) throw optionError('registry', 'a prom-client Registry', registry);
  if (typeof path !== 'string' || !/^\/[!-~]*$/.test(path))
    throw optionError('path', "a path such as '/metrics'", path);
  const queueReadTimeoutMs = integerOption(
    'queueReadTimeoutMs',
    options.queueReadTimeoutMs ?? METRICS_DEFAULTS.queueReadTimeoutMs,
    1,
  );
  return { runner, tasks, registry, path, queueReadTimeoutMs };
}
