import { randomUUID } from 'node:crypto';
import {
  IdempotencyKeyReusedError,
  QueueFullError,
  RUNNER_DEFAULTS,
  type CommitLimits,
  type IdempotencyKey,
  type Lease,
  type QueueBound,
  type TaskSnapshot,
  type TaskStore,
} from '../../src';

const limits: CommitLimits = { historyLimit: 5, maxHistoryBytes: RUNNER_DEFAULTS.maxHistoryBytes, ttlMs: 60_000 };
const lease = (holder: string): Lease => ({ holder, leaseMs: 60_000 });

/**
 * The JobQueue's guarantees for safe submission, part of the conformance suite (conformance.ts runs them in its
 * JobQueue block, for every store): owners take turns, the per-owner limits, and idempotency keys.
 */
export function describeSubmission(storeOf: () => TaskStore): void {
  // Task types and owners unique to each test, so stores shared between tests never mix two tests' tasks.
  let type: string;
  let other: string;
  beforeEach(() => {
    type = `t${randomUUID().slice(0, 8)}`;
    other = `${type}-other`;
  });
  function queued(owner?: string, taskType = type): TaskSnapshot {
    const now = new Date().toISOString();
    const task: TaskSnapshot = {
      id: randomUUID(),
      type: taskType,
      status: 'queued',
      progress: 0,
      outputLength: 0,
      createdAt: now,
      updatedAt: now,
    };
    if (owner !== undefined) task.owner = owner;
    return task;
  }
  const ownerNamed = (name: string): string => `${name}-${randomUUID()}`;
  async function claimAll(types: string[], holder = 'w', max = 1000): Promise<string[]> {
    const ids: string[] = [];
    for (let claimed = await storeOf().claim(types, lease(holder)); claimed !== undefined && ids.length < max;) {
      ids.push(claimed.snapshot.id);
      claimed = await storeOf().claim(types, lease(holder));
    }
    return ids;
  }
  const finish = (task: TaskSnapshot, status: 'completed' | 'cancelled' = 'completed') =>
    storeOf().commit(
      { ...task, status },
      { event: status === 'completed' ? 'complete' : 'cancelled', data: '{}' },
      limits,
    );

  describe('turns', () => {
    it("starts another owner's task among the next, however many one owner queued before it", async () => {
      const store = storeOf();
      const heavy = ownerNamed('heavy');
      const many = Array.from({ length: 50 }, () => queued(heavy));
      for (const task of many) await store.enqueue(task, null, limits);
      const late = queued(ownerNamed('light'));
      await store.enqueue(late, null, limits);
      expect(await claimAll([type])).toEqual([many[0]!.id, late.id, ...many.slice(1).map((t) => t.id)]);
    });

    it("keeps each owner's order over every type, one owner's turn after another's", async () => {
      const store = storeOf();
      const [a, b] = [ownerNamed('a'), ownerNamed('b')];
      const [a1, a2, a3] = [queued(a), queued(a, other), queued(a)];
      const [b1, b2] = [queued(b, other), queued(b)];
      for (const task of [a1, a2, a3, b1, b2]) await store.enqueue(task, null, limits);
      expect(await claimAll([type, other])).toEqual([a1.id, b1.id, a2.id, b2.id, a3.id]);
    });

    it('takes the tasks without an owner as one group, which takes its turn', async () => {
      const store = storeOf();
      const [n1, n2, n3] = [queued(), queued(), queued()];
      for (const task of [n1, n2, n3]) await store.enqueue(task, null, limits);
      const x1 = queued(ownerNamed('x'));
      await store.enqueue(x1, null, limits);
      expect(await claimAll([type])).toEqual([n1.id, x1.id, n2.id, n3.id]);
    });

    it('gives an owner who comes back after its turn the next turn, not the same one again', async () => {
      const store = storeOf();
      const [steady, eager] = [ownerNamed('steady'), ownerNamed('eager')];
      const backlog = [queued(steady), queued(steady), queued(steady)];
      for (const task of backlog) await store.enqueue(task, null, limits);
      const order: string[] = [];
      const eagers: string[] = [];
      // The eager owner queues one task at a time, each as soon as its last one was claimed.
      for (let round = 0; round < 3; round++) {
        const mine = queued(eager);
        eagers.push(mine.id);
        await store.enqueue(mine, null, limits);
        for (let claims = 0; claims < 2; claims++) order.push((await store.claim([type], lease('w')))!.snapshot.id);
      }
      const [s1, s2, s3] = backlog.map((t) => t.id);
      expect(order).toEqual([s1, eagers[0], s2, eagers[1], s3, eagers[2]]);
    });
  });

  describe('concurrencyPerOwner', () => {
    it('passes over an owner running that many tasks, over every holder, until one of them finishes', async () => {
      const store = storeOf();
      const [a, b] = [ownerNamed('a'), ownerNamed('b')];
      const [a1, a2, a3, b1] = [queued(a), queued(a), queued(a), queued(b)];
      for (const task of [a1, a2, a3, b1]) await store.enqueue(task, null, limits);
      const one = { concurrencyPerOwner: 1 };
      expect((await store.claim([type], lease('w1'), one))?.snapshot.id).toBe(a1.id);
      expect((await store.claim([type], lease('w2'), one))?.snapshot.id).toBe(b1.id);
      expect(await store.claim([type], lease('w3'), one)).toBeUndefined();
      expect(await store.queuedCount([type])).toBe(2);
      await finish(a1);
      expect((await store.claim([type], lease('w3'), one))?.snapshot.id).toBe(a2.id);
      expect(await store.claim([type], lease('w1'), one)).toBeUndefined();
      await finish(a2, 'cancelled');
      expect((await store.claim([type], lease('w1'), one))?.snapshot.id).toBe(a3.id);
    });

    it('counts one owner over every type, and never lets concurrent claims pass it', async () => {
      const store = storeOf();
      const [a, b] = [ownerNamed('a'), ownerNamed('b')];
      const tasks = [
        ...Array.from({ length: 6 }, (_, i) => queued(a, i % 2 === 0 ? type : other)),
        ...Array.from({ length: 3 }, () => queued(b)),
      ];
      for (const task of tasks) await store.enqueue(task, null, limits);
      const claims = await Promise.all(
        Array.from({ length: 12 }, (_, i) => store.claim([type, other], lease(`w${i}`), { concurrencyPerOwner: 2 })),
      );
      const owners = claims.flatMap((claimed) => (claimed === undefined ? [] : [claimed.snapshot.owner]));
      expect(owners.filter((owner) => owner === a)).toHaveLength(2);
      expect(owners.filter((owner) => owner === b)).toHaveLength(2);
    });
  });

  describe('maxQueuedPerOwner', () => {
    it("refuses an owner's task past it, over every type, even to concurrent enqueues, and writes nothing", async () => {
      const store = storeOf();
      const [a, b] = [ownerNamed('a'), ownerNamed('b')];
      const bound: QueueBound = { types: [type, other], maxQueued: 100, maxQueuedPerOwner: 3 };
      const mine = Array.from({ length: 10 }, (_, i) => queued(a, i % 2 === 0 ? type : other));
      const outcomes = await Promise.allSettled(mine.map((task) => store.enqueue(task, null, limits, { bound })));
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') {
          expect(outcome.reason).toBeInstanceOf(QueueFullError);
          expect((outcome.reason as QueueFullError).limit).toBe('maxQueuedPerOwner');
          expect((outcome.reason as QueueFullError).code).toBe('too_many_tasks');
        }
      }
      const written = await Promise.all(mine.map((task) => store.read(task.id)));
      expect(written.filter((record) => record !== undefined)).toHaveLength(3);
      // Another owner has room of its own; a claim or a cancel makes room for the owner again.
      await store.enqueue(queued(b), null, limits, { bound });
      const [claimed] = await claimAll([type, other], 'w', 1);
      await store.enqueue(queued(a), null, limits, { bound });
      await expect(store.enqueue(queued(a), null, limits, { bound })).rejects.toMatchObject({
        limit: 'maxQueuedPerOwner',
      });
      const waiting = mine.find((task) => written.some((r) => r?.snapshot.id === task.id) && task.id !== claimed);
      await finish(waiting!, 'cancelled');
      await store.enqueue(queued(a), null, limits, { bound });
    });

    it('bounds the tasks without an owner as one owner, and the whole queue by maxQueued', async () => {
      const store = storeOf();
      const bound: QueueBound = { types: [type], maxQueued: 4, maxQueuedPerOwner: 2 };
      await store.enqueue(queued(), null, limits, { bound });
      await store.enqueue(queued(), null, limits, { bound });
      await expect(store.enqueue(queued(), null, limits, { bound })).rejects.toMatchObject({
        limit: 'maxQueuedPerOwner',
      });
      await store.enqueue(queued(ownerNamed('a')), null, limits, { bound });
      await store.enqueue(queued(ownerNamed('b')), null, limits, { bound });
      const full = store.enqueue(queued(ownerNamed('c')), null, limits, { bound });
      await expect(full).rejects.toMatchObject({ limit: 'maxQueued', code: 'queue_full' });
    });

    it('no longer counts a task cancelled while queued, which no claim then gets', async () => {
      const store = storeOf();
      const [first, second] = [queued(), queued()];
      await store.enqueue(first, null, limits);
      await store.enqueue(second, null, limits);
      await finish(first, 'cancelled');
      expect(await store.queuedCount([type])).toBe(1);
      expect(await claimAll([type])).toEqual([second.id]);
    });
  });

  describe('enqueueOnce', () => {
    const keyed = (fingerprint = 'f1'): IdempotencyKey => ({ key: randomUUID().replace(/-/g, ''), fingerprint });

    it("starts one task per key, and answers a repeat with that task's record, even once it has finished", async () => {
      const store = storeOf();
      const once = keyed();
      const task = queued();
      const first = await store.enqueueOnce(task, { month: '2026-10' }, limits, once);
      expect(first).toEqual({ created: true, event: expect.objectContaining({ event: 'status' }) });
      const repeat = queued();
      expect(await store.enqueueOnce(repeat, { month: '2026-10' }, limits, once)).toEqual({
        created: false,
        record: await store.read(task.id),
      });
      expect(await store.read(repeat.id)).toBeUndefined();
      expect(await store.queuedCount([type])).toBe(1);
      const claimed = await store.claim([type], lease('w'));
      expect(claimed?.input).toEqual({ month: '2026-10' });
      await finish(task);
      const late = await store.enqueueOnce(queued(), null, limits, once);
      expect(late.created === false && late.record.snapshot).toMatchObject({ id: task.id, status: 'completed' });
      expect(await store.claim([type], lease('w'))).toBeUndefined();
    });

    it('refuses a key with another fingerprint and writes nothing; another key is another task', async () => {
      const store = storeOf();
      const once = keyed('f1');
      await store.enqueueOnce(queued(), null, limits, once);
      const reused = queued();
      await expect(store.enqueueOnce(reused, null, limits, { ...once, fingerprint: 'f2' })).rejects.toBeInstanceOf(
        IdempotencyKeyReusedError,
      );
      expect(await store.read(reused.id)).toBeUndefined();
      expect((await store.enqueueOnce(queued(), null, limits, keyed('f1'))).created).toBe(true);
      expect(await store.queuedCount([type])).toBe(2);
    });

    it('creates exactly one task for concurrent calls with one key', async () => {
      const store = storeOf();
      const once = keyed();
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, () => store.enqueueOnce(queued(), null, limits, once)),
      );
      const created = outcomes.filter((outcome) => outcome.created);
      expect(created).toHaveLength(1);
      const ids = new Set(
        outcomes.map((o) => (o.created ? (JSON.parse(o.event.data) as TaskSnapshot).id : o.record.snapshot.id)),
      );
      expect(ids.size).toBe(1);
      expect(await store.queuedCount([type])).toBe(1);
    });

    it('answers a repeat without counting it against the bounds', async () => {
      const store = storeOf();
      const once = keyed();
      const bound: QueueBound = { types: [type], maxQueued: 1, maxQueuedPerOwner: 1 };
      const task = queued();
      await store.enqueueOnce(task, null, limits, once, { bound });
      const repeat = await store.enqueueOnce(queued(), null, limits, once, { bound });
      expect(repeat.created === false && repeat.record.snapshot.id).toBe(task.id);
      await expect(store.enqueueOnce(queued(), null, limits, keyed(), { bound })).rejects.toBeInstanceOf(
        QueueFullError,
      );
    });

    it('forgets a key with its task, once the TTL has passed', async () => {
      const store = storeOf();
      const once = keyed();
      const task = queued();
      await store.enqueueOnce(task, null, limits, once);
      await store.claim([type], lease('w'));
      await store.commit(
        { ...task, status: 'completed' },
        { event: 'complete', data: '{}' },
        { ...limits, ttlMs: 100 },
      );
      const started = Date.now();
      while ((await store.read(task.id)) !== undefined && Date.now() - started < 3000) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const again = queued();
      expect(await store.enqueueOnce(again, null, limits, once)).toMatchObject({ created: true });
      expect((await store.read(again.id))?.snapshot.id).toBe(again.id);
    });
  });
}
