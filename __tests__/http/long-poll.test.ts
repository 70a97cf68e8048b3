import { MemoryStore, type TaskSnapshot } from '../../src';
import { waitUntil, type TestApp } from '../helpers/app';
import { startWithRunningTask, type ControlledJob } from '../helpers/controlled';

interface Answer {
  snapshot: TaskSnapshot;
  events: Array<{ id: string; event: string; data: Record<string, unknown> }>;
}

describe('following a task by long-polling GET /tasks/:id?wait=&after=', () => {
  let t: TestApp;
  let store: MemoryStore;
  let id: string;
  let running: ControlledJob;

  beforeEach(async () => {
    store = new MemoryStore();
    ({ t, id, running } = await startWithRunningTask(store));
  });
  afterEach(() => t.close());

  async function poll(query: string): Promise<{ status: number; body: Answer; ms: number; cache: string | null }> {
    const started = Date.now();
    const response = await fetch(`${t.base}/tasks/${id}?${query}`);
    return {
      status: response.status,
      body: (await response.json()) as Answer,
      ms: Date.now() - started,
      cache: response.headers.get('cache-control'),
    };
  }

  async function latestId(): Promise<string> {
    return (await store.read(id))!.lastEventId;
  }

  it('answers at once without `wait`, with the snapshot as before', async () => {
    const response = await fetch(`${t.base}/tasks/${id}?after=1`);
    expect(await response.json()).toMatchObject({ id, status: 'running' });
  });

  it('answers at once without `after`: a fresh status, as a new stream would start', async () => {
    const { status, body, ms, cache } = await poll('wait=5');
    expect(status).toBe(200);
    expect(ms).toBeLessThan(1000);
    expect(cache).toBe('no-store');
    expect(body.snapshot).toMatchObject({ id, status: 'running' });
    expect(body.events).toEqual([{ id: await latestId(), event: 'status', data: body.snapshot }]);
  });

  it('holds the request until the next event, then answers with it', async () => {
    const after = await latestId();
    const pending = poll(`wait=10&after=${after}`);
    await new Promise((r) => setTimeout(r, 300));
    running.job.progress(40, 'Rendering');
    const { body, ms } = await pending;
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(5000);
    expect(body.events).toEqual([
      { id: expect.any(String), event: 'progress', data: { percent: 40, message: 'Rendering' } },
    ]);
    expect(store.compareEventIds(body.events[0]!.id, after)).toBeGreaterThan(0);
    expect(body.snapshot).toMatchObject({ progress: 40, message: 'Rendering' });
  });

  it('answers with no event once `wait` has passed', async () => {
    const { body, ms } = await poll(`wait=0.4&after=${await latestId()}`);
    expect(body.events).toEqual([]);
    expect(ms).toBeGreaterThanOrEqual(390);
    expect(body.snapshot.status).toBe('running');
    await waitUntil(() => store.subscriptionCount === 0, 2000, 'the feed to be left');
  });

  it('answers at once with the events already after `after`', async () => {
    const after = await latestId();
    running.job.progress(10);
    running.job.progress(20);
    await new Promise((r) => setTimeout(r, 20));
    const { body, ms } = await poll(`wait=10&after=${after}`);
    expect(ms).toBeLessThan(1000);
    expect(body.events.map((e) => e.data.percent)).toEqual([10, 20]);
  });

  it.each(['nonsense', '999999', '1'])(
    'gives a fresh status for an `after` it cannot replay from (%s)',
    async (after) => {
      for (let p = 1; p <= 60; p++) running.job.progress(p); // more than historyLimit (50): id 1 is too old
      await new Promise((r) => setTimeout(r, 20));
      const { body } = await poll(`wait=10&after=${after}`);
      expect(body.events).toEqual([{ id: await latestId(), event: 'status', data: body.snapshot }]);
      expect(body.snapshot.progress).toBe(60);
    },
  );

  it('follows a task to its end with plain requests, losing nothing and repeating nothing', async () => {
    const first = await poll('wait=5');
    const seen: Answer['events'] = [...first.body.events];
    let after = first.body.events.at(-1)!.id;
    const client = (async () => {
      for (;;) {
        const { body } = await poll(`wait=5&after=${after}`);
        seen.push(...body.events);
        after = body.events.at(-1)?.id ?? after;
        if (body.events.some((e) => e.event === 'complete')) return body;
      }
    })();
    for (let p = 1; p <= 30; p++) {
      running.job.progress(p);
      if (p % 4 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    running.complete({ url: '/r.csv' });
    const last = await client;
    expect(seen[0]?.event).toBe('status');
    expect(seen.filter((e) => e.event === 'progress').map((e) => e.data.percent)).toEqual(
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    expect(seen.at(-1)).toMatchObject({ event: 'complete', data: { status: 'completed', result: { url: '/r.csv' } } });
    expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);
    expect(last.snapshot.status).toBe('completed');
  });

  it('answers at once, with no event, a client that already has the terminal event', async () => {
    running.complete();
    await new Promise((r) => setTimeout(r, 20));
    const { body, ms } = await poll(`wait=10&after=${await latestId()}`);
    expect(ms).toBeLessThan(1000);
    expect(body).toEqual({ snapshot: expect.objectContaining({ status: 'completed' }), events: [] });
  });

  it.each(['-1', 'abc', '1e1', '', '5&wait=6', '0x10'])('answers 400 for wait=%s', async (wait) => {
    const response = await fetch(`${t.base}/tasks/${id}?wait=${wait}`);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: { code: 'invalid_wait', message: expect.stringContaining('at most 30 counted') },
    });
  });

  it('takes a wait over 30 s as 30 s rather than refusing it', async () => {
    const polling = poll(`wait=3600&after=${await latestId()}`);
    await new Promise((r) => setTimeout(r, 50));
    running.job.progress(42);
    const { body } = await polling;
    expect(body.events.map((e: { data: unknown }) => e.data)).toEqual([{ percent: 42 }]);
  });

  it('answers 404 for an unknown task, as without `wait`', async () => {
    const response = await fetch(`${t.base}/tasks/00000000-0000-4000-8000-000000000000?wait=5`);
    expect(response.status).toBe(404);
  });

  it('releases the subscription of a client that leaves while it waits', async () => {
    const controller = new AbortController();
    const abandoned = fetch(`${t.base}/tasks/${id}?wait=20&after=${await latestId()}`, {
      signal: controller.signal,
    }).catch(() => undefined);
    await waitUntil(() => store.subscriptionCount === 1, 2000, 'the poll to subscribe');
    controller.abort();
    await abandoned;
    await waitUntil(() => store.subscriptionCount === 0, 2000, 'the subscription to be released');
  });

  it('answers a waiting request at once on close()', async () => {
    const pending = poll(`wait=20&after=${await latestId()}`);
    await waitUntil(() => store.subscriptionCount === 1, 2000, 'the poll to subscribe');
    t.tasks.close();
    const { body, ms } = await pending;
    expect(ms).toBeLessThan(5000);
    expect(body.events).toEqual([]);
    expect(store.subscriptionCount).toBe(0);
  });
});
