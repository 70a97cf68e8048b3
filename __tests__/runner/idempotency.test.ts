import { z } from 'zod';
import {
  IdempotencyKeyReusedError,
  InvalidInputError,
  MemoryStore,
  TaskError,
  TaskRunner,
  type TaskRunnerOptions,
  type TaskStore,
} from '../../src';
import { RedisStore } from '../../src/redis';
import { REDIS_URL, deleteKeys, uniquePrefix } from '../helpers/redis';
import { finished } from '../helpers/tasks';

describe('runner.start(type, input, { idempotencyKey })', () => {
  let runner: TaskRunner;
  let runs: unknown[];
  function start(options: TaskRunnerOptions = {}): void {
    runner = new TaskRunner(options);
    runs = [];
    runner.define('report', (job) => void runs.push(job.input));
    runner.define('export', (job) => void runs.push(job.input));
  }
  afterEach(() => runner.close());

  it('starts a task once per key: a repeat gets that task, even once it has finished, and starts nothing', async () => {
    start();
    const first = await runner.submit('report', { month: '2024-02' }, { idempotencyKey: 'k-1' });
    expect(first.replayed).toBe(false);
    const again = await runner.submit('report', { month: '2024-02' }, { idempotencyKey: 'k-1' });
    expect(again).toEqual({ snapshot: expect.objectContaining({ id: first.snapshot.id }), replayed: true });
    await finished(runner, first.snapshot.id);
    const late = await runner.start('report', { month: '2024-02' }, { idempotencyKey: 'k-1' });
    expect(late).toMatchObject({ id: first.snapshot.id, status: 'completed' });
    expect(runs).toEqual([{ month: '2024-02' }]);
  });

  it('refuses the key with another type or input, whatever the order of its keys', async () => {
    start();
    const key = 'secret-7f3a9c';
    const { id } = await runner.start('report', { month: '2024-02', kind: 'daily' }, { idempotencyKey: key });
    const reordered = await runner.start('report', { kind: 'daily', month: '2024-02' }, { idempotencyKey: key });
    expect(reordered.id).toBe(id);
    for (const [type, input] of [
      ['report', { month: '2024-03', kind: 'daily' }],
      ['report', { month: '2024-02' }],
      ['export', { month: '2024-02', kind: 'daily' }],
    ] as const) {
      const reused = runner.start(type, input, { idempotencyKey: key });
      await expect(reused).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
      await expect(reused).rejects.toMatchObject({ code: 'idempotency_key_reused', status: 422 });
      // The key is not echoed back (nor into logs).
      expect(((await reused.catch((error: unknown) => error)) as Error).message).not.toContain(key);
    }
  });

  it('compares the input as given, before the schema fills its defaults; a refused input stores no key', async () => {
    runner = new TaskRunner();
    runner.define('report', () => 'done', {
      input: z.object({ month: z.string().regex(/^\d{4}-\d{2}$/), kind: z.string().default('daily') }),
    });
    await expect(runner.start('report', { month: 'June' }, { idempotencyKey: 'k' })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    const { id } = await runner.start('report', { month: '2024-02' }, { idempotencyKey: 'k' });
    expect((await runner.start('report', { month: '2024-02' }, { idempotencyKey: 'k' })).id).toBe(id);
    await expect(
      runner.start('report', { month: '2024-02', kind: 'daily' }, { idempotencyKey: 'k' }),
    ).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
  });

  it('keeps the keys of different owners apart, and the tasks without an owner in one key space', async () => {
    start();
    const input = { month: '2024-02' };
    const alice = await runner.start('report', input, { idempotencyKey: 'k', owner: 'alice' });
    const bob = await runner.start('report', input, { idempotencyKey: 'k', owner: 'bob' });
    const nobody = await runner.start('report', input, { idempotencyKey: 'k' });
    expect(new Set([alice.id, bob.id, nobody.id]).size).toBe(3);
    expect((await runner.start('report', input, { idempotencyKey: 'k' })).id).toBe(nobody.id);
    expect((await runner.start('report', input, { idempotencyKey: 'k', owner: 'alice' })).id).toBe(alice.id);
  });

  it.each([[''], ['x'.repeat(256)], ['with space'], ['tab\t'], ['é'], [42]])(
    'refuses the key %p as invalid_idempotency_key',
    async (key) => {
      start();
      const refused = runner.start('report', {}, { idempotencyKey: key as string });
      await expect(refused).rejects.toBeInstanceOf(TaskError);
      await expect(refused).rejects.toMatchObject({ code: 'invalid_idempotency_key', status: 400 });
    },
  );

  it('takes keys of 1 and of 255 characters', async () => {
    start();
    for (const key of ['!', '~'.repeat(255)])
      expect((await runner.submit('report', {}, { idempotencyKey: key })).replayed).toBe(false);
  });

  it('forgets a key with its task, ttlMs after the task finished', async () => {
    start({ ttlMs: 100 });
    const { id } = await runner.start('report', {}, { idempotencyKey: 'k' });
    await finished(runner, id);
    const started = Date.now();
    while ((await runner.get(id)) !== undefined && Date.now() - started < 3000)
      await new Promise((r) => setTimeout(r, 10));
    const again = await runner.submit('report', {}, { idempotencyKey: 'k' });
    expect(again.replayed).toBe(false);
    expect(again.snapshot.id).not.toBe(id);
  });
});

describe('idempotency keys over runners sharing a store', () => {
  const prefix = uniquePrefix('idempotency');
  afterAll(() => deleteKeys(prefix));

  it.each([
    [
      'MemoryStore',
      (): (() => TaskStore) => {
        const store = new MemoryStore();
        return () => store;
      },
    ],
    ['RedisStore', (): (() => TaskStore) => () => new RedisStore({ url: REDIS_URL, keyPrefix: prefix })],
  ])('creates one task for ten concurrent starts with one key over three runners (%s)', async (_, shared) => {
    const storeOf = shared();
    // One worker runs the job; the two others only start tasks, as web instances would.
    const runners = [
      new TaskRunner({ store: storeOf() }).define('report', () => new Promise((resolve) => setTimeout(resolve, 50))),
      new TaskRunner({ store: storeOf(), worker: false }).define('report'),
      new TaskRunner({ store: storeOf(), worker: false }).define('report'),
    ];
    try {
      const submissions = await Promise.all(
        Array.from({ length: 10 }, (_, i) => runners[i % 3]!.submit('report', { n: 1 }, { idempotencyKey: 'once' })),
      );
      expect(submissions.filter((submission) => !submission.replayed)).toHaveLength(1);
      expect(new Set(submissions.map((submission) => submission.snapshot.id)).size).toBe(1);
      const { id } = submissions[0]!.snapshot;
      expect((await finished(runners[1]!, id)).status).toBe('completed');
    } finally {
      for (const runner of runners) await runner.close();
    }
  });
});
