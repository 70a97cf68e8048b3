import { ComposedStore } from '../composed';
import { MemoryTaskLog } from './log';
import { MemoryOwnerIndex } from './owners';
import { MemoryJobQueue } from './queue';

/**
 * The default store: everything in this process, nothing to install. Event ids are `1`, `2`, `3`... per task.
 * Finished tasks are forgotten after their TTL by an unref'd timer.
 *
 * Its parts: the log (`log.ts`), the queue and its leases (`queue.ts`), the owner index (`owners.ts`). A commit
 * tells the other two what they must know in the same synchronous step: a new task joins its owner's index, a
 * finished one leaves the queue or releases its lease, a forgotten one leaves the index and takes its idempotency
 * key with it.
 */
export class MemoryStore extends ComposedStore {
  readonly shared = false;
  readonly #log: MemoryTaskLog;
  readonly #queue: MemoryJobQueue;
  readonly #owners: MemoryOwnerIndex;

  constructor() {
    const owners = new MemoryOwnerIndex();
    const log = new MemoryTaskLog({
      created: (snapshot) => owners.add(snapshot),
      finished: (taskId) => queue.release(taskId),
      forgotten: (snapshot) => {
        owners.remove(snapshot);
        queue.forget(snapshot.id);
      },
    });
    const queue = new MemoryJobQueue(log);
    super({ log, queue, owners });
    this.#log = log;
    this.#queue = queue;
    this.#owners = owners;
  }

  /** How many listeners are subscribed, over all tasks: a leak shows here. */
  get subscriptionCount(): number {
    return this.#log.subscriptionCount;
  }

  /** How many tasks are held, finished ones until their TTL passes. */
  get size(): number {
    return this.#log.size;
  }

  async close(): Promise<void> {
    this.#log.close();
    this.#queue.close();
    this.#owners.close();
  }
}
