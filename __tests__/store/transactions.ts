import { randomUUID } from 'node:crypto';
import { RUNNER_DEFAULTS, type CommitLimits, type TaskSnapshot, type TaskStore } from '../../src';

const limits: CommitLimits = { historyLimit: 5, maxHistoryBytes: RUNNER_DEFAULTS.maxHistoryBytes, ttlMs: 60_000 };

/**
 * For a store that keeps its tasks outside the app's database (memory, Redis): `enqueue` and `enqueueOnce` refuse
 * `options.transaction` with a TypeError and write nothing. Not a conformance case: the PostgreSQL store honours it.
 */
export function describeTransactionRefusal(name: string, makeStore: () => TaskStore): void {
  it(`${name} refuses to join the app's transaction, and queues nothing`, async () => {
    const store = makeStore();
    try {
      const now = new Date().toISOString();
      const type = `t${randomUUID().slice(0, 8)}`;
      const task: TaskSnapshot = {
        id: randomUUID(),
        type,
        status: 'queued',
        progress: 0,
        outputLength: 0,
        createdAt: now,
        updatedAt: now,
      };
      const transaction = { query: () => Promise.resolve() };
      const refusal = { name: 'TypeError', message: expect.stringContaining('this store cannot join a transaction') };
      await expect(store.enqueue(task, null, limits, { transaction })).rejects.toMatchObject(refusal);
      const once = { key: randomUUID().replace(/-/g, ''), fingerprint: 'f' };
      await expect(store.enqueueOnce(task, null, limits, once, { transaction })).rejects.toMatchObject(refusal);
      expect(await store.read(task.id)).toBeUndefined();
      expect(await store.claim([type], { holder: 'w', leaseMs: 60_000 })).toBeUndefined();
    } finally {
      await store.close();
    }
  });
}
