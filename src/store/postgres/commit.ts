import { CommitConflictError, TaskFinishedError } from '../../errors';
import { isFinished } from '../../vocabulary';
import type { TaskEvent, TaskSnapshot, TaskStatus } from '../../types';
import type { CommitCondition, CommitLimits, NewTaskEvent } from '../types';
import type { PgDatabase, Queryable } from './database';
import { appendEvent, insertTask, lockQueue, nextEventId, type LockedTask } from './write';

interface Row extends LockedTask {
  expired: boolean;
  repeat: string | null;
}

/**
 * Reads the task's row under its lock (`FOR UPDATE`), so writes to one task take turns and its event ids become
 * visible in order. A row past its TTL is forgotten here: deleted, as if it had never been. With `retry`, also the id
 * of the event that write already stored, when it is a retry of one that reached the server (`repeat`).
 */
export async function lockTask(
  db: PgDatabase,
  client: Queryable,
  taskId: string,
  retry?: NewTaskEvent,
): Promise<(LockedTask & { repeat: string | null }) | undefined> {
  const { rows } = await client.query<Row>(
    `SELECT status, last_event::text, type, grp, turn::text, running,
       coalesce(expires_at <= now(), false) AS expired,
       CASE WHEN $2::text IS NOT NULL AND $2::text <> last_event::text THEN (
         SELECT e.id::text FROM ${db.table('events')} e
         WHERE e.task_id = $1 AND e.previous = $2 AND e.event = $3 AND e.data = $4 LIMIT 1) END AS repeat
     FROM ${db.table('tasks')} WHERE id = $1 FOR UPDATE`,
    [taskId, retry?.previousId ?? null, retry?.event ?? null, retry?.data ?? null],
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
    const task = await lockTask(db, client, snapshot.id, event);
    if (task?.repeat != null) return task.repeat;
    if (task !== undefined && isFinished(task.status as TaskStatus))
      throw new TaskFinishedError(snapshot.id, task.status);
    if (condition !== undefined && condition.ifLastEventId !== (task?.last_event ?? '')) {
      throw new CommitConflictError(snapshot.id);
    }
    if (task !== undefined) return appendEvent(db, client, task, snapshot, event, limits, task.last_event);
    if (snapshot.owner !== undefined) await lockQueue(db, client);
    const id = await nextEventId(db, client);
    await insertTask(db, client, snapshot, id);
    return appendEvent(db, client, undefined, snapshot, event, limits, event.previousId ?? '', id);
  });
  return { id: stored, event: event.event, data: event.data };
}
