/**
 * The store seam, in one place: what a store implements (`TaskStore`, made of the interfaces below) and the types
 * its members take and return. The memory store, the Redis store, and any store to come implement these; nothing
 * above the store sees more of it than this.
 */
import type { JobQueue } from './job-queue';
import type { OwnerIndex } from './owner-index';
import type { TaskLog } from './task-log';

export type {
  ClaimedTask,
  ClaimLimits,
  EnqueueOnceOutcome,
  EnqueueOptions,
  IdempotencyKey,
  JobQueue,
  Lease,
  QueueBound,
} from './job-queue';
export type { OwnedTask, OwnerIndex } from './owner-index';
export type { TransactionalQueue } from './transactions';
export type {
  CommitCondition,
  CommitLimits,
  NewTaskEvent,
  TaskEventListener,
  TaskLog,
  TaskRecord,
  TaskRecordWithOutput,
} from './task-log';

/**
 * Whether the store's tasks outlive this process, and how the store is released.
 *
 * The contract: `shared` never changes; `close()` is called once, by `runner.close()`, after the runner's last
 * write, and releases every timer and connection the store holds, so the process can exit by itself.
 */
export interface StoreLifecycle {
  /**
   * True when other processes see the same tasks (Redis): a closing runner then leaves queued tasks to the other
   * runners. False for a store in this process, whose queued tasks fail when the runner closes.
   */
  readonly shared: boolean;

  /** Releases timers and connections. The runner calls it from `runner.close()`. */
  close(): Promise<void>;
}

/**
 * Where tasks live: their history (`TaskLog`), the job queue and its leases (`JobQueue`), the index of each owner's
 * tasks (`OwnerIndex`), and the store's own lifetime (`StoreLifecycle`). Every method that may touch a server is
 * async, so a store may be remote; nothing above it may assume the store is in this process. `new TaskRunner()`
 * checks that a store has every member; `__tests__/store/conformance.ts` checks, for each store, that it keeps the
 * contract written in each interface's TSDoc.
 */
export type TaskStore = TaskLog & JobQueue & OwnerIndex & StoreLifecycle;
