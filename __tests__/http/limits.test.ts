import { startApp, startTask, postJson, waitUntil, type TestApp } from '../helpers/app';
import { defineControlled } from '../helpers/controlled';
import { openStream } from '../helpers/sse';

let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function expect503(response: Response, code: string): Promise<void> {
  expect(response.status).toBe(503);
  expect(response.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/);
  expect(await response.json()).toEqual({ error: { code, message: expect.any(String) } });
}

describe('connection limits', () => {
  it('answers 503 with Retry-After past maxConnections, and takes a stream again once one ends', async () => {
    let controlled!: ReturnType<typeof defineControlled>;
    app = await startApp({
      middleware: { maxConnections: 2, retryMs: 4_500 },
      define: (runner) => (controlled = defineControlled(runner)),
    });
    const [a, b] = [await startTask(app.base, 'controlled'), await startTask(app.base, 'controlled')];
    await Promise.all([controlled.running(a), controlled.running(b)]);
    const first = await openStream(`${app.base}/tasks/${a}/events`);
    const second = await openStream(`${app.base}/tasks/events?ids=${b}`);
    const refused = await fetch(`${app.base}/tasks/${b}/events`);
    await expect503(refused, 'too_many_connections');
    expect(refused.headers.get('retry-after')).toBe('5');
    first.destroy();
    await waitUntil(() => app!.tasks.openStreams === 1);
    const third = await openStream(`${app.base}/tasks/${b}/events`);
    expect(third.status).toBe(200);
    second.destroy();
    third.destroy();
    await waitUntil(() => app!.tasks.openStreams === 0);
  });

  it('answers 503 past maxConnectionsPerTask for that task only, counting multiplexed streams', async () => {
    let controlled!: ReturnType<typeof defineControlled>;
    app = await startApp({
      middleware: { maxConnectionsPerTask: 2 },
      define: (runner) => (controlled = defineControlled(runner)),
    });
    const [a, b] = [await startTask(app.base, 'controlled'), await startTask(app.base, 'controlled')];
    await Promise.all([controlled.running(a), controlled.running(b)]);
    const streams = [
      await openStream(`${app.base}/tasks/${a}/events`),
      await openStream(`${app.base}/tasks/events?ids=${b},${a}`),
    ];
    await expect503(await fetch(`${app.base}/tasks/${a}/events`), 'too_many_connections');
    await expect503(await fetch(`${app.base}/tasks/events?ids=${a}`), 'too_many_connections');
    const other = await openStream(`${app.base}/tasks/${b}/events`);
    expect(other.status).toBe(200);
    for (const stream of [...streams, other]) stream.destroy();
    await waitUntil(() => app!.tasks.openStreams === 0);
    const again = await openStream(`${app.base}/tasks/${a}/events`);
    expect(again.status).toBe(200);
    again.destroy();
  });

  it('explains a bad limit', async () => {
    const { sseTasks, TaskRunner } = await import('../../src');
    const runner = new TaskRunner();
    expect(() => sseTasks({ runner, maxConnections: 0 })).toThrow(
      'expected `maxConnections` to be an integer from 1 to 10000000, got 0 (number)',
    );
    expect(() => new TaskRunner({ maxQueued: -1 })).toThrow('expected `maxQueued` to be an integer from 1');
    expect(() => new TaskRunner({ maxHistoryBytes: 0.5 })).toThrow('expected `maxHistoryBytes` to be an integer');
    await runner.close();
  });
});

describe('queue limit', () => {
  it('answers POST with 503 and Retry-After once maxQueued tasks wait, and takes tasks again when one starts', async () => {
    let controlled!: ReturnType<typeof defineControlled>;
    app = await startApp({
      runner: { concurrency: 1, maxQueued: 2 },
      define: (runner) => (controlled = defineControlled(runner)),
    });
    const running = await startTask(app.base, 'controlled');
    const job = await controlled.running(running);
    await startTask(app.base, 'controlled');
    await startTask(app.base, 'controlled');
    await expect503(await postJson(app.base, '/tasks', { type: 'controlled' }), 'queue_full');
    job.complete();
    const started = Date.now();
    let status = 0;
    while (status !== 202 && Date.now() - started < 5000) {
      status = (await postJson(app.base, '/tasks', { type: 'controlled' })).status;
      if (status !== 202) await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(202);
  });
});

describe('per-owner queue limit', () => {
  it('answers POST with 429 too_many_tasks and Retry-After past maxQueuedPerOwner, for that owner only', async () => {
    app = await startApp({
      runner: { worker: false, maxQueuedPerOwner: 2 },
      middleware: { owner: (ctx) => ctx.get('x-user') || undefined, retryMs: 2_000 },
      define: (runner) => runner.define('report'),
    });
    const as = (user: string): Record<string, string> => (user === '' ? {} : { 'x-user': user });
    for (const user of ['alice', 'alice', '', '']) {
      expect((await postJson(app.base, '/tasks', { type: 'report' }, as(user))).status).toBe(202);
    }
    for (const user of ['alice', '']) {
      const refused = await postJson(app.base, '/tasks', { type: 'report' }, as(user));
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('2');
      expect(await refused.json()).toEqual({ error: { code: 'too_many_tasks', message: expect.any(String) } });
    }
    expect((await postJson(app.base, '/tasks', { type: 'report' }, as('bob'))).status).toBe(202);
  });
});

describe('closing', () => {
  it('answers POST with 503 and Retry-After once the middleware or the runner is closed', async () => {
    app = await startApp({ define: (runner) => runner.define('quick', () => 1) });
    app.tasks.close();
    await expect503(await postJson(app.base, '/tasks', { type: 'quick' }), 'shutting_down');
    await app.close();
    app = await startApp({ define: (runner) => runner.define('quick', () => 1) });
    await app.runner.close();
    await expect503(await postJson(app.base, '/tasks', { type: 'quick' }), 'runner_closed');
  });
});
