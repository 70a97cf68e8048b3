import type { TaskEvent, TaskSnapshot } from '../types';
import type { CommitLimits, TaskRecord } from './task-log';

/** How full the queue may get: `enqueue()` refuses a task while `maxQueued` tasks of `types` already wait. */
export interface QueueBound {
  types: readonly string[];
  maxQueued: number;
}

/** Who holds a claimed job, and for how long a claim lasts without being renewed. */
export interface Lease {
  /** The name of the runner holding the lease, unique to it (one process may hold several runners). */
  holder: string;
  /** How long a claim or renewal holds, in ms; past it, another runner may take the task over. */
  leaseMs: number;
}

/** A queued task a runner has claimed: its record and the input it was started with. */
export interface ClaimedTask extends TaskRecord {
  input: unknown;
}

/**
 * The tasks waiting for a runner, and the leases of those being run. `enqueue` puts a task in the queue, a runner
 * that runs jobs `claim`s tasks under a lease it `renew`s, and `reapExpired` hands over the tasks whose runner
 * stopped renewing (it died), so they end instead of staying `running` forever.
 *
 * The contract, which `__tests__/store/conformance.ts` checks for every store:
 * - queueing is part of the task's first commit: one atomic step writes the `queued` event and queues the task;
 * - a task is claimed once: two runners, in any processes, never get the same task;
 * - a claim takes the oldest queued task of the types asked for, and skips tasks that finished while queued;
 * - a lease is renewed only by its holder, and released when the task finishes (`TaskLog.commit`);
 * - an expired lease is handed to exactly one reaper, which then holds it;
 * - `maxQueued` is counted in the same step that queues: concurrent enqueues never pass the bound together.
 */
export interface JobQueue {
  /**
   * Commits `snapshot` (status `queued`) with its `status` event, and queues the task with its `input` for a
   * runner that runs its type, as one step. The input must be JSON-serializable for a shared store. With `bound`,
   * rejects with `QueueFullError` and writes nothing while `bound.maxQueued` tasks of `bound.types` wait (counted
   * as `queuedCount` does), in the same step: concurrent enqueues, from any process, never pass the bound together.
   */
  enqueue(snapshot: TaskSnapshot, input: unknown, limits: CommitLimits, bound?: QueueBound): Promise<TaskEvent>;

  /**
   * Takes the oldest queued, unfinished task of one of `types` and leases it to `lease.holder`; `undefined` when
   * there is none. A task is claimed once: two runners never get the same task.
   */
  claim(types: readonly string[], lease: Lease): Promise<ClaimedTask | undefined>;

  /** Extends the leases `lease.holder` holds on `taskIds`; resolves with the ids whose lease it has lost. */
  renew(taskIds: readonly string[], lease: Lease): Promise<string[]>;

  /**
   * Hands the unfinished tasks whose lease expired (their runner died) over to `lease.holder`, at most `max`, so
   * it fails them; drops the leases of tasks that finished. Resolves with the records handed over.
   */
  reapExpired(lease: Lease, max: number): Promise<TaskRecord[]>;

  /** How many tasks of `types` wait in the queue now (a cheap count; cancelled tasks may still count until claimed). */
  queuedCount(types: readonly string[]): Promise<number>;

  /** Calls `listener` (with no promise of exactly once) when a task may have been queued, by any process. */
  onQueued(listener: () => void): Promise<() => void>;
}
