// The `koa-sse-tasks/metrics` entry: the only module that loads prom-client, so apps that never export metrics
// never need it.
export { tasksMetrics } from './metrics/metrics';
export { METRICS_DEFAULTS } from './metrics/options';
export type { TasksMetrics, TasksMetricsOptions } from './metrics/options';
