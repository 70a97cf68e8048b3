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
}

/** Limits the runner passes with every commit. */
export interface CommitLimits {
  /** How many events the task keeps for replay. */
  historyLimit: number;
  /** When the snapshot is finished: how long the task is kept before it is forgotten. */
  ttlMs: number;
}

/** Called with each event committed to a task, in commit order. */
export type TaskEventListener = (event: TaskEvent) => void;

/**
 * Where tasks live. Every method is async so a store may be remote (Redis); nothing above it may assume the
 * store is in this process. The same conformance suite (`__tests__/store/conformance.ts`) runs against each store.
 */
export interface TaskStore {
  /**
   * Saves `snapshot` and appends `event` to its task's history as one atomic step, then delivers the event to
   * the task's subscribers. Ids strictly increase per task. A finished snapshot starts the task's TTL.
   */
  commit(snapshot: TaskSnapshot, event: NewTaskEvent, limits: CommitLimits): Promise<TaskEvent>;

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

  /** Releases timers and connections. The runner calls it from `runner.close()`. */
  close(): Promise<void>;
}
