import { CommitConflictError, TaskFinishedError, TaskNotFoundError } from '../errors';
import { EVENT_FOR_STATUS, isFinished } from '../vocabulary';
import type { FinishedStatus, TaskSnapshot } from '../types';
import type { RunnerContext } from './context';

/**
 * Finishes a task that does not run here (a cancel of a task queued or running elsewhere, a takeover from a dead
 * runner) with a conditional commit, so it never overwrites a change made meanwhile: on a conflict it reads the task
 * again and retries. A task that runs here is finished by its `LocalTask` instead, which owns its chain of writes.
 */
export async function finishTask(
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
      context.committed(id, stored, next);
      return next;
    } catch (cause) {
      if (!(cause instanceof CommitConflictError || cause instanceof TaskFinishedError) || attempt >= 20) throw cause;
    }
  }
}
