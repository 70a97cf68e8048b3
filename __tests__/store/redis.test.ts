import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { RUNNER_DEFAULTS, type CommitLimits, type TaskSnapshot } from '../../src';
import { RedisStore } from '../../src/redis';
import { REDIS_URL, clientsNamed, deleteKeys, uniquePrefix } from '../helpers/redis';
import { describeTaskStore } from './conformance';
import { describeTransactionRefusal } from './transactions';

const keyPrefix = uniquePrefix('conformance');
afterAll(() => deleteKeys(keyPrefix));

// A prefix per test: the owner groups (and the group of the tasks without an owner) span every type of a store.
let stores = 0;
describeTaskStore('RedisStore', () => new RedisStore({ url: REDIS_URL, keyPrefix: `${keyPrefix}${++stores}:` }));

describe('RedisStore', () => {
  const prefix = uniquePrefix('redis-store');
  afterAll(() => deleteKeys(prefix));

  describeTransactionRefusal('the Redis store', () => new RedisStore({ url: REDIS_URL, keyPrefix: prefix }));

  it('uses stream ids as event ids and orders them numerically', async () => {
    const store = new RedisStore({ url: REDIS_URL, keyPrefix: prefix });
    try {
      expect(store.compareEventIds('1700000000000-10', '1700000000000-9')).toBeGreaterThan(0);
      expect(store.compareEventIds('999-0', '1000-0')).toBeLessThan(0);
      const now = new Date().toISOString();
      const event = await store.commit(
        { id: 'a', type: 't', status: 'running', progress: 0, outputLength: 0, createdAt: now, updatedAt: now },
        { event: 'status', data: '{}' },
        { historyLimit: 10, maxHistoryBytes: RUNNER_DEFAULTS.maxHistoryBytes, ttlMs: 1000 },
      );
      expect(event.id).toMatch(/^\d+-\d+$/);
    } finally {
      await store.close();
    }
  });

  it('opens two named connections, and closes them once however often it is closed', async () => {
    const connectionName = `conn-${prefix.replace(/[^a-z0-9]/gi, '')}`;
    const store = new RedisStore({ url: REDIS_URL, keyPrefix: prefix, connectionName });
    const off = await store.subscribe('x', () => {});
    const started = Date.now();
    while ((await clientsNamed(connectionName)).length < 2 && Date.now() - started < 2000)
      await new Promise((r) => setTimeout(r, 20));
    expect((await clientsNamed(connectionName)).sort()).toEqual([`${connectionName}:cmd`, `${connectionName}:reader`]);
    off();
    await Promise.all([store.close(), store.close()]);
    await store.close();
    const closed = Date.now();
    while ((await clientsNamed(connectionName)).length > 0 && Date.now() - closed < 2000)
      await new Promise((r) => setTimeout(r, 20));
    expect(await clientsNamed(connectionName)).toEqual([]);
  });

  describe('its fair queue', () => {
    const limits: CommitLimits = { historyLimit: 10, maxHistoryBytes: RUNNER_DEFAULTS.maxHistoryBytes, ttlMs: 200 };
    function queued(type: string, owner: string): TaskSnapshot {
      const now = new Date().toISOString();
      return {
        id: randomUUID(),
        type,
        status: 'queued',
        progress: 0,
        outputLength: 0,
        owner,
        createdAt: now,
        updatedAt: now,
      };
    }

    it('never lets claims from several connections pass concurrencyPerOwner together', async () => {
      const shared = `${prefix}per-owner:`;
      const instances = [1, 2, 3].map(() => new RedisStore({ url: REDIS_URL, keyPrefix: shared }));
      try {
        const [store] = instances;
        const type = `t${randomUUID().slice(0, 8)}`;
        for (let i = 0; i < 10; i++) {
          await store!.enqueue(queued(type, 'a'), null, limits);
          await store!.enqueue(queued(type, 'b'), null, limits);
        }
        const claims = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            instances[i % 3]!.claim([type], { holder: `w${i}`, leaseMs: 60_000 }, { concurrencyPerOwner: 2 }),
          ),
        );
        const owners = claims.flatMap((claimed) => (claimed === undefined ? [] : [claimed.snapshot.owner]));
        expect(owners.sort()).toEqual(['a', 'a', 'b', 'b']);
      } finally {
        await Promise.all(instances.map((instance) => instance.close()));
      }
    });

    it('leaves no key or counter of an owner behind once its tasks have run and been forgotten', async () => {
      const own = `${prefix}cleanup:`;
      const store = new RedisStore({ url: REDIS_URL, keyPrefix: own });
      const redis = new Redis(REDIS_URL);
      try {
        const [a, b] = [`t${randomUUID().slice(0, 8)}`, `t${randomUUID().slice(0, 8)}`];
        const tasks = [queued(a, 'alice'), queued(b, 'alice'), queued(a, 'alice'), queued(a, 'bob')];
        for (const [i, task] of tasks.entries()) {
          await store.enqueueOnce(task, null, limits, { key: `k${i}`, fingerprint: 'f' });
        }
        const bound = { types: [a, b], maxQueued: 100, maxQueuedPerOwner: 10 };
        const cancelled = queued(b, 'carol');
        await store.enqueue(cancelled, null, limits, { bound });
        await store.commit({ ...cancelled, status: 'cancelled' }, { event: 'cancelled', data: '{}' }, limits);
        for (;;) {
          // One at a time per owner: the second of alice's claims parks her until the first finishes.
          const claimed = await store.claim([a, b], { holder: 'w', leaseMs: 60_000 }, { concurrencyPerOwner: 1 });
          if (claimed === undefined) break;
          await store.commit({ ...claimed.snapshot, status: 'completed' }, { event: 'complete', data: '{}' }, limits);
        }
        expect(await redis.pttl(`${own}once:k0`)).toBeGreaterThan(0);
        await new Promise((r) => setTimeout(r, 400));
        const keys = (await redis.keys(`${own}*`)).map((key) => key.slice(own.length));
        // `owner:<owner>` is the owner feed's index, emptied when it is read (OwnerIndex), not the queue's.
        expect(keys.filter((key) => !key.startsWith('owner:')).sort()).toEqual(['queued', 'queues']);
        const fields = Object.keys(await redis.hgetall(`${own}queues`)).sort();
        expect(fields).toEqual([`claimed:${a}`, `claimed:${b}`, 'seq'].sort());
      } finally {
        redis.disconnect();
        await store.close();
      }
    });
  });

  it.each([
    [
      { url: 'localhost:6379' },
      'expected `url` to be a Redis URL such as \'redis://127.0.0.1:6379\', got "localhost:6379" (string)',
    ],
    [{ keyPrefix: 'a b' }, 'expected `keyPrefix` to be a string without spaces'],
    [{ readTimeoutMs: 0 }, 'expected `readTimeoutMs` to be an integer from 1'],
    [{ url: 'redis://x', client: {} }, 'give `url` or `client` to RedisStore, not both'],
  ])('explains a bad option %p', (options, message) => {
    expect(() => new RedisStore(options as never)).toThrow(message);
  });
});
