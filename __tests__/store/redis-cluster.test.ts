import { randomUUID } from 'node:crypto';
import { RUNNER_DEFAULTS, type CommitLimits, type TaskEvent, type TaskSnapshot } from '../../src';
import { RedisStore } from '../../src/redis';
import { startRedisCluster, type OwnCluster } from '../helpers/redis-cluster';
import { uniquePrefix } from '../helpers/redis';
import { describeTaskStore } from './conformance';

jest.setTimeout(30_000);

let cluster: OwnCluster;
beforeAll(async () => {
  cluster = await startRedisCluster(3);
}, 60_000);
afterAll(() => cluster?.stop());

const keyPrefix = uniquePrefix('cluster');
let stores = 0;
describeTaskStore(
  'RedisStore on a Redis Cluster',
  () => new RedisStore({ client: cluster.client(), keyPrefix: `${keyPrefix}${++stores}:` }),
);

const limits: CommitLimits = { historyLimit: 1000, maxHistoryBytes: RUNNER_DEFAULTS.maxHistoryBytes, ttlMs: 60_000 };

function running(id: string, progress = 0): TaskSnapshot {
  const now = new Date().toISOString();
  return { id, type: 'report', status: 'running', progress, outputLength: 0, createdAt: now, updatedAt: now };
}

/** Task ids whose slots are served by every master, `perMaster` each. */
async function idsOnEveryMaster(perMaster: number): Promise<Map<number, string[]>> {
  const byPort = new Map<number, string[]>(cluster.ports.map((port) => [port, []]));
  while ([...byPort.values()].some((ids) => ids.length < perMaster)) {
    const id = randomUUID();
    const ids = byPort.get(await cluster.ownerOf(await cluster.slotOf(`{${id}}`)))!;
    if (ids.length < perMaster) ids.push(id);
  }
  return byPort;
}

/** Resolves once `events` holds `count` entries. */
async function until(events: unknown[], count: number, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (events.length < count) {
    if (Date.now() - started > timeoutMs) throw new Error(`${events.length} of ${count} events within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('RedisStore on a Redis Cluster', () => {
  it('refuses a key prefix with braces, which would take the place of its hash tags', () => {
    const client = cluster.client();
    expect(() => new RedisStore({ client, keyPrefix: 'app{1}:' })).toThrow(
      'expected `keyPrefix` to be a string without braces on a Redis Cluster',
    );
    client.disconnect();
  });

  it("keeps each task's keys on the master of its id's slot, and delivers another store's commits live", async () => {
    const prefix = `${keyPrefix}spread:`;
    const [writer, reader] = [1, 2].map(() => new RedisStore({ client: cluster.client(), keyPrefix: prefix }));
    try {
      const tasks = [...(await idsOnEveryMaster(2)).values()].flat();
      const heard = new Map<string, TaskEvent[]>(tasks.map((id) => [id, []]));
      const stops = await Promise.all(tasks.map((id) => reader!.subscribe(id, (event) => heard.get(id)!.push(event))));
      const committed = new Map<string, string[]>();
      for (const id of tasks) {
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) {
          const event = await writer!.commit(running(id, i), { event: 'progress', data: String(i) }, limits);
          ids.push(event.id);
        }
        committed.set(id, ids);
      }
      for (const id of tasks) {
        await until(heard.get(id)!, 3);
        expect(heard.get(id)!.map((event) => event.id)).toEqual(committed.get(id));
      }
      stops.forEach((stop) => stop());
    } finally {
      await Promise.all([writer!.close(), reader!.close()]);
    }
  });

  it('holds one command connection per master and one subscriber, however many streams it follows', async () => {
    const connectionName = `count-${randomUUID().slice(0, 8)}`;
    const store = new RedisStore({ client: cluster.client(), keyPrefix: `${keyPrefix}count:`, connectionName });
    try {
      const tasks = [...(await idsOnEveryMaster(20)).values()].flat();
      for (const id of tasks) await store.commit(running(id), { event: 'status', data: '{}' }, limits);
      const stops = await Promise.all(tasks.map((id) => store.subscribe(id, () => {})));
      expect(store.followedStreams).toBe(tasks.length);
      const perMaster = await Promise.all(
        cluster.ports.map(async (port) => (await cluster.clientsOn(port)).filter((n) => n.includes(connectionName))),
      );
      for (const names of perMaster) {
        expect(names.filter((name) => name === `${connectionName}:cmd`)).toHaveLength(1);
        expect(names.length).toBeLessThanOrEqual(3);
      }
      expect(perMaster.flat().filter((name) => name.includes('subscriber'))).toHaveLength(1);
      stops.forEach((stop) => stop());
    } finally {
      await store.close();
    }
    const closed = Date.now();
    const left = async (): Promise<string[]> =>
      (await Promise.all(cluster.ports.map((port) => cluster.clientsOn(port))))
        .flat()
        .filter((n) => n.includes(connectionName));
    while ((await left()).length > 0 && Date.now() - closed < 3000) await new Promise((r) => setTimeout(r, 20));
    expect(await left()).toEqual([]);
  });

  it('keeps a task streaming while its slot moves to another master: no gap, no duplicate', async () => {
    const prefix = `${keyPrefix}reshard:`;
    const [writer, reader] = [1, 2].map(() => new RedisStore({ client: cluster.client(), keyPrefix: prefix }));
    try {
      const id = randomUUID();
      const slot = await cluster.slotOf(`{${id}}`);
      const from = await cluster.ownerOf(slot);
      const to = cluster.ports.find((port) => port !== from)!;
      const first = await writer!.commit(running(id), { event: 'status', data: '{}' }, limits);
      const heard: TaskEvent[] = [];
      const stop = await reader!.subscribe(id, (event) => heard.push(event));
      const committed = [first.id];
      let writing = true;
      const writes = (async () => {
        for (let i = 1; writing || i <= 40; i++) {
          committed.push((await writer!.commit(running(id, i), { event: 'progress', data: String(i) }, limits)).id);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      await until(committed, 20);
      await cluster.moveSlot(slot, to);
      expect(await cluster.ownerOf(slot)).toBe(to);
      const moved = committed.length;
      await until(committed, moved + 20);
      writing = false;
      await writes;
      await until(heard, committed.length - 1);
      expect(heard.map((event) => event.id)).toEqual(committed.slice(1));
      expect(await reader!.eventsAfter(id, first.id)).toEqual(heard);
      stop();
    } finally {
      await Promise.all([writer!.close(), reader!.close()]);
    }
  });
});
