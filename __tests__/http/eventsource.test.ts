import type { Socket } from 'node:net';
import type Koa from 'koa';
import { EventSource } from 'eventsource';
import { startApp, startTask, waitUntil, type TestApp } from '../helpers/app';
import { defineControlled } from '../helpers/controlled';

interface Received {
  type: string;
  lastEventId: string;
  data: unknown;
}

/** A real EventSource client (the `eventsource` package) that records every named event it dispatches. */
function follow(url: string, options: { closeOnTerminal: boolean }): { source: EventSource; received: Received[] } {
  const source = new EventSource(url);
  const received: Received[] = [];
  for (const type of ['status', 'progress', 'complete', 'failed', 'cancelled', 'heartbeat']) {
    source.addEventListener(type, (event) => {
      received.push({ type, lastEventId: event.lastEventId, data: JSON.parse(event.data) });
      if (options.closeOnTerminal && ['complete', 'failed', 'cancelled'].includes(type)) source.close();
    });
  }
  return { source, received };
}

describe('a real EventSource client', () => {
  let t: TestApp;
  let controlled: ReturnType<typeof defineControlled>;
  const eventRequests: Array<{ lastEventId: string; status?: number }> = [];
  const sockets: Socket[] = [];

  beforeEach(async () => {
    eventRequests.length = 0;
    sockets.length = 0;
    const watch: Koa.Middleware = async (ctx, next) => {
      if (!ctx.path.endsWith('/events')) {
        await next();
        return;
      }
      const request: { lastEventId: string; status?: number } = { lastEventId: ctx.get('Last-Event-ID') };
      eventRequests.push(request);
      sockets.push(ctx.req.socket);
      await next();
      request.status = ctx.status;
    };
    t = await startApp({
      before: [watch],
      middleware: { retryMs: 50, heartbeatMs: 60_000 },
      define: (runner) => (controlled = defineControlled(runner)),
    });
  });
  afterEach(() => t.close());

  it('follows a whole job and, closing on the terminal event, never comes back', async () => {
    const id = await startTask(t.base, 'controlled');
    const { job, complete } = await controlled.running(id);
    const { source, received } = follow(`${t.base}/tasks/${id}/events`, { closeOnTerminal: true });
    await waitUntil(() => received.length === 1);
    for (const percent of [20, 40, 60, 80]) job.progress(percent, `step ${percent}`);
    complete({ url: '/r/1.csv' });
    await waitUntil(() => received.some((r) => r.type === 'complete'));
    await new Promise((r) => setTimeout(r, 300)); // six reconnection delays
    expect(source.readyState).toBe(EventSource.CLOSED);
    expect(received.map((r) => r.type)).toEqual(['status', 'progress', 'progress', 'progress', 'progress', 'complete']);
    expect(received.at(-1)?.data).toMatchObject({ status: 'completed', result: { url: '/r/1.csv' } });
    expect(eventRequests).toHaveLength(1);
  });

  it('that does not close itself is stopped by the 204 the server gives after the terminal event', async () => {
    const id = await startTask(t.base, 'controlled');
    const { complete } = await controlled.running(id);
    const { source, received } = follow(`${t.base}/tasks/${id}/events`, { closeOnTerminal: false });
    await waitUntil(() => received.length === 1);
    complete('ok');
    await waitUntil(() => source.readyState === EventSource.CLOSED, 3000, 'the client to stop');
    await new Promise((r) => setTimeout(r, 300));
    expect(received.map((r) => r.type)).toEqual(['status', 'complete']);
    expect(eventRequests.map((r) => r.status)).toEqual([200, 204]);
    expect(eventRequests[1]?.lastEventId).toBe(received[1]?.lastEventId);
  });

  it('resumes by itself after the server drops the connection mid-job, with no gap and no duplicate', async () => {
    const id = await startTask(t.base, 'controlled');
    const { job, complete } = await controlled.running(id);
    const { source, received } = follow(`${t.base}/tasks/${id}/events`, { closeOnTerminal: true });
    await waitUntil(() => received.length === 1);
    for (let p = 1; p <= 5; p++) job.progress(p);
    await waitUntil(() => received.length === 6);
    sockets[0]?.destroy(); // the server side drops the client
    for (let p = 6; p <= 10; p++) job.progress(p); // emitted while the client is away
    await waitUntil(() => eventRequests.length === 2, 3000, 'the client to reconnect');
    for (let p = 11; p <= 15; p++) job.progress(p);
    complete();
    await waitUntil(() => source.readyState === EventSource.CLOSED, 3000);
    const percents = received.filter((r) => r.type === 'progress').map((r) => (r.data as { percent: number }).percent);
    expect(percents).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(received.filter((r) => r.type === 'complete')).toHaveLength(1);
    expect(eventRequests[1]?.lastEventId).toBe(received[5]?.lastEventId);
    const ids = received.map((r) => Number(r.lastEventId));
    expect(new Set(ids).size).toBe(ids.length);
  });
});
