import { CommitConflictError, TaskFinishedError, TaskNotFoundError } from '../errors';
import { EVENT_FOR_STATUS, isFinished } from '../vocabulary';
import type { CommitLimits, TaskStore } from '../store/types';
import type { FinishedStatus, TaskEvent, TaskSnapshot } from '../types';

/** What `stalled` reports: the task's type, its attempt, and how long it has gone without progress. */
export interface StalledInfo {
  type: string;
  attempt: number;
  idleMs: number;
}

/**
 * What a runner lends the parts that run and maintain its tasks: its store, the limits every commit carries, and its
 * events. The parts get these few callbacks rather than the runner, so they never import it.
 */
export interface RunnerContext {
  readonly store: TaskStore;
  readonly limits: CommitLimits;
  /** An event reached the store: the runner emits `event`. */
  committed(taskId: string, event: TaskEvent): void;
  /** The runner emits `stalled`. */
  stalled(taskId: string, info: StalledInfo): void;
  /** A store operation failed: the runner emits `error`, or logs it when nobody listens. */
  report(error: unknown): void;
}

/**
 * Finishes a task this runner does not run (a cancel, a takeover from a dead worker) with a conditional commit, so
 * it never overwrites a change made meanwhile: on a conflict it reads the task again and retries.
 */
export async function finishElsewhere(
  context: RunnerContext,
  id: string,
  status: FinishedStatus,
  error?: { message: string },
): Promise<TaskSnapshot> {
  const { store } = context;
  for (let attempt = 1; ; attempt++) {
    const record = await store.read(id);
    if (record === undefined) throw new TaskNotFoundError(id);
    if (isFinished(record.snapshot.status)) throw new TaskFinishedError(id, record.snapshot.status);
    const next: TaskSnapshot = { ...record.snapshot, status, updatedAt: new Date().toISOString() };
    if (error !== undefined) next.error = error;
    try {
      const event = { event: EVENT_FOR_STATUS[status], data: JSON.stringify(next) };
      const stored = await store.commit(next, event, context.limits, { ifLastEventId: record.lastEventId });
      context.committed(id, stored);
      return next;
    } catch (cause) {
      if (!(cause instanceof CommitConflictError || cause instanceof TaskFinishedError) || attempt >= 20) throw cause;
    }
  }
}
