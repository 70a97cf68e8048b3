import { MemoryStore, QueueFullError, TaskRunner } from '../../src';
import type { StoreOperation } from '../../src';

describe("the runner's store proxy", () => {
  it('is the store given to every reader: its class, its extras, its comparison', async () => {
    const store = new MemoryStore();
    const runner = new TaskRunner({ store });
    try {
      expect(runner.store).toBeInstanceOf(MemoryStore);
      expect(runner.store.constructor).toBe(MemoryStore);
      expect(runner.store.shared).toBe(false);
      // An extra of the store's own, a getter reading its private state.
      expect(Reflect.get(runner.store, 'size')).toBe(0);
      runner.define('report', () => 'done');
      await runner.start('report');
      expect(Reflect.get(runner.store, 'size')).toBe(store.size);
      expect(store.size).toBe(1);
      expect(runner.store.compareEventIds('2', '10')).toBe(store.compareEventIds('2', '10'));
    } finally {
      await runner.close();
    }
  });

  it("tells observers of each call, failed or not, and stops when they leave; a store's refusal is told as failed", async () => {
    const runner = new TaskRunner({ worker: false, maxQueued: 1 });
    runner.define('report');
    const calls: Array<[StoreOperation, boolean, unknown]> = [];
    const stop = runner.observe({ storeOperation: (op, _seconds, failed, error) => calls.push([op, failed, error]) });
    try {
      await runner.start('report');
      await expect(runner.start('report')).rejects.toBeInstanceOf(QueueFullError);
      expect(calls.map(([op, failed]) => [op, failed])).toEqual([
        ['enqueue', false],
        ['enqueue', true],
      ]);
      expect(calls[1]![2]).toBeInstanceOf(QueueFullError);
      stop();
      await runner.get('x');
      expect(calls).toHaveLength(2);
    } finally {
      await runner.close();
    }
  });
});
