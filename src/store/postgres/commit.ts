import { CommitConflictError, TaskFinishedError } from '../../errors';
import { isFinished } from '../../vocabulary';
import type { TaskEvent, TaskSnapshot, TaskStatus } from '../../types';
import type { CommitCondition, CommitLimits, NewTaskEvent } from '../types';
import type { PgDatabase, Queryable } from './database';
import { appendEvent, insertTask, lockQueue, nextEventId, type LockedTask } from './write';

interface Row extends LockedTask {
  expired: boolean;
}

/** The columns a write reads of a task under its row lock. */
export const LOCKED_COLUMNS = `status, last_event::text, type, grp, turn::text, running,
  coalesce(expires_at <= now(), false) AS expired`;

/**
 * Reads the task's row under its lock (`FOR UPDATE`), so writes to one task take turns and its event ids become
 * visible in order. A row past its TTL is forgotten here: deleted, as if it had never been.
 */
export async function lockTask(db: PgDatabase, client: Queryable, taskId: string): Promise<LockedTask | undefined> {
  const { rows } = await client.query<Row>(
    `SELECT ${LOCKED_COLUMNS} FROM ${db.table('tasks')} WHERE id = $1 FOR UPDATE`,
    [taskId],
  );
  const row = rows[0];
  if (row?.expired !== true) return row;
  await client.query(`DELETE FROM ${db.table('tasks')} WHERE id = $1`, [taskId]);
  return undefined;
}

/**
 * `TaskLog.commit` in one transaction: the task's row locked, the event appended with its snapshot. A retry of a
 * commit that did reach the server (its reply lost with the connection) finds its event and stores nothing: the
 * writer's `previousId` names the event it followed, and an event of the same name and data already follows it.
 */
export async function commit(
  db: PgDatabase,
  snapshot: TaskSnapshot,
  event: NewTaskEvent,
  limits: CommitLimits,
  condition?: CommitCondition,
): Promise<TaskEvent> {
  const stored = await db.transaction(async (client) => {
    const task = await lockTask(db, client, snapshot.id);
    const repeat = await findRepeat(db, client, task, snapshot.id, event);
    if (repeat !== undefined) return repeat;
    if (task !== undefined && isFinished(task.status as TaskStatus))
      throw new TaskFinishedError(snapshot.id, task.status);
    if (condition !== undefined && condition.ifLastEventId !== (task?.last_event ?? '')) {
      throw new CommitConflictError(snapshot.id);
    }
    if (task === undefined && snapshot.owner !== undefined) await lockQueue(db, client);
    const id = await nextEventId(db, client);
    if (task === undefined) await insertTask(db, client, snapshot, id);
    await appendEvent(db, client, task, snapshot, event, limits, id, task?.last_event ?? event.previousId ?? '');
    return id;
  });
  return { id: stored, event: event.event, data: event.data };
}

/** The id of the event this very commit stored already, when it is a retry of one that reached the server. */
async function findRepeat(
  db: PgDatabase,
  client: Queryable,
  task: LockedTask | undefined,
  taskId: string,
  event: NewTaskEvent,
): Promise<string | undefined> {
  const previous = event.previousId;
  if (task === undefined || previous === undefined || previous === task.last_event) return undefined;
  const { rows } = await client.query<{ id: string }>(
    `SELECT id::text FROM ${db.table('events')} WHERE task_id = $1 AND previous = $2 AND event = $3 AND data = $4`,
    [taskId, previous, event.event, event.data],
  );
  return rows[0]?.id;
}
