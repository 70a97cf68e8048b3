// Signed stream tokens: a token whose scope covers a read authorizes it without cookies or `authorize`, for its
// whole lifetime; anything else about a token is a precise 403, even beside a valid cookie.
import { randomBytes } from 'node:crypto';
import { EventSource } from 'eventsource';
import { sseTasks } from '../../src';
import { postJson, startApp, waitUntil, type TestApp } from '../helpers/app';
import { defineControlled, type ControlledJob } from '../helpers/controlled';
import { openStream, withoutHeartbeats, type OpenStream } from '../helpers/sse';

const SECRET = 'x'.repeat(32);
const OLD_SECRET = 'o'.repeat(40);
const userOf = (ctx: { get(name: string): string }): string | undefined => ctx.get('X-User') || undefined;
/** Every timer real, the clock alone faked: a token's expiry is the only time these tests move. */
const REAL_TIMERS = [
  'nextTick',
  'setImmediate',
  'setInterval',
  'setTimeout',
  'clearInterval',
  'clearTimeout',
  'clearImmediate',
  'queueMicrotask',
  'hrtime',
  'performance',
] as const;

describe('signed stream tokens', () => {
  let t: TestApp;
  let controlled: ReturnType<typeof defineControlled>;
  const streams: OpenStream[] = [];

  beforeEach(async () => {
    t = await startApp({
      runner: { concurrency: 10 },
      middleware: { owner: userOf, secret: [SECRET, OLD_SECRET], heartbeatMs: 60_000, retryMs: 50 },
      define: (runner) => (controlled = defineControlled(runner)),
    });
  });
  afterEach(async () => {
    jest.useRealTimers();
    for (const stream of streams.splice(0)) stream.destroy();
    await t.close();
  });

  async function start(user: string): Promise<[string, ControlledJob]> {
    const response = await postJson(t.base, '/tasks', { type: 'controlled' }, { 'X-User': user });
    const { id } = (await response.json()) as { id: string };
    return [id, await controlled.running(id)];
  }
  async function status(path: string, headers: Record<string, string> = {}): Promise<[number, string?]> {
    const response = await fetch(`${t.base}${path}`, { headers });
    if (response.status < 400) return [response.status];
    return [response.status, ((await response.json()) as { error: { code: string } }).error.code];
  }
  async function open(path: string, headers: Record<string, string> = {}): Promise<OpenStream> {
    const stream = await openStream(`${t.base}${path}`, headers);
    streams.push(stream);
    return stream;
  }

  it('lets a token of one task read it on every read route, without a cookie, and nothing else', async () => {
    const [mine] = await start('ada');
    const [other] = await start('ada');
    const token = t.tasks.streamToken({ taskId: mine });
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(await status(`/tasks/${mine}`)).toEqual([403, 'forbidden']); // no cookie, no token
    expect(await status(`/tasks/${mine}?token=${token}`)).toEqual([200]);
    expect(await status(`/tasks/${mine}?wait=0&token=${token}`)).toEqual([200]);
    expect((await open(`/tasks/${mine}/events?token=${token}`)).status).toBe(200);
    expect((await open(`/tasks/events?ids=${mine}&token=${token}`)).status).toBe(200);
    // Out of scope, even with a cookie that would be enough without the token.
    expect(await status(`/tasks/${other}?token=${token}`, { 'X-User': 'ada' })).toEqual([403, 'invalid_token']);
    expect(await status(`/tasks/events?ids=${mine},${other}&token=${token}`)).toEqual([403, 'invalid_token']);
    expect(await status(`/tasks/events?token=${token}`)).toEqual([403, 'invalid_token']);
  });

  it('lets a token of several tasks read each of them and any subset on one stream', async () => {
    const [a] = await start('ada');
    const [b] = await start('bob');
    const [c] = await start('ada');
    const token = t.tasks.streamToken({ taskIds: [a, b] });
    expect(await status(`/tasks/${b}?token=${token}`)).toEqual([200]);
    expect((await open(`/tasks/events?ids=${b},${a}&token=${token}`)).status).toBe(200);
    expect(await status(`/tasks/events?ids=${a},${c}&token=${token}`)).toEqual([403, 'invalid_token']);
  });

  it("lets a token of an owner follow the owner feed and read the owner's tasks, no one else's", async () => {
    const [mine, job] = await start('ada');
    const [theirs] = await start('bob');
    const token = t.tasks.streamToken({ owner: 'ada' });
    expect(await status(`/tasks/${mine}?token=${token}`)).toEqual([200]);
    expect(await status(`/tasks/${theirs}?token=${token}`)).toEqual([403, 'invalid_token']);
    const feed = await open(`/tasks/events?token=${token}`);
    expect(feed.status).toBe(200);
    const [later] = await start('ada');
    await start('bob');
    job.job.progress(50);
    await waitUntil(() => withoutHeartbeats(feed.events).length === 3, 5000, 'the feed');
    const tasks = withoutHeartbeats(feed.events).map((e) => (JSON.parse(e.data) as { taskId: string }).taskId);
    expect(tasks).toEqual([mine, later, mine]);
  });

  it('answers token_expired once its time has passed, and keeps a stream opened before then', async () => {
    jest.useFakeTimers({ doNotFake: [...REAL_TIMERS] });
    const [id, job] = await start('ada');
    const token = t.tasks.streamToken({ taskId: id }, { ttlMs: 60_000 });
    const stream = await open(`/tasks/${id}/events?token=${token}`);
    await stream.waitForEvents(1);
    jest.setSystemTime(Date.now() + 60_001);
    expect(await status(`/tasks/${id}?token=${token}`)).toEqual([403, 'token_expired']);
    job.job.progress(40);
    job.complete('done');
    await stream.ended;
    expect(withoutHeartbeats(stream.events).map((e) => e.event)).toEqual(['status', 'progress', 'complete']);
  });

  it('refuses a malformed, tampered or foreign token with invalid_token, even beside a valid cookie', async () => {
    const [id] = await start('ada');
    const token = t.tasks.streamToken({ taskId: id });
    const [body, signature] = token.split('.') as [string, string];
    const otherPayload = Buffer.from(JSON.stringify({ e: Date.now() + 60_000, t: id })).toString('base64url');
    const elsewhere = sseTasks({ runner: t.runner, secret: randomBytes(24).toString('hex') }).streamToken({
      taskId: id,
    });
    for (const bad of ['abc', `${body}.`, `${otherPayload}.${signature}`, `${body}x.${signature}`, elsewhere]) {
      expect([bad, await status(`/tasks/${id}?token=${bad}`, { 'X-User': 'ada' })]).toEqual([
        bad,
        [403, 'invalid_token'],
      ]);
    }
  });

  it('accepts tokens of every secret it is given, and signs with the first: rotation', async () => {
    const [id] = await start('ada');
    const before = sseTasks({ runner: t.runner, secret: OLD_SECRET }).streamToken({ taskId: id });
    expect(await status(`/tasks/${id}?token=${before}`)).toEqual([200]);
    // Once the old secret is dropped, what this server signs (with the first) is still accepted.
    const after = t.tasks.streamToken({ taskId: id });
    const rotated = await startApp({
      runner: { store: t.runner.store, worker: false },
      middleware: { secret: SECRET },
    });
    try {
      rotated.runner.define('controlled');
      const answer = await fetch(`${rotated.base}/tasks/${id}?token=${after}`);
      expect(answer.status).toBe(200);
      const stale = await fetch(`${rotated.base}/tasks/${id}?token=${before}`);
      expect(stale.status).toBe(403);
    } finally {
      await rotated.close();
    }
  });

  it('is ignored on POST and DELETE, which keep to cookies and authorize', async () => {
    const [id] = await start('ada');
    const token = t.tasks.streamToken({ taskId: id });
    const cancel = await fetch(`${t.base}/tasks/${id}?token=${token}`, { method: 'DELETE' });
    expect(cancel.status).toBe(403);
    const created = await postJson(t.base, `/tasks?token=${token}`, { type: 'controlled' });
    expect(created.status).toBe(202);
    expect((await created.json()) as object).not.toHaveProperty('owner'); // the token named no one
  });

  it('keeps an EventSource that reconnects with it working, from where it was', async () => {
    const [id, job] = await start('ada');
    const token = t.tasks.streamToken({ taskId: id });
    const source = new EventSource(`${t.base}/tasks/${id}/events?token=${token}`);
    const got: string[] = [];
    for (const name of ['status', 'progress', 'complete']) {
      source.addEventListener(name, (e) => got.push(`${name}:${e.lastEventId}`));
    }
    await waitUntil(() => got.length === 1, 5000, 'the first event');
    job.job.progress(10);
    await waitUntil(() => got.length === 2, 5000, 'progress');
    t.server.closeAllConnections(); // the server drops the stream; EventSource reconnects with Last-Event-ID
    job.job.progress(20);
    job.complete('ok');
    await waitUntil(() => got.some((g) => g.startsWith('complete')), 10_000, 'the end');
    source.close();
    expect(got.map((g) => g.split(':')[0])).toEqual(['status', 'progress', 'progress', 'complete']);
  });

  it('needs a secret of 32 characters or more to be given one, and to sign', () => {
    const runner = t.runner;
    for (const secret of ['short', [], ['x'.repeat(32), 'short'], 42]) {
      expect(() => sseTasks({ runner, secret: secret as never })).toThrow(
        'expected `secret` to be a string of at least 32',
      );
    }
    expect(() => sseTasks({ runner }).streamToken({ taskId: 'a' })).toThrow('needs the `secret` option');
  });
});
