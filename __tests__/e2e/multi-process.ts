import { startTask } from '../helpers/app';
import { startInstance, type Instance } from '../helpers/processes';
import { uniquePrefix } from '../helpers/redis';
import { dataOf, openStream, withoutHeartbeats, type ParsedEvent } from '../helpers/sse';

/**
 * Two web instances and one worker, each its own process, sharing one store: Redis (or Redis Cluster) under a fresh
 * key prefix, or PostgreSQL in a fresh schema. `redis()` is the environment that points fixtures/instance.ts at it
 * (REDIS_URL or REDIS_CLUSTER; STORE=postgres with PG_URL and PG_SCHEMA), `cleanup` deletes what the tests wrote at
 * the end, and `byId` orders the store's event ids.
 */
export function describeMultiProcess(
  name: string,
  redis: () => Record<string, string>,
  cleanup: (keyPrefix: string) => Promise<unknown> = async () => {},
  byId: (a: string, b: string) => number = byStreamId,
): void {
  describe(name, () => {
    const keyPrefix = uniquePrefix('multi');
    const instances: Instance[] = [];
    const start = async (role: 'web' | 'worker', env: Record<string, string> = {}): Promise<Instance> => {
      const instance = await startInstance({ ROLE: role, ...redis(), KEY_PREFIX: keyPrefix, ...env });
      instances.push(instance);
      return instance;
    };
    afterEach(async () => {
      await Promise.all(instances.splice(0).map((instance) => instance.stop()));
    });
    afterAll(() => cleanup(keyPrefix));

    it('lets a client resume on instance B, after instance A died, with no gap and no duplicate', async () => {
      const [a, b] = await Promise.all([start('web'), start('web'), start('worker')]);
      const id = await startTask(a.base, 'report', { steps: 10, stepMs: 150 });

      const first = await openStream(`${a.base}/tasks/${id}/events`);
      const beforeCrash = await first.waitForEvents(5, { timeoutMs: 10_000 }); // status, then progress...
      await a.kill();
      await first.ended;
      const seen = withoutHeartbeats(first.events);
      const lastId = seen.at(-1)!.id!;

      const second = await openStream(`${b.base}/tasks/${id}/events`, { 'Last-Event-ID': lastId });
      expect(second.status).toBe(200);
      await second.ended;
      const resumed = withoutHeartbeats(second.events);
      const all = [...seen, ...resumed];

      expect(beforeCrash.length).toBeGreaterThanOrEqual(5);
      expect(resumed[0]?.event).not.toBe('status'); // a replay, not a fresh snapshot
      expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
      const ids = all.map((e) => e.id!);
      expect(ids).toEqual([...ids].sort(byId));
      expect(percents(all)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
      expect(all.at(-1)?.event).toBe('complete');
      expect(all.filter((e) => e.event === 'complete')).toHaveLength(1);
      expect(dataOf(all.at(-1))).toMatchObject({ status: 'completed', result: { steps: 10 } });

      // The terminal event's id is the last: a client that has it gets 204 from any instance.
      const done = await fetch(`${b.base}/tasks/${id}/events`, { headers: { 'Last-Event-ID': all.at(-1)!.id! } });
      expect(done.status).toBe(204);
    });

    it('fails the task of a worker killed mid-job within the lease timeout, and its followers see it', async () => {
      const [web, worker] = await Promise.all([
        start('web', { LEASE_MS: '1000' }),
        start('worker', { LEASE_MS: '1000' }),
      ]);
      const id = await startTask(web.base, 'report', { steps: 50, stepMs: 200 });
      const stream = await openStream(`${web.base}/tasks/${id}/events`);
      await stream.waitForEvents(3, { timeoutMs: 10_000 });
      await worker.kill();
      const killedAt = Date.now();
      await stream.ended;
      const events = withoutHeartbeats(stream.events);
      expect(events.at(-1)?.event).toBe('failed');
      expect(dataOf(events.at(-1))).toMatchObject({
        status: 'failed',
        error: { message: expect.stringMatching(/worker .* lost/) },
      });
      expect(Date.now() - killedAt).toBeLessThan(1000 + 1500);
      const snapshot = (await (await fetch(`${web.base}/tasks/${id}`)).json()) as { status: string };
      expect(snapshot.status).toBe('failed');
    });
  });
}

function percents(events: ParsedEvent[]): number[] {
  return events.filter((e) => e.event === 'progress').map((e) => dataOf<{ percent: number }>(e).percent);
}

function byStreamId(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am! !== bm! ? (am! < bm! ? -1 : 1) : as! < bs! ? -1 : as! > bs! ? 1 : 0;
}
