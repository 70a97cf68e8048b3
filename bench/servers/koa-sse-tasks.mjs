// koa-sse-tasks from the built package: sseTasks({ runner }) mounted before the JSON route, on the memory store (or
// BENCH_STORE's). Each channel is a task of type `bench` whose job waits for the harness and reports every event
// with job.progress(percent, `${seq}:${hrtime}`). Streams: GET /tasks/<id>/events.
import { createServer } from 'node:http';
import Koa from 'koa';
import { sseTasks, TaskRunner } from 'koa-sse-tasks';
import { createStore } from '../multi/stores.mjs';
import { jsonRoute } from './json-route.mjs';

export async function createTarget() {
  // Concurrency 1000 so the `many tasks` scenario can run 1000 jobs at once; the other scenarios run one task.
  // bench/multi/run.mjs runs the manyTasks scenario on a shared store too (BENCH_STORE: redis, postgres).
  const store = process.env.BENCH_STORE
    ? await createStore(process.env.BENCH_STORE, process.env.BENCH_RUN_ID)
    : undefined;
  const runner = new TaskRunner({ concurrency: 1000, ...(store === undefined ? {} : { store }) });
  /** Per task id: the job once its handler runs, and the function that lets the handler return. */
  const started = new Map();
  const startedTask = (id) => {
    let entry = started.get(id);
    if (entry === undefined) {
      let resolve;
      entry = { promise: new Promise((r) => (resolve = r)), resolve };
      started.set(id, entry);
    }
    return entry;
  };
  runner.define('bench', (job) => new Promise((done) => startedTask(job.id).resolve({ job, done })));

  const app = new Koa();
  // The idle scenario holds 50,000 streams on one task: past the defaults (10,000 in all, 1,000 per task).
  const middleware = sseTasks({ runner, maxConnections: 60_000, maxConnectionsPerTask: 60_000 });
  if (process.env.BENCH_METRICS === '1') {
    // Metrics on (BENCHMARKS.md, "Metrics"): koa-sse-tasks/metrics mounted, and scraped every second as Prometheus would.
    const { tasksMetrics } = await import('koa-sse-tasks/metrics');
    const metrics = tasksMetrics({ runner, tasks: middleware });
    app.use(metrics.middleware);
    setInterval(() => void metrics.registry.metrics(), 1000).unref();
  }
  app.use(middleware);
  app.use(jsonRoute);
  let tasks = [];

  return {
    server: createServer(app.callback()),
    async prepare({ channels }) {
      tasks = [];
      const ids = [];
      for (let n = 0; n < channels; n++) ids.push((await runner.start('bench')).id);
      // The runner may start a job a little after start() resolves: wait until every handler runs.
      tasks = await Promise.all(ids.map((id) => startedTask(id).promise));
      for (const id of ids) started.delete(id);
      return { paths: tasks.map(({ job }) => `/tasks/${job.id}/events`) };
    },
    publish(channel, seq, percent, pad = '') {
      tasks[channel].job.progress(percent, `${seq}:${process.hrtime.bigint()}${pad}`);
    },
    async finish() {
      const ids = tasks.map(({ job }) => job.id);
      for (const { done } of tasks) done();
      tasks = [];
      // Wait until every task has its terminal event committed (which ends its streams).
      for (let tries = 0; tries < 200; tries++) {
        const snapshots = await Promise.all(ids.map((id) => runner.get(id)));
        if (snapshots.every((s) => s === undefined || s.status === 'completed')) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async counts() {
      return {
        streams: middleware.openStreams ?? 0, // sseTasks().openStreams, where the build has it
        subscriptions: runner.store.subscriptionCount,
        storedTasks: runner.store.size,
      };
    },
  };
}
