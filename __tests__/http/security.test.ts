import { sseTasks, TaskRunner } from '../../src';
import { startApp, postJson, waitUntil, type TestApp } from '../helpers/app';
import { defineControlled } from '../helpers/controlled';
import { openStream, withoutHeartbeats } from '../helpers/sse';

const userOf = (ctx: { get(name: string): string }): string | undefined => ctx.get('X-User') || undefined;

let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe("another owner's task", () => {
  it('can be neither read, followed, long-polled, multiplexed nor cancelled: 403 everywhere', async () => {
    let controlled!: ReturnType<typeof defineControlled>;
    app = await startApp({ middleware: { owner: userOf }, define: (r) => (controlled = defineControlled(r)) });
    const created = await postJson(app.base, '/tasks', { type: 'controlled' }, { 'X-User': 'ada' });
    const { id } = (await created.json()) as { id: string };
    const adas = await controlled.running(id);
    const mine = (await (await postJson(app.base, '/tasks', { type: 'controlled' }, { 'X-User': 'bob' })).json()) as {
      id: string;
    };
    const bob = { 'X-User': 'bob' };

    for (const path of [`/tasks/${id}`, `/tasks/${id}?wait=1&after=1`, `/tasks/events?ids=${mine.id},${id}`]) {
      const answer = await fetch(app.base + path, { headers: bob });
      expect([path, answer.status]).toEqual([path, 403]);
      expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    }
    const stream = await openStream(`${app.base}/tasks/${id}/events`, bob);
    expect(stream.status).toBe(403);
    stream.destroy();
    expect((await fetch(`${app.base}/tasks/${id}`, { method: 'DELETE', headers: bob })).status).toBe(403);
    expect((await app.runner.get(id))?.status).toBe('running');

    // Bob's own feed carries his tasks, never Ada's: her progress, then a task Bob starts (the marker that the feed
    // has delivered everything committed before it).
    const feed = await openStream(`${app.base}/tasks/events`, bob);
    await feed.waitForEvents(1);
    adas.job.progress(50);
    const marker = (await (await postJson(app.base, '/tasks', { type: 'controlled' }, bob)).json()) as { id: string };
    await waitUntil(() => feed.events.some((e) => e.data.includes(marker.id)));
    const taskIds = withoutHeartbeats(feed.events).map((e) => (JSON.parse(e.data) as { taskId: string }).taskId);
    expect([...new Set(taskIds)]).toEqual([mine.id, marker.id]);
    feed.destroy();
    await waitUntil(() => app!.tasks.openStreams === 0);
  });
});

describe('task ids', () => {
  it('are random UUIDv4s: 1,000 are distinct and do not follow one another', async () => {
    const runner = new TaskRunner({ worker: false, maxQueued: 2_000 });
    runner.define('declared');
    const ids: string[] = [];
    for (let i = 0; i < 1_000; i++) ids.push((await runner.start('declared')).id);
    await runner.close();
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(1_000);
    // Not sequential: creation order is not their sorted order, and consecutive ids share no long prefix.
    expect([...ids].sort()).not.toEqual(ids);
    const sharedPrefix = (a: string, b: string): number => {
      let i = 0;
      while (i < a.length && a[i] === b[i]) i++;
      return i;
    };
    const longest = Math.max(...ids.slice(1).map((id, i) => sharedPrefix(id, ids[i]!)));
    expect(longest).toBeLessThan(6);
  });
});

describe('CORS with credentials', () => {
  const start = (origin: string | string[]): Promise<TestApp> =>
    startApp({
      middleware: { cors: { origin, credentials: true } },
      define: (r) => r.define('quick', () => 1),
    });

  it('answers only the listed origins, and never reflects an unlisted one', async () => {
    app = await start(['https://app.example', 'https://admin.example']);
    for (const origin of ['https://app.example', 'https://admin.example']) {
      const answer = await fetch(`${app.base}/tasks/nope-1`, { headers: { Origin: origin } });
      expect(answer.headers.get('access-control-allow-origin')).toBe(origin);
      expect(answer.headers.get('access-control-allow-credentials')).toBe('true');
    }
    for (const origin of ['https://evil.example', 'https://app.example.evil.example', 'null', '*']) {
      for (const method of ['GET', 'OPTIONS']) {
        const answer = await fetch(`${app.base}/tasks/nope-1`, {
          method,
          headers: { Origin: origin, 'Access-Control-Request-Method': 'GET' },
        });
        expect([origin, method, answer.headers.get('access-control-allow-origin')]).toEqual([origin, method, null]);
        expect(answer.headers.get('access-control-allow-credentials')).toBeNull();
      }
    }
  });

  it('with one origin as a string, answers that origin whoever asks', async () => {
    app = await start('https://app.example');
    const answer = await fetch(`${app.base}/tasks/nope-1`, { headers: { Origin: 'https://evil.example' } });
    expect(answer.headers.get('access-control-allow-origin')).toBe('https://app.example');
  });

  it('refuses credentials without an explicit origin, which @koa/cors would answer by reflecting any origin', async () => {
    const runner = new TaskRunner();
    for (const cors of [{ credentials: true }, { origin: '*', credentials: true }]) {
      expect(() => sseTasks({ runner, cors })).toThrow('expected `cors.origin` to be an origin');
    }
    expect(() => sseTasks({ runner, cors: { origin: ['*'] } })).toThrow('a list of origins');
    await runner.close();
  });
});
