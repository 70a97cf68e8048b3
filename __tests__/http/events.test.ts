import type Koa from 'koa';
import type { TaskRecord } from '../../src';
import { startApp, startTask, waitUntil, type TestApp } from '../helpers/app';
import { defineControlled } from '../helpers/controlled';
import { dataOf, openStream, withoutHeartbeats } from '../helpers/sse';

describe('GET /tasks/:id/events', () => {
  let t: TestApp;
  let controlled: ReturnType<typeof defineControlled>;
  /** What middleware mounted before sseTasks sees of a stream's response, once sseTasks returns. */
  let upstreamSaw: Record<string, unknown> | undefined;

  beforeEach(async () => {
    upstreamSaw = undefined;
    const recordUpstream: Koa.Middleware = async (ctx, next) => {
      await next();
      if (!ctx.path.endsWith('/events')) return;
      const { compress } = ctx as { compress?: unknown };
      upstreamSaw = { status: ctx.status, type: ctx.type, body: ctx.body, respond: ctx.respond, compress };
    };
    t = await startApp({
      before: [recordUpstream],
      middleware: { heartbeatMs: 60_000, retryMs: 1500 },
      define: (runner) => {
        controlled = defineControlled(runner);
        runner.define('fail', () => {
          throw new Error('No sales data for 2026-13');
        });
      },
    });
  });
  afterEach(() => t.close());

  it('answers with the SSE headers and a retry line before any event, and leaves upstream nothing to buffer', async () => {
    const id = await startTask(t.base, 'controlled');
    const stream = await openStream(`${t.base}/tasks/${id}/events`);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers['cache-control']).toBe('no-cache, no-transform');
    expect(stream.headers['x-accel-buffering']).toBe('no');
    expect(stream.headers.connection).toBe('keep-alive');
    expect(stream.headers['content-length']).toBeUndefined();
    await stream.waitForEvents(1);
    // The retry line opens the first event's block: no block of its own for a client to dispatch empty.
    expect(stream.raw.startsWith('retry: 1500\nevent: status\n')).toBe(true);
    expect(stream.retry).toBe(1500);
    // The frames go straight to the socket: upstream middleware sees the headers, no body to wrap, compression off.
    expect(upstreamSaw).toEqual({
      status: 200,
      type: 'text/event-stream',
      body: undefined,
      respond: false,
      compress: false,
    });
    stream.destroy();
  });

  it('sends the snapshot first, with the id of the latest event, then live progress, then the terminal event and ends', async () => {
    const id = await startTask(t.base, 'controlled');
    const { job, complete } = await controlled.running(id);
    job.progress(10, 'Querying');
    const record = await waitForRecord(t, id, 'progress', 10);
    const stream = await openStream(`${t.base}/tasks/${id}/events`);
    const [first] = await stream.waitForEvents(1);
    expect(first).toMatchObject({ event: 'status', id: record.lastEventId });
    expect(dataOf(first)).toMatchObject({ id, status: 'running', progress: 10, message: 'Querying' });

    job.progress(55.5, 'Rendering');
    job.progress(80);
    complete({ url: '/r/1.csv' });
    await stream.ended;
    const events = withoutHeartbeats(stream.events);
    expect(events.map((e) => e.event)).toEqual(['status', 'progress', 'progress', 'complete']);
    expect(dataOf(events[1])).toEqual({ percent: 55.5, message: 'Rendering' });
    expect(dataOf(events[2])).toEqual({ percent: 80 });
    expect(dataOf(events[3])).toMatchObject({ id, status: 'completed', progress: 100, result: { url: '/r/1.csv' } });
    const ids = events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('announces queued -> running with a status event', async () => {
    await t.close();
    t = await startApp({ runner: { concurrency: 1 }, define: (runner) => (controlled = defineControlled(runner)) });
    const first = await startTask(t.base, 'controlled');
    const second = await startTask(t.base, 'controlled');
    const stream = await openStream(`${t.base}/tasks/${second}/events`);
    const [queued] = await stream.waitForEvents(1);
    expect(dataOf(queued).status).toBe('queued');
    (await controlled.running(first)).complete();
    const events = await stream.waitForEvents(2);
    expect(events[1]!.event).toBe('status');
    expect(dataOf(events[1]).status).toBe('running');
    stream.destroy();
  });

  it('ends with `failed` carrying the reason when the job throws', async () => {
    const id = await startTask(t.base, 'fail');
    await waitUntilStatus(t, id, 'failed');
    const stream = await openStream(`${t.base}/tasks/${id}/events`);
    await stream.ended;
    const events = withoutHeartbeats(stream.events);
    expect(events.map((e) => e.event)).toEqual(['failed']);
    expect(dataOf(events[0])).toMatchObject({ status: 'failed', error: { message: 'No sales data for 2026-13' } });
  });

  it('ends with `cancelled` when the task is cancelled, and the job signal aborts', async () => {
    const id = await startTask(t.base, 'controlled');
    const { job } = await controlled.running(id);
    const stream = await openStream(`${t.base}/tasks/${id}/events`);
    await stream.waitForEvents(1);
    const res = await fetch(`${t.base}/tasks/${id}`, { method: 'DELETE' });
    expect(res.status).toBe(202);
    await stream.ended;
    expect(job.signal.aborted).toBe(true);
    const events = withoutHeartbeats(stream.events);
    expect(events.at(-1)?.event).toBe('cancelled');
    expect(dataOf(events.at(-1)).status).toBe('cancelled');
  });

  it('gives a fresh connection to a finished task its terminal event alone, carrying the final snapshot, then ends', async () => {
    const id = await startTask(t.base, 'controlled');
    (await controlled.running(id)).complete(42);
    const record = await waitUntilStatus(t, id, 'completed');
    const stream = await openStream(`${t.base}/tasks/${id}/events`);
    await stream.ended;
    // One event per id: a client that drops events whose id it has seen keeps the end.
    expect(stream.events.map((e) => [e.event, e.id])).toEqual([['complete', record.lastEventId]]);
    expect(dataOf(stream.events[0])).toEqual(record.snapshot);
    expect(dataOf(stream.events[0]).result).toBe(42);
  });

  it('answers 204 to a client whose last event is the terminal one, so EventSource stops', async () => {
    const id = await startTask(t.base, 'controlled');
    (await controlled.running(id)).complete();
    const record = await waitUntilStatus(t, id, 'completed');
    for (const headers of [{ 'Last-Event-ID': record.lastEventId }]) {
      const stream = await openStream(`${t.base}/tasks/${id}/events`, headers);
      expect(stream.status).toBe(204);
      await stream.ended;
      expect(stream.raw).toBe('');
    }
    const byQuery = await openStream(`${t.base}/tasks/${id}/events?lastEventId=${record.lastEventId}`);
    expect(byQuery.status).toBe(204);
  });

  it('sends heartbeats every heartbeatMs, with data and without an id line', async () => {
    await t.close();
    t = await startApp({
      middleware: { heartbeatMs: 40 },
      define: (runner) => (controlled = defineControlled(runner)),
    });
    const id = await startTask(t.base, 'controlled');
    const stream = await openStream(`${t.base}/tasks/${id}/events`);
    const events = await stream.waitForEvents(4, { heartbeats: true });
    const heartbeats = events.filter((e) => e.event === 'heartbeat');
    expect(heartbeats.length).toBeGreaterThanOrEqual(2);
    for (const heartbeat of heartbeats) expect(heartbeat).toEqual({ event: 'heartbeat', id: undefined, data: '{}' });
    expect(stream.raw).toContain('\n\nevent: heartbeat\ndata: {}\n\n');
    stream.destroy();
  });

  it('answers 404 for an unknown task and 400 for a malformed id, as JSON', async () => {
    const unknown = await openStream(`${t.base}/tasks/3d1e5b8e-0000-4000-8000-000000000000/events`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers['content-type']).toMatch(/^application\/json/);
    const malformed = await openStream(`${t.base}/tasks/${'z'.repeat(300)}/events`);
    expect(malformed.status).toBe(400);
  });

  it('answers HEAD with the stream headers and no stream', async () => {
    const id = await startTask(t.base, 'controlled');
    const res = await fetch(`${t.base}/tasks/${id}/events`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(await res.text()).toBe('');
    expect((t.runner.store as unknown as { subscriptionCount: number }).subscriptionCount).toBe(0);
  });

  it('lets Koa log nothing when clients go away mid-stream', async () => {
    const id = await startTask(t.base, 'controlled');
    const { job } = await controlled.running(id);
    const streams = await Promise.all(Array.from({ length: 10 }, () => openStream(`${t.base}/tasks/${id}/events`)));
    await Promise.all(streams.map((s) => s.waitForEvents(1)));
    streams.forEach((s, i) => (i % 2 === 0 ? s.destroy() : s.reset()));
    for (let i = 0; i < 20; i++) job.progress(i);
    // Written to every stream the server still held: a new stream then sees the last of them, once all are closed.
    await waitUntil(() => t.tasks.openStreams === 0);
    const after = await openStream(`${t.base}/tasks/${id}/events`);
    expect(dataOf((await after.waitForEvents(1))[0])).toMatchObject({ progress: 19 });
    after.destroy();
    expect(t.errors).toEqual([]);
  });
});

async function waitForRecord(
  t: TestApp,
  id: string,
  event: string,
  progress: number,
): Promise<{ lastEventId: string }> {
  let record = await t.runner.store.read(id);
  for (let i = 0; i < 200 && record?.snapshot.progress !== progress; i++) {
    await new Promise((r) => setTimeout(r, 10));
    record = await t.runner.store.read(id);
  }
  if (record?.snapshot.progress !== progress) throw new Error(`no ${event} ${progress}`);
  return record;
}

async function waitUntilStatus(t: TestApp, id: string, status: string): Promise<TaskRecord> {
  for (let i = 0; i < 200; i++) {
    const record = await t.runner.store.read(id);
    if (record?.snapshot.status === status) return record;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`task ${id} never reached ${status}`);
}
