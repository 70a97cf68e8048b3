import { MemoryStore, QueueFullError, TaskRunner, type Job, type TaskStore } from '../../src';
import { RedisStore } from '../../src/redis';
import { deferred, waitUntil } from '../helpers/app';
import { REDIS_URL, deleteKeys, uniquePrefix } from '../helpers/redis';
import { finished } from '../helpers/tasks';

describe('owners taking turns', () => {
  let runner: TaskRunner;
  afterEach(() => runner.close());

  it("starts another owner's task among the next ones, after one owner queued twenty", async () => {
    runner = new TaskRunner({ concurrency: 1 });
    const gate = deferred();
    const started: string[] = [];
    runner.define('export', async (job: Job<string>) => {
      started.push(job.input);
      if (started.length === 1) await gate.promise;
    });
    const heavy = [];
    for (let i = 1; i <= 20; i++) heavy.push(await runner.start('export', `heavy-${i}`, { owner: 'heavy' }));
    const light = await runner.start('export', 'light', { owner: 'light' });
    gate.resolve();
    await finished(runner, light.id);
    await finished(runner, heavy.at(-1)!.id);
    expect(started.slice(0, 3)).toEqual(['heavy-1', 'heavy-2', 'light']);
    expect(started.filter((name) => name.startsWith('heavy'))).toEqual(heavy.map((_, i) => `heavy-${i + 1}`));
  });
});

describe('concurrencyPerOwner', () => {
  const prefix = uniquePrefix('per-owner');
  afterAll(() => deleteKeys(prefix));
  let runner: TaskRunner | undefined;
  afterEach(async () => {
    await runner?.close();
    runner = undefined;
  });

  it.each([
    [
      'MemoryStore',
      (): (() => TaskStore) => {
        const store = new MemoryStore();
        return () => store;
      },
    ],
    ['RedisStore', (): (() => TaskStore) => () => new RedisStore({ url: REDIS_URL, keyPrefix: prefix })],
  ])('runs at most that many jobs of one owner in the whole deployment, two workers here (%s)', async (_, shared) => {
    const storeOf = shared();
    const running = new Map<string, number>();
    const most = new Map<string, number>();
    let together = 0;
    const job = async (job: Job<string>): Promise<void> => {
      const owner = job.input;
      running.set(owner, (running.get(owner) ?? 0) + 1);
      most.set(owner, Math.max(most.get(owner) ?? 0, running.get(owner)!));
      together = Math.max(
        together,
        [...running.values()].reduce((sum, n) => sum + n, 0),
      );
      await new Promise((resolve) => setTimeout(resolve, 60));
      running.set(owner, running.get(owner)! - 1);
    };
    const workers = [1, 2].map(() =>
      new TaskRunner({ store: storeOf(), concurrency: 3, concurrencyPerOwner: 1, leaseMs: 3000 }).define('report', job),
    );
    try {
      const ids: string[] = [];
      for (const owner of ['a', 'a', 'a', 'a', 'b', 'b']) {
        ids.push((await workers[0]!.start('report', owner, { owner })).id);
      }
      for (const id of ids) expect((await finished(workers[0]!, id, 10_000)).status).toBe('completed');
      expect(Object.fromEntries(most)).toEqual({ a: 1, b: 1 });
      // The other owner's jobs ran beside the first one's, not after them.
      expect(together).toBe(2);
    } finally {
      for (const worker of workers) await worker.close();
    }
  });

  it('makes room for the owner as soon as one of its jobs is cancelled', async () => {
    runner = new TaskRunner({ concurrencyPerOwner: 1 });
    const started: string[] = [];
    runner.define('report', (job: Job<string>) => {
      started.push(job.input);
      return new Promise((_, reject) => job.signal.addEventListener('abort', () => reject(job.signal.reason as Error)));
    });
    const first = await runner.start('report', 'first', { owner: 'a' });
    await runner.start('report', 'second', { owner: 'a' });
    await waitUntil(() => started.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(started).toEqual(['first']);
    await runner.cancel(first.id);
    await waitUntil(() => started.length === 2);
    expect(started).toEqual(['first', 'second']);
  });

  it('explains a bad value', () => {
    expect(() => new TaskRunner({ concurrencyPerOwner: 0 })).toThrow(
      'expected `concurrencyPerOwner` to be an integer from 1 to 10000, got 0 (number)',
    );
    expect(() => new TaskRunner({ maxQueuedPerOwner: 1.5 })).toThrow('expected `maxQueuedPerOwner` to be an integer');
  });
});

describe('maxQueuedPerOwner', () => {
  let runner: TaskRunner;
  afterEach(() => runner.close());

  it("refuses an owner's task past it, over every type, with limit 'maxQueuedPerOwner'; other owners go on", async () => {
    runner = new TaskRunner({ worker: false, maxQueuedPerOwner: 2, maxQueued: 3 });
    runner.define('report').define('export');
    await runner.start('report', {}, { owner: 'a' });
    await runner.start('export', {}, { owner: 'a' });
    const refused = runner.start('report', {}, { owner: 'a' });
    await expect(refused).rejects.toBeInstanceOf(QueueFullError);
    await expect(refused).rejects.toMatchObject({ limit: 'maxQueuedPerOwner', code: 'too_many_tasks', status: 429 });
    await runner.start('report', {}, { owner: 'b' });
    // The queue as a whole is full now: that is the other limit, still a 503.
    await expect(runner.start('report', {}, { owner: 'c' })).rejects.toMatchObject({
      limit: 'maxQueued',
      code: 'queue_full',
      status: 503,
    });
  });
});
