import type { Context, Next } from 'koa';
import { resolveMetricsOptions, type TasksMetrics, type TasksMetricsOptions } from './options';
import { registerRunnerMetrics } from './runner';
import { registerStoreMetrics } from './store';
import { registerStreamMetrics } from './streams';

/**
 * Registers the task metrics (all named `koa_sse_tasks_*`) in a prom-client `Registry`, the one given or a new one,
 * and returns it with a middleware that answers `GET /metrics` (the `path` option) with the text exposition format.
 * Without `tasks` (a worker without `sseTasks()`) the runner's and the store's metrics alone. docs/observability.md
 * lists every metric.
 */
export function tasksMetrics(options: TasksMetricsOptions): TasksMetrics {
  const { runner, tasks, registry, path, queueReadTimeoutMs } = resolveMetricsOptions(options);
  let stops: Array<() => void>;
  try {
    stops = [registerRunnerMetrics(registry, runner), registerStoreMetrics(registry, runner, queueReadTimeoutMs)];
    if (tasks !== undefined) registerStreamMetrics(registry, tasks.stats);
  } catch (error) {
    if (!(error instanceof Error) || !/already been registered/.test(error.message)) throw error;
    throw new TypeError(
      'koa-sse-tasks: the registry given to tasksMetrics() already has its metrics (was tasksMetrics() called ' +
        'twice with it?); give each runner its own registry, or call tasksMetrics() once',
      { cause: error },
    );
  }

  // Not async: a request for another path passes straight through.
  function tasksMetricsMiddleware(ctx: Context, next: Next): Promise<unknown> {
    if (ctx.path !== path || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    return registry.metrics().then((text) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.type = registry.contentType;
      ctx.body = text;
    });
  }
  return {
    registry,
    middleware: tasksMetricsMiddleware,
    close: () => stops.forEach((stop) => stop()),
  };
}
