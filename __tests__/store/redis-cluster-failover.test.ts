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

it('keeps a follower following through a failover of its task’s master, each event once and in order', async () => {
  const keyPrefix = uniquePrefix('failover');
  const quiet = { error: () => {}, info: () => {} };
  const [writer, reader] = [1, 2].map(() => new RedisStore({ client: cluster.client(), keyPrefix, logger: quiet }));
  try {
    const id = randomUUID();
    const master = await cluster.ownerOf(await cluster.slotOf(`{${id}}`));
    const first = await writer!.commit(running(id), { event: 'status', data: '{}' }, limits);
    const heard: TaskEvent[] = [];
    const stop = await reader!.subscribe(id, (event) => heard.push(event));
    const committed: string[] = [];
    let rejected = 0;
    let killedAt = 0;
    let backAt = 0;
    // Writes every 20 ms; once the master is killed they are rejected (ioredis: too many redirections) until a
    // replica is promoted, and this writer, as a runner's caller would, tries the same write again.
    const deadline = Date.now() + 30_000;
    for (let i = 1; committed.length < 40 && Date.now() < deadline;) {
      if (i === 11 && killedAt === 0) {
        await cluster.kill(master);
        killedAt = Date.now();
      }
      try {
        committed.push((await writer!.commit(running(id, i), { event: 'progress', data: String(i) }, limits)).id);
        if (killedAt > 0 && backAt === 0) backAt = Date.now();
        i++;
      } catch {
        rejected++;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(rejected).toBeGreaterThan(0); // the writes did meet the failover
    expect(committed).toHaveLength(40);
    expect(backAt - killedAt).toBeLessThan(15_000);
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
