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
  /** Text appended to the task's output in the same atomic step (what an `output` event carries). */
  appendOutput?: string;
  /** The task's output starts again, empty, in the same atomic step (the `status` that starts a retry). */
  clearOutput?: boolean;
}

/** A task's record with its whole output as of the record's latest event. */
export interface TaskRecordWithOutput extends TaskRecord {
  output: string;
}

/** Limits the runner passes with every commit (one frozen object per runner). */
export interface CommitLimits {
  /** How many events the task keeps for replay. */
  readonly historyLimit: number;
  /** How many bytes of event `data` the task keeps for replay: the oldest events go first, the latest is always kept. */
  readonly maxHistoryBytes: number;
  /** When the snapshot is finished: how long the task is kept before it is forgotten. */
  readonly ttlMs: number;
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

/**
 * The history of every task: its latest snapshot and the events that led there, which the middleware replays and
 * follows, and the runner writes.
 *
 * The contract, which `__tests__/store/conformance.ts` checks for every store:
 * - a commit saves the snapshot and appends its event as one atomic step; nobody ever reads one without the other;
 * - event ids strictly increase per task, in the order of `compareEventIds`, and mean something to every process
 *   that shares the store (a browser resumes with them on another instance);
 * - a replay after an id has no gap and no duplicate, or is refused (`undefined`): never a partial answer;
 * - history is bounded by `historyLimit` and `maxHistoryBytes`, the latest event always kept;
 * - a finished task is immutable (`TaskFinishedError`) and forgotten `ttlMs` after it finished, its output with it;
 *   an unfinished one is never forgotten;
 * - a commit that appends to (or clears) the task's output does so in the same atomic step as its event;
 * - every method may be remote: nothing above the store assumes it is in this process.
 */
export interface TaskLog {
  /**
   * Saves `snapshot` and appends `event` to its task's history as one atomic step, then delivers the event to
   * the task's subscribers. Ids strictly increase per task. A finished snapshot starts the task's TTL and releases
   * its lease (`JobQueue`). Rejects with `TaskFinishedError` if the task has already finished (nothing is written),
   * and with `CommitConflictError` if `condition` is given and no longer holds.
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
   * The task's record and its output (every `appendOutput` since the last `clearOutput`), read in one atomic step,
   * so the output is exactly what the record's events wrote: a late joiner continues from it without a gap or a
   * repeat. `undefined` if the task never existed or has expired.
   */
  readWithOutput(taskId: string): Promise<TaskRecordWithOutput | undefined>;

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
   * Calls `listener` once with the finished snapshot when a terminal event after `afterId` is committed to the task,
   * by whoever commits it. How a runner learns that its job was cancelled, or taken over, elsewhere. Kept apart from
   * `subscribe`, so a runner's own watch never counts as a follower of the task.
   */
  onFinished(taskId: string, afterId: string, listener: (snapshot: TaskSnapshot) => void): () => void;
}
