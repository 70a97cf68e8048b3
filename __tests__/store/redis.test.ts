import { RUNNER_DEFAULTS } from '../../src';
import { RedisStore } from '../../src/redis';
import { REDIS_URL, clientsNamed, deleteKeys, uniquePrefix } from '../helpers/redis';
import { describeTaskStore } from './conformance';

const keyPrefix = uniquePrefix('conformance');
afterAll(() => deleteKeys(keyPrefix));

describeTaskStore('RedisStore', () => new RedisStore({ url: REDIS_URL, keyPrefix }));

describe('RedisStore', () => {
  const prefix = uniquePrefix('redis-store');
  afterAll(() => deleteKeys(prefix));

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
