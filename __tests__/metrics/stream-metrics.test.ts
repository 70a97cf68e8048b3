import net from 'node:net';
import type { Registry } from 'prom-client';
import { tasksMetrics } from '../../src/metrics';
import { postJson, startApp, waitUntil, type TestApp } from '../helpers/app';
import { defineControlled, type ControlledJob } from '../helpers/controlled';
import { valueOf } from '../helpers/metrics';
import { openStream, type OpenStream } from '../helpers/sse';

const P = 'koa_sse_tasks_';

describe('the stream metrics', () => {
  let t: TestApp;
  let registry: Registry;
  let controlled: ReturnType<typeof defineControlled>;
  const streams: OpenStream[] = [];
  const scrape = (): Promise<string> => registry.metrics();
  const value = async (name: string, labels: Record<string, string> = {}): Promise<number | undefined> =>
    valueOf(await scrape(), P + name, labels);
  const start = async (user = 'ada'): Promise<{ id: string; job: ControlledJob }> => {
    const response = await postJson(t.base, '/tasks', { type: 'controlled' }, { 'X-User': user });
    const { id } = (await response.json()) as { id: string };
    return { id, job: await controlled.running(id) };
  };
  const open = async (path: string, headers: Record<string, string> = {}): Promise<OpenStream> => {
    const stream = await openStream(t.base + path, { 'X-User': 'ada', ...headers });
    streams.push(stream);
    return stream;
  };

  beforeEach(async () => {
    t = await startApp({
      runner: { concurrency: 8 },
      middleware: { owner: (ctx) => ctx.get('x-user') || undefined, maxConnections: 6, maxConnectionsPerTask: 3 },
      define: (runner) => (controlled = defineControlled(runner)),
    });
    registry = tasksMetrics({ runner: t.runner, tasks: t.tasks }).registry;
  });
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.destroy();
    await t.close();
  });

  it('counts the streams open and opened by kind, and none once their clients leave', async () => {
    const a = await start();
    const b = await start();
    for (const path of [`/tasks/${a.id}/events`, `/tasks/${b.id}/events`, `/tasks/events?ids=${a.id},${b.id}`]) {
      await (await open(path)).waitForEvents(1);
    }
    await (await open('/tasks/events')).waitForEvents(2);
    expect(await value('open_streams', { kind: 'task' })).toBe(2);
    expect(await value('open_streams', { kind: 'set' })).toBe(1);
    expect(await value('open_streams', { kind: 'owner' })).toBe(1);
    for (const stream of streams.splice(0)) stream.destroy();
    await waitUntil(() => t.tasks.openStreams === 0);
    for (const kind of ['task', 'set', 'owner']) expect(await value('open_streams', { kind })).toBe(0);
    expect(await value('stream_connections_total', { kind: 'task' })).toBe(2);
    expect(await value('stream_connections_total', { kind: 'set' })).toBe(1);
    expect(await value('stream_connections_total', { kind: 'owner' })).toBe(1);
  });

  it('counts the refusals by reason: the limit per task, the limit in all, and shutting down', async () => {
    const tasks = await Promise.all([start(), start(), start()]);
    const [first, second, third] = tasks.map((task) => `/tasks/${task.id}/events`) as [string, string, string];
    for (let i = 0; i < 3; i++) expect((await open(first)).status).toBe(200);
    expect((await open(first)).status).toBe(503);
    for (let i = 0; i < 3; i++) expect((await open(second)).status).toBe(200);
    expect((await open(third)).status).toBe(503);
    expect(await value('stream_refusals_total', { reason: 'max_per_task' })).toBe(1);
    expect(await value('stream_refusals_total', { reason: 'max_connections' })).toBe(1);
    t.tasks.close();
    expect((await open(third)).status).toBe(503);
    expect((await open(`/tasks/events?ids=${tasks[2].id}`)).status).toBe(503);
    expect(await value('stream_refusals_total', { reason: 'shutting_down' })).toBe(2);
    expect(await value('stream_connections_total', { kind: 'task' })).toBe(6);
  });

  it('counts each resume as replayed, reset or ended, for a task stream and a set', async () => {
    const { id, job } = await start();
    job.job.progress(10);
    job.job.progress(20);
    const first = await open(`/tasks/${id}/events`);
    const [snapshot] = await first.waitForEvents(1);
    // Resumed from the snapshot's id (the latest event): nothing to replay, then what comes live.
    const resumed = await open(`/tasks/${id}/events`, { 'Last-Event-ID': snapshot!.id! });
    const reset = await open(`/tasks/${id}/events`, { 'Last-Event-ID': 'not-an-id' });
    expect((await reset.waitForEvents(2)).map((e) => e.event)).toEqual(['reset', 'status']);
    job.job.progress(30);
    expect((await resumed.waitForEvents(1)).map((e) => e.event)).toEqual(['progress']);
    expect(await value('resumes_total', { outcome: 'replayed' })).toBe(1);
    expect(await value('resumes_total', { outcome: 'reset' })).toBe(1);
    job.complete('done');
    const events = await first.waitForEvents(3);
    await first.ended;
    const last = events.at(-1)!;
    expect(last.event).toBe('complete');
    expect((await open(`/tasks/${id}/events`, { 'Last-Event-ID': last.id! })).status).toBe(204);
    const set = await open(`/tasks/events?ids=${id}`);
    const [end] = await set.waitForEvents(1);
    expect((await open(`/tasks/events?ids=${id}`, { 'Last-Event-ID': end!.id! })).status).toBe(204);
    expect(await value('resumes_total', { outcome: 'ended' })).toBe(2);
    // A request without a Last-Event-ID is no resume.
    expect(await value('resumes_total', { outcome: 'replayed' })).toBe(1);
  });

  it('counts the long-polls by how they were answered', async () => {
    const { id, job } = await start();
    job.job.progress(10);
    const fresh = (await (await fetch(`${t.base}/tasks/${id}?wait=0`, { headers: { 'X-User': 'ada' } })).json()) as {
      events: Array<{ id?: string }>;
    };
    const after = fresh.events[0]!.id!;
    const waited = await fetch(`${t.base}/tasks/${id}?wait=0.05&after=${after}`, { headers: { 'X-User': 'ada' } });
    expect(((await waited.json()) as { events: unknown[] }).events).toEqual([]);
    const polled = fetch(`${t.base}/tasks/${id}?wait=5&after=${after}`, { headers: { 'X-User': 'ada' } });
    job.job.progress(50);
    expect(((await (await polled).json()) as { events: unknown[] }).events).toHaveLength(1);
    expect(await value('long_polls_total', { outcome: 'fresh' })).toBe(1);
    expect(await value('long_polls_total', { outcome: 'timeout' })).toBe(1);
    expect(await value('long_polls_total', { outcome: 'events' })).toBe(1);
  });

  it('counts every frame and byte written, as the client received them', async () => {
    const { id, job } = await start();
    const stream = await open(`/tasks/${id}/events`);
    await stream.waitForEvents(1);
    for (let i = 1; i <= 5; i++) job.job.progress(i * 10, `step ${i} ✓`);
    job.complete({ words: 3 });
    await stream.ended;
    expect(stream.events.map((e) => e.event)).toEqual(['status', ...Array(5).fill('progress'), 'complete']);
    // The retry line is a frame of its own; no heartbeat is due within the test.
    expect(await value('frames_written_total')).toBe(stream.events.length + 1);
    expect(await value('bytes_written_total')).toBe(Buffer.byteLength(stream.raw));
  });

  it('counts a slow client once when its frames are coalesced, and once when it is cut off', async () => {
    const slow = await startApp({
      middleware: { bufferBytes: 1024, slowClientMs: 200 },
      define: (runner) => (controlled = defineControlled(runner)),
    });
    const slowRegistry = tasksMetrics({ runner: slow.runner, tasks: slow.tasks }).registry;
    try {
      const id = ((await (await postJson(slow.base, '/tasks', { type: 'controlled' })).json()) as { id: string }).id;
      const { job } = await controlled.running(id);
      // A client that reads the headers, then nothing: the socket's buffers fill, then the response's.
      const socket = await new Promise<net.Socket>((resolve, reject) => {
        const client = net.connect(Number(new URL(slow.base).port), '127.0.0.1', () => {
          client.write(`GET /tasks/${id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
          client.once('data', () => resolve(client.pause()));
        });
        client.on('error', reject);
      });
      // Events until the kernel's buffers are full and the client has stayed backed up for slowClientMs.
      const text = 'x'.repeat(1_000);
      const deadline = Date.now() + 20_000;
      for (let i = 1; slow.tasks.openStreams > 0 && Date.now() < deadline; i++) {
        job.progress((i % 10_000) / 100, text);
        if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      expect(slow.tasks.openStreams).toBe(0);
      const scraped = await slowRegistry.metrics();
      expect(valueOf(scraped, `${P}slow_clients_total`, { action: 'coalesced' })).toBe(1);
      expect(valueOf(scraped, `${P}slow_clients_total`, { action: 'disconnected' })).toBe(1);
      socket.destroy();
    } finally {
      await slow.close();
    }
  });
});
