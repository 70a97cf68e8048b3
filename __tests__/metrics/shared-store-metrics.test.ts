import { TaskRunner } from '../../src';
import { tasksMetrics } from '../../src/metrics';
import { RedisStore } from '../../src/redis';
import { waitUntil } from '../helpers/app';
import { defineControlled } from '../helpers/controlled';
import { valueOf } from '../helpers/metrics';
import { REDIS_URL, deleteKeys, uniquePrefix } from '../helpers/redis';
import { finished } from '../helpers/tasks';

const P = 'koa_sse_tasks_';

describe('metrics of a web runner and a worker sharing Redis', () => {
  const keyPrefix = uniquePrefix('metrics-shared');
  let web: TaskRunner;
  let worker: TaskRunner;
  afterAll(async () => {
    await Promise.all([web.close(), worker.close()]);
    await deleteKeys(keyPrefix);
  });

  it("show the queue's depth on both, and the runs where they ran", async () => {
    web = new TaskRunner({ store: new RedisStore({ url: REDIS_URL, keyPrefix }), worker: false });
    web.define('report');
    worker = new TaskRunner({ store: new RedisStore({ url: REDIS_URL, keyPrefix }), concurrency: 1 });
    const controlled = defineControlled(worker, 'report');
    const webMetrics = tasksMetrics({ runner: web }).registry; // a web instance without sseTasks() here
    const workerMetrics = tasksMetrics({ runner: worker }).registry;
    const value = async (registry: typeof webMetrics, name: string, labels: Record<string, string>) =>
      valueOf(await registry.metrics(), P + name, labels);

    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await web.start('report')).id);
    const first = await controlled.running(ids[0]!);
    const report = { type: 'report' };
    await waitUntil(async () => (await value(webMetrics, 'tasks_queued', report)) === 2);
    expect(await value(workerMetrics, 'tasks_queued', report)).toBe(2);
    expect(await value(workerMetrics, 'tasks_running', report)).toBe(1);
    expect(await value(webMetrics, 'tasks_running', report)).toBe(0);
    first.complete('done');
    (await controlled.running(ids[1]!)).complete('done');
    (await controlled.running(ids[2]!)).complete('done');
    for (const id of ids) await finished(web, id);

    expect(await value(webMetrics, 'tasks_queued', report)).toBe(0);
    expect(await value(workerMetrics, 'tasks_started_total', report)).toBe(3);
    expect(await value(webMetrics, 'tasks_started_total', report)).toBe(0);
    expect(await value(workerMetrics, 'tasks_finished_total', { ...report, status: 'completed' })).toBe(3);
    expect(await value(workerMetrics, 'task_duration_seconds_count', { ...report, status: 'completed' })).toBe(3);
    // The web runner committed the three `queued` events, the worker the rest.
    expect(await value(webMetrics, 'events_committed_total', { event: 'status' })).toBe(3);
    expect(await value(workerMetrics, 'events_committed_total', { event: 'status' })).toBe(3);
    expect(await value(workerMetrics, 'store_operation_seconds_count', { op: 'claim' })).toBeGreaterThanOrEqual(3);
  });
});
