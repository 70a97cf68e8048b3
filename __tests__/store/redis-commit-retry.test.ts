import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { RUNNER_DEFAULTS, type CommitLimits, type Lease, type TaskSnapshot, type TaskStatus } from '../../src';
import { RedisStore, type Logger } from '../../src/redis';
import { REDIS_URL, deleteKeys, uniquePrefix } from '../helpers/redis';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';

const limits: CommitLimits = { historyLimit: 50, maxHistoryBytes: RUNNER_DEFAULTS.maxHistoryBytes, ttlMs: 60_000 };
const lease: Lease = { holder: 'w1', leaseMs: 30_000 };

function snapshot(id: string, type: string, status: TaskStatus = 'running', progress = 0): TaskSnapshot {
  const now = new Date().toISOString();
  return { id, type, status, progress, outputLength: 0, createdAt: now, updatedAt: now };
}

/** Keeps the stores' outage reports out of the test output. */
const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

describe('RedisStore when the connection resets after a commit ran and before its reply arrived', () => {
  const prefix = uniquePrefix('commit-retry');
  let proxy: TcpProxy;
  let store: RedisStore;
  let redis: Redis;
  beforeEach(async () => {
    const { hostname, port } = new URL(REDIS_URL);
    proxy = await startTcpProxy({ host: hostname, port: Number(port || 6379) });
    store = new RedisStore({ url: proxy.url, keyPrefix: prefix, logger: quiet });
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterEach(async () => {
    await store.close();
    await proxy.close();
    redis.disconnect();
  });
  afterAll(() => deleteKeys(prefix));

  /** The entries of a task's stream as {id, event, data}, oldest first. */
  async function stored(taskId: string): Promise<Array<{ id: string; event: string; data: string }>> {
    const entries = await redis.xrange(`${prefix}events:${taskId}`, '-', '+');
    return entries.map(([id, fields]) => {
      const value = (name: string): string => fields[fields.indexOf(name) + 1] ?? '';
      return { id, event: value('e'), data: value('d') };
    });
  }

  /** The cut happened (its promise resolved) and the store came back through the proxy on a new connection. */
  function expectReconnected(): void {
    expect(proxy.accepted).toBe(2);
  }

  it('stores the commit once and resolves with the id of that one event', async () => {
    const taskId = randomUUID();
    const first = await store.commit(snapshot(taskId, 'report'), { event: 'status', data: '{}' }, limits);
    const marker = `marker-${randomUUID()}`;
    const cut = proxy.cutReplyTo(marker);
    const data = JSON.stringify({ percent: 50, marker });
    const [event] = await Promise.all([
      store.commit(snapshot(taskId, 'report', 'running', 50), { event: 'progress', data }, limits),
      cut,
    ]);
    expectReconnected();

    expect(await stored(taskId)).toEqual([
      { id: first.id, event: 'status', data: '{}' },
      { id: event.id, event: 'progress', data },
    ]);
    expect(await store.eventsAfter(taskId, first.id)).toEqual([event]);
    expect((await store.read(taskId))?.lastEventId).toBe(event.id);
  });

  it.each([
    ['without a bound', undefined],
    ['that fills a bounded queue', 1],
  ])('queues an enqueued task once, so only one claim gets it (%s)', async (_, maxQueued) => {
    const taskId = randomUUID();
    const type = `report-${randomUUID()}`;
    const marker = `marker-${randomUUID()}`;
    const bound = maxQueued === undefined ? undefined : { maxQueued, types: [type] };
    const cut = proxy.cutReplyTo(marker);
    const [event] = await Promise.all([
      store.enqueue(snapshot(taskId, type, 'queued'), { marker }, limits, { bound }),
      cut,
    ]);
    expectReconnected();

    expect(await store.queuedCount([type])).toBe(1);
    expect((await stored(taskId)).map(({ id, event: name }) => ({ id, event: name }))).toEqual([
      { id: event.id, event: 'status' },
    ]);
    const claimed = await store.claim([type], lease);
    expect(claimed?.snapshot.id).toBe(taskId);
    expect(claimed?.input).toEqual({ marker });
    expect(await store.claim([type], lease)).toBeUndefined();
  });

  it('resolves a resent terminal commit with its id instead of rejecting it as finished', async () => {
    const taskId = randomUUID();
    const first = await store.commit(snapshot(taskId, 'report'), { event: 'status', data: '{}' }, limits);
    const marker = `marker-${randomUUID()}`;
    const cut = proxy.cutReplyTo(marker);
    const data = JSON.stringify({ status: 'completed', marker });
    const [event] = await Promise.all([
      store.commit(snapshot(taskId, 'report', 'completed', 100), { event: 'complete', data }, limits),
      cut,
    ]);
    expectReconnected();

    expect(await store.eventsAfter(taskId, first.id)).toEqual([{ id: event.id, event: 'complete', data }]);
    expect((await store.read(taskId))?.snapshot.status).toBe('completed');
    expect(await redis.pttl(`${prefix}task:${taskId}`)).toBeGreaterThan(0);
  });

  it('recognises the resend after commits of another process landed between the run and the resend', async () => {
    const taskId = randomUUID();
    const first = await store.commit(snapshot(taskId, 'report'), { event: 'status', data: '{}' }, limits);
    const marker = `marker-${randomUUID()}`;
    const cut = proxy.cutReplyTo(marker, { hold: true });
    const data = JSON.stringify({ percent: 10, marker });
    const committing = store.commit(snapshot(taskId, 'report', 'running', 10), { event: 'progress', data }, limits);
    await cut;
    const other = new RedisStore({ url: REDIS_URL, keyPrefix: prefix, logger: quiet });
    const between: string[] = [];
    try {
      for (const percent of [20, 30, 40]) {
        const progress = { event: 'progress' as const, data: JSON.stringify({ percent }) };
        between.push((await other.commit(snapshot(taskId, 'report', 'running', percent), progress, limits)).id);
      }
    } finally {
      await other.close();
    }
    proxy.release();
    const event = await committing;
    expectReconnected();

    const events = await stored(taskId);
    expect(events.map(({ id }) => id)).toEqual([first.id, event.id, ...between]);
    expect(events[1]).toEqual({ id: event.id, event: 'progress', data });
  });

  it('remembers the tokens of the last 4 commits of a task, each with the id it stored', async () => {
    const taskId = randomUUID();
    const ids: string[] = [];
    for (let percent = 1; percent <= 6; percent++) {
      const progress = { event: 'progress' as const, data: JSON.stringify({ percent }) };
      ids.push((await store.commit(snapshot(taskId, 'report', 'running', percent), progress, limits)).id);
    }
    const recent = (await redis.hget(`${prefix}task:${taskId}`, 'r')) ?? '';
    expect(recent.split(',').map((pair) => pair.split(':')[1])).toEqual(ids.slice(-4));
    expect(new Set(recent.split(',').map((pair) => pair.split(':')[0])).size).toBe(4);
  });
});
