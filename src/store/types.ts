import type { TaskEvent, TaskEventName, TaskSnapshot } from '../types';

/** A task as a store holds it: its snapshot and the id of the latest event that snapshot reflects. */
export interface TaskRecord {
  snapshot: TaskSnapshot;
  lastEventId: string;
}

/** An event before the store has given it an id. */
export interface NewTaskEvent {
  event: TaskEventName;
  data: string;
  /**
   * The id of the event this writer committed to the task before this one, when it knows it. A store that lost the
   * task's history (Redis restarted without persistence) records it as this event's predecessor, so the task's
   * followers see their stream go on instead of a gap.
   */
  previousId?: string;
}

/** Limits the runner passes with every commit. */
export interface CommitLimits {
  /** How many events the task keeps for replay. */
  historyLimit: number;
  /**
   * How many bytes of event `data` the task keeps for replay: the oldest events are dropped first, the latest is
   * always kept. Optional for stores written before it existed.
   */
  maxHistoryBytes?: number;
  /** When the snapshot is finished: how long the task is kept before it is forgotten. */
  ttlMs: number;
}

/** How full the queue may get: `enqueue()` refuses a task while `maxQueued` tasks of `types` already wait. */
export interface QueueBound {
  types: readonly string[];
  maxQueued: number;
}

/** A precondition of `commit()`: the write happens only if the task's latest event id is still this one. */
export interface CommitCondition {
  ifLastEventId: string;
}

/**
 * Called with each event committed to a task, in commit order, and the id of the task's event before it (`''` for
 * its first), so a subscriber can tell when events it never got lie in between (a store whose history was trimmed
 * before it read them).
 */
export type TaskEventListener = (event: TaskEvent, previousId: string) => void;

/** A task in its owner's index: its id, and its position there (positions order like event ids: `compareEventIds`). */
export interface OwnedTask {
  taskId: string;
  position: string;
}

/** Who holds a claimed job, and for how long a claim lasts without being renewed. */
export interface Lease {
  /** A name unique to one runner (one process may hold several). */
  worker: string;
  /** How long a claim or renewal holds, in ms; past it, another runner may take the task over. */
  leaseMs: number;
}

/** A queued task a runner has claimed: its record and the input it was started with. */
export interface ClaimedTask extends TaskRecord {
  input: unknown;
}

/**
 * Where tasks live. Every method is async so a store may be remote (Redis); nothing above it may assume the
 * store is in this process. The same conformance suite (`__tests__/store/conformance.ts`) runs against each store.
 *
 * Besides snapshots and events a store holds the job queue: `enqueue` puts a task in it, a runner that runs jobs
 * `claim`s tasks with a lease it `renew`s, and `reapExpired` hands over tasks whose runner stopped renewing.
 */
export interface TaskStore {
  /**
   * True when other processes see the same tasks (Redis): a closing runner then leaves queued tasks to the other
   * runners. False for a store in this process, whose queued tasks fail when the runner closes.
   */
  readonly shared: boolean;

  /**
   * Saves `snapshot` and appends `event` to its task's history as one atomic step, then delivers the event to
   * the task's subscribers. Ids strictly increase per task. A finished snapshot starts the task's TTL and releases
   * its lease. Rejects with `TaskFinishedError` if the task has already finished (nothing is written), and with
   * `CommitConflictError` if `condition` is given and no longer holds.
   */
  commit(
    snapshot: TaskSnapshot,
    event: NewTaskEvent,
    limits: CommitLimits,
    condition?: CommitCondition,
  ): Promise<TaskEvent>;

  /** The task's record, or `undefined` if it never existed or has expired. */
  read(taskId: string): Promise<TaskRecord | undefined>;

  /**
   * The events after `afterId`, oldest first, with no gap: `[]` when `afterId` is the latest. `undefined` when
   * that cannot be promised: the id is malformed, unknown, or older than the history kept.
   */
  eventsAfter(taskId: string, afterId: string): Promise<TaskEvent[] | undefined>;

  /**
   * Delivers every event committed to the task from the moment the returned promise resolves, in order, until
   * the returned function is called.
   */
  subscribe(taskId: string, listener: TaskEventListener): Promise<() => void>;

  /** Orders two ids of the same task's events: negative, zero or positive, like a sort comparator. */
  compareEventIds(a: string, b: string): number;

  /**
   * Commits `snapshot` (status `queued`) with its `status` event, and queues the task with its `input` for a
   * runner that runs its type, as one step. The input must be JSON-serializable for a shared store. With `bound`,
   * rejects with `QueueFullError` and writes nothing while `bound.maxQueued` tasks of `bound.types` wait (counted
   * as `queuedCount` does), in the same step: concurrent enqueues, from any process, never pass the bound together.
   */
  enqueue(snapshot: TaskSnapshot, input: unknown, limits: CommitLimits, bound?: QueueBound): Promise<TaskEvent>;

  /**
   * Takes the oldest queued, unfinished task of one of `types` and leases it to `lease.worker`; `undefined` when
   * there is none. A task is claimed once: two runners never get the same task.
   */
  claim(types: readonly string[], lease: Lease): Promise<ClaimedTask | undefined>;

  /** Extends the leases `lease.worker` holds on `taskIds`; resolves with the ids whose lease it has lost. */
  renew(taskIds: readonly string[], lease: Lease): Promise<string[]>;

  /**
   * Hands the unfinished tasks whose lease expired (their runner died) over to `lease.worker`, at most `max`, so
   * it fails them; drops the leases of tasks that finished. Resolves with the records handed over.
   */
  reapExpired(lease: Lease, max: number): Promise<TaskRecord[]>;

  /** How many tasks of `types` wait in the queue now (a cheap count; cancelled tasks may still count until claimed). */
  queuedCount(types: readonly string[]): Promise<number>;

  /** Calls `listener` (with no promise of exactly once) when a task may have been queued. */
  onQueued(listener: () => void): Promise<() => void>;

  /**
   * Calls `listener` once with the finished snapshot when a terminal event after `afterId` is committed to the task,
   * by whoever commits it. How a runner learns that its job was cancelled, or taken over, elsewhere.
   */
  onFinished(taskId: string, afterId: string, listener: (snapshot: TaskSnapshot) => void): () => void;

  /**
   * The tasks whose first commit named an owner (`snapshot.owner`) equal to `owner`, in the order they were created;
   * forgotten (expired) tasks are left out. What the owner feed (`GET /tasks/events`) starts from.
   */
  tasksOf(owner: string): Promise<OwnedTask[]>;

  /**
   * Calls `listener` with each task first committed for `owner` from the moment the returned promise resolves, in
   * order, until the returned function is called: how the owner feed learns of tasks started later, by any process.
   */
  onOwnerTask(owner: string, listener: (task: OwnedTask) => void): Promise<() => void>;

  /** Releases timers and connections. The runner calls it from `runner.close()`. */
  close(): Promise<void>;
}
