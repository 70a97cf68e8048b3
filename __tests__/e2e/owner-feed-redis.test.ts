// The owner feed across processes: a task started through one instance appears on the feed another one serves, on
// each store that shares tasks (Redis, PostgreSQL).
import { postJson, startApp, waitUntil, type TestApp } from '../helpers/app';
import { SHARED_STORES } from '../helpers/shared-stores';
import { dataOf, openStream, withoutHeartbeats } from '../helpers/sse';

const userOf = (ctx: { get(name: string): string }): string | undefined => ctx.get('X-User') || undefined;

describe.each(SHARED_STORES)('the owner feed on %s', (_name, shared) => {
  const { open, idPattern, cleanUp } = shared('owner_feed');
  let web: TestApp;
  let other: TestApp;

  beforeAll(async () => {
    const define = (runner: TestApp['runner']): void => {
      runner.define('quick', async (job) => {
        await new Promise((r) => setTimeout(r, 500)); // the feed hears of the task well before it moves on
        job.progress(50, 'half');
        await new Promise((r) => setTimeout(r, 20));
        return 'done';
      });
    };
    web = await startApp({
      runner: { store: await open() },
      middleware: { owner: userOf },
      define,
    });
    other = await startApp({
      runner: { store: await open() },
      middleware: { owner: userOf },
      define,
    });
  });
  afterAll(async () => {
    await Promise.all([web.close(), other.close()]);
    await cleanUp();
  });

  it('carries tasks started later through another instance, with stream ids in every position', async () => {
    const feed = await openStream(`${web.base}/tasks/events`, { 'X-User': 'ada' });
    expect(feed.status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    const started = await postJson(other.base, '/tasks', { type: 'quick' }, { 'X-User': 'ada' });
    const { id } = (await started.json()) as { id: string };
    await postJson(other.base, '/tasks', { type: 'quick' }, { 'X-User': 'bob' });
    await waitUntil(() => feed.events.some((e) => e.event === 'complete'), 10_000, 'the task to complete');
    const complete = feed.events.find((e) => e.event === 'complete');
    const mine = withoutHeartbeats(feed.events);
    expect(mine.every((e) => dataOf<{ taskId: string }>(e).taskId === id)).toBe(true);
    expect(mine.map((e) => e.event)).toEqual([...mine.slice(0, -2).map(() => 'status'), 'progress', 'complete']);
    const position = new URLSearchParams(complete!.id);
    expect(position.get('_')).toMatch(idPattern);
    feed.destroy();

    // Resuming from the last id on the other instance: nothing to resend.
    const resumed = await openStream(`${other.base}/tasks/events`, { 'X-User': 'ada', 'Last-Event-ID': complete!.id! });
    await new Promise((r) => setTimeout(r, 300));
    expect(withoutHeartbeats(resumed.events)).toEqual([]);
    resumed.destroy();
  });
});
