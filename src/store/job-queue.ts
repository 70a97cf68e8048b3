import type { TaskEvent, TaskSnapshot } from '../types';
import type { CommitLimits, TaskRecord } from './task-log';

/**
 * How full the queue may get: `enqueue()` refuses a task while `maxQueued` tasks of `types` already wait, or while
 * `maxQueuedPerOwner` tasks of its owner's group (of every type) do.
 */
export interface QueueBound {
  types: readonly string[];
  maxQueued: number;
  /** The most tasks of one owner's group that may wait, over every type; none when absent. */
  maxQueuedPerOwner?: number;
}

/** Options of `enqueue` and `enqueueOnce`. */
export interface EnqueueOptions {
  bound?: QueueBound;
  /** The app's open transaction (a `pg` client inside BEGIN): the task exists once it commits. Only a store that can honour it accepts one. */
  transaction?: unknown;
  /** The W3C traceparent of the span that started the task, stored with it and given back on claim. */
  traceparent?: string;
}

/** What a claim must respect besides the types asked for. */
export interface ClaimLimits {
  /**
   * The most claimed, unfinished tasks of one owner's group at once, counted over every runner sharing the store;
   * none when absent. Every runner sharing a store must give the same one.
   */
  concurrencyPerOwner?: number;
}

/** Who holds a claimed job, and for how long a claim lasts without being renewed. */
export interface Lease {
  /** The name of the runner holding the lease, unique to it (one process may hold several runners). */
  holder: string;
  /** How long a claim or renewal holds, in ms; past it, another runner may take the task over. */
  leaseMs: number;
}

/** A queued task a runner has claimed: its record, the input it was started with and the trace it was started in. */
export interface ClaimedTask extends TaskRecord {
  input: unknown;
  /** The `traceparent` given to `enqueue`, if one was. */
  traceparent?: string;
}

/**
 * An idempotency key, as the runner gives it to `enqueueOnce`: opaque strings of at most 64 characters from
 * `[A-Za-z0-9_-]`, which a store compares and never interprets.
 */
export interface IdempotencyKey {
  /** The key, already scoped to the task's owner by the runner (a digest of the owner and the caller's key). */
  key: string;
  /** A digest of what the request asked for (its type and input): a repeat must carry the same one. */
  fingerprint: string;
}

/** What `enqueueOnce` did: queued a new task, or found the task its key already started. */
export type EnqueueOnceOutcome = { created: true; event: TaskEvent } | { created: false; record: TaskRecord };

/**
 * The tasks waiting for a runner, and the leases of those being run. `enqueue` puts a task in the queue, a runner
 * that runs jobs `claim`s tasks under a lease it `renew`s, and `reapExpired` hands over the tasks whose runner
 * stopped renewing (it died), so they end instead of staying `running` forever.
 *
 * Every queued task belongs to its owner's **group**: the tasks of one `snapshot.owner` form a group, and the tasks
 * without an owner form one group of their own. Each queued task has a **turn**: after the turn of every task of its
 * group still queued (of any type), and after the last turn claimed of its type. A claim takes, among the types asked
 * for, the task with the earliest turn (the one queued first on a tie), passing over the groups that already run
 * `concurrencyPerOwner` tasks. So groups take turns, one task each per turn, whatever each has queued, and within a
 * group the order is first in, first out: an owner who queued 500 tasks delays the first task of another by one turn.
 *
 * The contract, which `__tests__/store/conformance.ts` checks for every store:
 * - queueing is part of the task's first commit: one atomic step writes the `queued` event and queues the task;
 * - a task is claimed once: two runners, in any processes, never get the same task;
 * - a claim takes the task of the earliest turn among the types asked for, as above, and skips tasks that finished
 *   while queued;
 * - `concurrencyPerOwner` is counted in the same step that claims, over every runner: concurrent claims never pass
 *   it together; a group's task that finishes (or is cancelled) makes room at once;
 * - a lease is renewed only by its holder, and released when the task finishes (`TaskLog.commit`);
 * - an expired lease is handed to exactly one reaper, which then holds it;
 * - `maxQueued` and `maxQueuedPerOwner` are counted in the same step that queues: concurrent enqueues never pass a
 *   bound together; a task leaves the counts when it is claimed or finishes while queued (a cancel);
 * - an idempotency key starts one task: concurrent `enqueueOnce` calls with one key create exactly one, and the key
 *   lasts exactly as long as its task is kept (forgotten with it, `ttlMs` after it finished).
 */
export interface JobQueue {
  /**
   * Commits `snapshot` (status `queued`, a task never committed before) with its `status` event, and queues the task
   * with its `input` for a runner that runs its type, as one step. The input must be JSON-serializable for a shared
   * store. With `options.traceparent`, keeps it with the task and gives it back with the claim. With
   * `options.transaction`, a store that can join the app's transaction (`TransactionalQueue`) writes the task in it,
   * so it exists once that commits; one that cannot rejects with a `TypeError` and writes nothing. With `options.bound`, rejects with `QueueFullError` and writes nothing while `bound.maxQueued` tasks of
   * `bound.types` wait (`limit: 'maxQueued'`), or `bound.maxQueuedPerOwner` tasks of the task's group
   * (`limit: 'maxQueuedPerOwner'`), counted in the same step: concurrent enqueues, from any process, never pass a
   * bound together.
   */
  enqueue(snapshot: TaskSnapshot, input: unknown, limits: CommitLimits, options?: EnqueueOptions): Promise<TaskEvent>;

  /**
   * `enqueue`, once per idempotency key: in the same atomic step, looks `once.key` up. A key whose task is still kept
   * resolves `{ created: false, record }` with that task's record and writes nothing, bounds unchecked, when
   * `once.fingerprint` is the one it was stored with, and rejects with `IdempotencyKeyReusedError` otherwise. Any
   * other key (new, or its task forgotten) is stored with the new task, and resolves `{ created: true, event }` as
   * `enqueue` would. Concurrent calls with one key, from any process, create exactly one task. The key is forgotten
   * with its task.
   */
  enqueueOnce(
    snapshot: TaskSnapshot,
    input: unknown,
    limits: CommitLimits,
    once: IdempotencyKey,
    options?: EnqueueOptions,
  ): Promise<EnqueueOnceOutcome>;

  /**
   * Takes the queued, unfinished task of the earliest turn among `types` (see above) and leases it to
   * `lease.holder`; `undefined` when there is none, or none whose group is below `limits.concurrencyPerOwner`. A task
   * is claimed once: two runners never get the same task, and never pass `concurrencyPerOwner` together.
   */
  claim(types: readonly string[], lease: Lease, limits?: ClaimLimits): Promise<ClaimedTask | undefined>;

  /** Extends the leases `lease.holder` holds on `taskIds`; resolves with the ids whose lease it has lost. */
  renew(taskIds: readonly string[], lease: Lease): Promise<string[]>;

  /**
   * Hands the unfinished tasks whose lease expired (their runner died) over to `lease.holder`, at most `max`, so
   * it fails them; drops the leases of tasks that finished. Resolves with the records handed over.
   */
  reapExpired(lease: Lease, max: number): Promise<TaskRecord[]>;

  /** How many tasks of `types` wait in the queue now (a cheap count, as the bounds count). */
  queuedCount(types: readonly string[]): Promise<number>;

  /** Calls `listener` (with no promise of exactly once) when a task may have been queued, by any process. */
  onQueued(listener: () => void): Promise<() => void>;
}
