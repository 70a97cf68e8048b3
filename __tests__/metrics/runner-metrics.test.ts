import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { Registry } from 'prom-client';
import { TaskRunner, type Logger } from '../../src';
import { tasksMetrics } from '../../src/metrics';
import { RedisStore } from '../../src/redis';
import { waitUntil } from '../helpers/app';
import { defineControlled } from '../helpers/controlled';
import { promtoolCheck, samplesOf, valueOf } from '../helpers/metrics';
import { startOwnRedis, uniquePrefix } from '../helpers/redis';
import { finished } from '../helpers/tasks';

const P = 'koa_sse_tasks_';
const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

describe('the runner and store metrics', () => {
  let runner: TaskRunner;
  afterEach(async () => {
    await runner.close();
  });

  it('count starts, ends by status, retries, stalls, events, and time the runs and the waits', async () => {
    runner = new TaskRunner({ concurrency: 1 });
    const controlled = defineControlled(runner, 'held');
    let tries = 0;
    runner.define('flaky', () => (++tries === 1 ? Promise.reject(new Error('once')) : 'ok'), {
      retries: 1,
      backoffMs: 0,
    });
    runner.define('boom', () => Promise.reject(new Error('no')));
    runner.define('emits', (job) => job.emit('note', { n: 1 }));
    const { registry } = tasksMetrics({ runner });
    const value = async (name: string, labels: Record<string, string> = {}): Promise<number | undefined> =>
      valueOf(await registry.metrics(), P + name, labels);

    for (const type of ['flaky', 'boom', 'emits']) await finished(runner, (await runner.start(type)).id);
    expect(tries).toBe(2);
    const held = await runner.start('held');
    const job = await controlled.running(held.id);
    const queued = await runner.start('boom'); // waits: the one slot is taken
    expect(await value('tasks_running', { type: 'held' })).toBe(1);
    await runner.cancel(queued.id);
    job.complete('done');
    await finished(runner, held.id);
    await waitUntil(async () => (await value('tasks_running', { type: 'held' })) === 0);

    expect(await value('tasks_started_total', { type: 'flaky' })).toBe(1);
    expect(await value('tasks_started_total', { type: 'boom' })).toBe(1); // the cancelled one never started
    expect(await value('task_retries_total', { type: 'flaky' })).toBe(1);
    expect(await value('task_retries_total', { type: 'boom' })).toBe(0);
    expect(await value('tasks_finished_total', { type: 'flaky', status: 'completed' })).toBe(1);
    expect(await value('tasks_finished_total', { type: 'boom', status: 'failed' })).toBe(1);
    expect(await value('tasks_finished_total', { type: 'boom', status: 'cancelled' })).toBe(1);
    expect(await value('tasks_finished_total', { type: 'held', status: 'completed' })).toBe(1);
    // A duration for each task that ran here, none for the one cancelled while queued.
    expect(await value('task_duration_seconds_count', { type: 'boom', status: 'failed' })).toBe(1);
    expect(await value('task_duration_seconds_count', { type: 'boom', status: 'cancelled' })).toBeUndefined();
    expect(await value('task_queue_wait_seconds_count', { type: 'held' })).toBe(1);
    expect(await value('events_committed_total', { event: 'custom' })).toBe(1);
    expect(await value('events_committed_total', { event: 'complete' })).toBe(3); // flaky, emits, held
    expect(await value('events_committed_total', { event: 'failed' })).toBe(1);
    expect(await value('events_committed_total', { event: 'cancelled' })).toBe(1);
    // queued x5, running x4, flaky's retry
    expect(await value('events_committed_total', { event: 'status' })).toBe(10);
    const text = await registry.metrics();
    for (const id of [held.id, queued.id]) expect(text).not.toContain(id);
    expect(await promtoolCheck(text)).toEqual({ code: 0, output: '' });
  });

  it('counts stalls by type', async () => {
    runner = new TaskRunner();
    runner.define('quiet', (job) => new Promise((resolve) => job.signal.addEventListener('abort', resolve)), {
      stallMs: 20,
    });
    const { registry } = tasksMetrics({ runner });
    const stalls: string[] = [];
    runner.on('stalled', (id) => stalls.push(id));
    await runner.start('quiet');
    await waitUntil(() => stalls.length >= 1);
    expect(valueOf(await registry.metrics(), `${P}tasks_stalled_total`, { type: 'quiet' })).toBe(stalls.length);
  });

  it('times every store call by op, and reads the queue depth per type from the store', async () => {
    runner = new TaskRunner({ worker: false });
    runner.define('report');
    runner.define('export');
    const { registry } = tasksMetrics({ runner });
    for (let i = 0; i < 3; i++) await runner.start('report');
    await runner.start('export');
    const text = await registry.metrics();
    expect(valueOf(text, `${P}tasks_queued`, { type: 'report' })).toBe(3);
    expect(valueOf(text, `${P}tasks_queued`, { type: 'export' })).toBe(1);
    expect(valueOf(text, `${P}store_operation_seconds_count`, { op: 'enqueue' })).toBe(4);
    // The scrape's own reads of the queue are store calls too, timed by the next scrape.
    const again = await registry.metrics();
    const timed = samplesOf(again).filter((sample) => sample.name === `${P}store_operation_seconds_count`);
    const ops = new Set(timed.map((sample) => sample.labels.op));
    expect([...ops].sort()).toEqual(['enqueue', 'queuedCount']);
    expect(valueOf(again, `${P}store_operation_seconds_count`, { op: 'queuedCount' })).toBe(2);
    // Every op has its error count, failed or not, so a rate() over it starts at 0.
    expect(valueOf(again, `${P}store_errors_total`, { op: 'commit' })).toBe(0);
  });

  it('answers while the store is down, with the queue depth last read and the failed calls counted', async () => {
    const redis = await startOwnRedis();
    try {
      const store = new RedisStore({ url: redis.url, keyPrefix: uniquePrefix('metrics'), readTimeoutMs: 300 });
      runner = new TaskRunner({ store, worker: false, logger: quiet });
      runner.define('report');
      const { middleware } = tasksMetrics({ runner, registry: new Registry(), queueReadTimeoutMs: 200 });
      const app = new Koa();
      app.use(middleware);
      app.use((ctx) => (ctx.body = 'the app'));
      const server = http.createServer(app.callback());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        const { id } = await runner.start('report');
        await runner.start('report');
        const up = await fetch(`${base}/metrics`);
        expect(up.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
        expect(valueOf(await up.text(), `${P}tasks_queued`, { type: 'report' })).toBe(2);
        expect(await (await fetch(`${base}/elsewhere`)).text()).toBe('the app');
        expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(200); // passed on to the app
        const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
        expect([head.status, head.headers.get('content-type')]).toEqual([200, up.headers.get('content-type')]);

        await redis.kill();
        await expect(runner.get(id)).rejects.toThrow(/did not answer/);
        const started = Date.now();
        const down = await fetch(`${base}/metrics`);
        expect(down.status).toBe(200);
        expect(Date.now() - started).toBeLessThan(2_000);
        const text = await down.text();
        expect(valueOf(text, `${P}tasks_queued`, { type: 'report' })).toBe(2);
        expect(valueOf(text, `${P}store_errors_total`, { op: 'read' })).toBe(1);
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await redis.restart();
      }
    } finally {
      await redis.kill();
    }
  });

  it('refuses a second registration in one registry, and options that are not what it takes, naming them', () => {
    runner = new TaskRunner();
    const registry = new Registry();
    tasksMetrics({ runner, registry });
    expect(() => tasksMetrics({ runner, registry })).toThrow(/already has its metrics .*its own registry/);
    expect(() => tasksMetrics({ runner, path: 'metrics' })).toThrow(/`path`/);
    expect(() => tasksMetrics({ runner, tasks: {} as never })).toThrow(/`tasks`.*sseTasks\(\)/);
    expect(() => tasksMetrics({ runner: {} as never })).toThrow(/`runner`/);
  });
});
