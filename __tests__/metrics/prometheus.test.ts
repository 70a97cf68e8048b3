import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { sseTasks, TaskRunner, type SseTasksMiddleware } from '../../src';
import { tasksMetrics } from '../../src/metrics';
import { startTask } from '../helpers/app';
import { defineControlled } from '../helpers/controlled';
import { startPrometheus, type OwnPrometheus } from '../helpers/prometheus';
import { openStream, type OpenStream } from '../helpers/sse';
import { finished } from '../helpers/tasks';

jest.setTimeout(90_000);

const N = 5; // streams opened, one per task
const M = 3; // of them dropped and resumed with their Last-Event-ID
const K = 4; // tasks completed (the last one is cancelled)

describe('a real Prometheus scraping the app', () => {
  let runner: TaskRunner;
  let tasks: SseTasksMiddleware;
  let server: http.Server;
  let prometheus: OwnPrometheus | undefined;
  const streams: OpenStream[] = [];

  beforeAll(async () => {
    runner = new TaskRunner({ concurrency: N });
    tasks = sseTasks({ runner });
    const { middleware } = tasksMetrics({ runner, tasks });
    const app = new Koa();
    app.use(middleware);
    app.use(tasks);
    server = http.createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    prometheus = await startPrometheus(`127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  afterAll(async () => {
    for (const stream of streams) stream.destroy();
    await prometheus?.stop();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await runner.close();
  });

  it('reads back, through its HTTP API, what a scripted run did', async () => {
    const prom = prometheus!;
    const controlled = defineControlled(runner);
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await prom.waitFor('up{job="koa-sse-tasks"}', 1);

    const ids = await Promise.all(Array.from({ length: N }, () => startTask(base, 'controlled')));
    const jobs = await Promise.all(ids.map((id) => controlled.running(id)));
    for (const id of ids) streams.push(await openStream(`${base}/tasks/${id}/events`));
    const firsts = await Promise.all(streams.map(async (stream) => (await stream.waitForEvents(1))[0]!));
    await prom.waitFor('koa_sse_tasks_open_streams{kind="task"}', N);
    await prom.waitFor('koa_sse_tasks_tasks_running{type="controlled"}', N);

    // M clients drop and resume from the last event they had: a progress they missed is replayed.
    for (let i = 0; i < M; i++) {
      streams[i]!.destroy();
      jobs[i]!.job.progress(50);
    }
    for (let i = 0; i < M; i++) {
      const resumed = await openStream(`${base}/tasks/${ids[i]}/events`, { 'Last-Event-ID': firsts[i]!.id! });
      expect((await resumed.waitForEvents(1))[0]!.event).toBe('progress');
      streams.push(resumed);
    }
    for (let i = 0; i < K; i++) jobs[i]!.complete('done');
    await runner.cancel(ids[N - 1]!);
    for (const id of ids) await finished(runner, id);

    await prom.waitFor('sum(koa_sse_tasks_tasks_finished_total{status="completed"})', K);
    await prom.waitFor('koa_sse_tasks_open_streams{kind="task"}', 0);
    const expected: Array<[string, number]> = [
      ['koa_sse_tasks_tasks_finished_total{type="controlled",status="cancelled"}', 1],
      ['koa_sse_tasks_tasks_started_total{type="controlled"}', N],
      ['koa_sse_tasks_tasks_running{type="controlled"}', 0],
      ['koa_sse_tasks_tasks_queued{type="controlled"}', 0],
      ['koa_sse_tasks_stream_connections_total{kind="task"}', N + M],
      ['koa_sse_tasks_resumes_total{outcome="replayed"}', M],
      ['koa_sse_tasks_resumes_total{outcome="reset"}', 0],
      ['koa_sse_tasks_events_committed_total{event="complete"}', K],
      ['koa_sse_tasks_events_committed_total{event="progress"}', M],
      ['koa_sse_tasks_events_committed_total{event="status"}', 2 * N],
      ['sum(koa_sse_tasks_task_duration_seconds_count{type="controlled"})', N],
      ['koa_sse_tasks_task_queue_wait_seconds_count{type="controlled"}', N],
      ['sum(koa_sse_tasks_store_errors_total)', 0],
    ];
    // Every figure from one scrape at least as recent as the last end: they are all final by then.
    for (const [expression, value] of expected)
      expect([expression, await prom.query(expression)]).toEqual([expression, value]);
    expect(await prom.query('koa_sse_tasks_bytes_written_total')).toBeGreaterThan(0);
    // Each task: queued (enqueue), running, and its end (commits); M progress events.
    expect(await prom.query('koa_sse_tasks_store_operation_seconds_count{op="enqueue"}')).toBe(N);
    expect(await prom.query('koa_sse_tasks_store_operation_seconds_count{op="commit"}')).toBe(2 * N + M);
  });
});
