import { randomUUID } from 'node:crypto';
import { RUNNER_DEFAULTS, type CommitLimits, type TaskEvent, type TaskSnapshot } from '../../src';
import { RedisStore } from '../../src/redis';
import { uniquePrefix } from '../helpers/redis';
import { startRedisCluster, type OwnCluster } from '../helpers/redis-cluster';

jest.setTimeout(60_000);

let cluster: OwnCluster;
beforeAll(async () => {
  cluster = await startRedisCluster(3, 1);
}, 60_000);
afterAll(() => cluster?.stop());

const limits: CommitLimits = { historyLimit: 1000, maxHistoryBytes: RUNNER_DEFAULTS.maxHistoryBytes, ttlMs: 60_000 };
function running(id: string, progress = 0): TaskSnapshot {
  const now = new Date().toISOString();
  return { id, type: 'report', status: 'running', progress, outputLength: 0, createdAt: now, updatedAt: now };
}

it('waits out a failover of a task’s master, and its follower gets each event once and in order', async () => {
  const keyPrefix = uniquePrefix('failover');
  const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
  const [writer, reader] = [1, 2].map(() => new RedisStore({ client: cluster.client(), keyPrefix, logger: quiet }));
  try {
    const id = randomUUID();
    const master = await cluster.ownerOf(await cluster.slotOf(`{${id}}`));
    const first = await writer!.commit(running(id), { event: 'status', data: '{}' }, limits);
    const heard: TaskEvent[] = [];
    const stop = await reader!.subscribe(id, (event) => heard.push(event));
    const committed: string[] = [];
    let slowest = 0;
    // Writes every 20 ms; the master is killed before the 11th, which waits (ioredis retrying) until a replica is
    // promoted: no write is rejected, and they land in order.
    for (let i = 1; i <= 40; i++) {
      if (i === 11) await cluster.kill(master);
      const started = Date.now();
      committed.push((await writer!.commit(running(id, i), { event: 'progress', data: String(i) }, limits)).id);
      slowest = Math.max(slowest, Date.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(slowest).toBeGreaterThan(1000); // the writes did meet the failover
    expect(slowest).toBeLessThan(20_000);
    const started = Date.now();
    while (heard.length < committed.length && Date.now() - started < 10_000)
      await new Promise((r) => setTimeout(r, 20));
    expect(heard.map((event) => event.id)).toEqual(committed);
    expect(heard.map((event) => event.data)).toEqual(committed.map((_, i) => String(i + 1)));
    expect(await reader!.eventsAfter(id, first.id)).toEqual(heard);
    stop();
  } finally {
    await Promise.all([writer!.close(), reader!.close()]);
  }
});
