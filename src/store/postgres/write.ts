/**
 * The steps every write of the PostgreSQL store is made of, inside one transaction: a task's row created, an event
 * appended with the snapshot it brings (the output changed in the same step), the history trimmed, and the notices
 * that tell the listening processes what to read again.
 */
import { isFinished, isTerminalEvent } from '../../vocabulary';
import type { TaskSnapshot } from '../../types';
import type { CommitLimits, NewTaskEvent } from '../types';
import type { PgDatabase, Queryable } from './database';
import { ownerHash } from './notify';

/** What a write knows of the task's row, read under its row lock. */
export interface LockedTask {
  status: string;
  last_event: string;
  type: string;
  grp: string;
  turn: string | null;
  running: boolean;
}

/** A task's owner group: the tasks of one owner, or (`-`) those without one. */
export function groupOf(owner: string | undefined): string {
  return owner === undefined ? '-' : `o:${owner}`;
}

/** Serializes the writes that create owned tasks or count the queue, so positions become visible in their order. */
export async function lockQueue(db: PgDatabase, client: Queryable): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock(hashtextextended('koa-sse-tasks queue ' || $1, 0))", [db.schema]);
}

/** The next event id. */
export async function nextEventId(db: PgDatabase, client: Queryable): Promise<string> {
  const { rows } = await client.query<{ id: string }>(`SELECT nextval('${db.table('event_ids')}')::text AS id`);
  return rows[0]!.id;
}

/** Creates the row of a task whose first write is a commit (not an enqueue), holding its first event id (`id`). */
export async function insertTask(db: PgDatabase, client: Queryable, snapshot: TaskSnapshot, id: string): Promise<void> {
  await client.query(
    `INSERT INTO ${db.table('tasks')} (id, type, owner, grp, status, snapshot, last_event, position)
     VALUES ($1, $2, $3, $4, $5, '', $6, CASE WHEN $3::text IS NULL THEN NULL ELSE $6::bigint END)`,
    [snapshot.id, snapshot.type, snapshot.owner ?? null, groupOf(snapshot.owner), snapshot.status, id],
  );
}

/**
 * Appends an event to the task's history (after `previous`; its id `id`, or the sequence's next), saves the snapshot
 * with it, changes the output and sends its notice, in one statement; then trims the history to its limits. A finished
 * snapshot starts the TTL and releases the lease, the group's running slot, or the task's place in the queue (a cancel
 * while queued). `task` is the row as locked before, `undefined` for a row the caller just created. Returns the id.
 */
export async function appendEvent(
  db: PgDatabase,
  client: Queryable,
  task: LockedTask | undefined,
  snapshot: TaskSnapshot,
  event: NewTaskEvent,
  limits: CommitLimits,
  previous: string,
  id?: string,
): Promise<string> {
  const taskId = snapshot.id;
  const finished = isFinished(snapshot.status);
  const { rows } = await client.query<{ id: string; hist_count: number; hist_bytes: string }>(
    `WITH ev AS (
       INSERT INTO ${db.table('events')} (task_id, id, previous, event, data)
       VALUES ($1, coalesce($4::bigint, nextval('${db.table('event_ids')}')), $10, $11, $7) RETURNING id),
     up AS (
       UPDATE ${db.table('tasks')} SET snapshot = $2, status = $3, last_event = (SELECT id FROM ev),
         output = CASE WHEN $5 THEN '' ELSE output END || $6,
         hist_count = hist_count + 1, hist_bytes = hist_bytes + octet_length($7),
         turn = CASE WHEN $8 THEN NULL ELSE turn END, running = running AND NOT $8,
         lease_holder = CASE WHEN $8 THEN NULL ELSE lease_holder END,
         lease_until = CASE WHEN $8 THEN NULL ELSE lease_until END,
         input = CASE WHEN $8 THEN NULL ELSE input END,
         expires_at = CASE WHEN $8 THEN now() + $9 * interval '1 millisecond' ELSE NULL END
       WHERE id = $1 RETURNING hist_count, hist_bytes)
     SELECT ev.id::text AS id, up.hist_count, up.hist_bytes::text AS hist_bytes,
       pg_notify($12, 'e ' || ev.id || ' ' || $13 || ' ' || $1),
       CASE WHEN $14::text IS NOT NULL THEN pg_notify($12, 'o ' || $14) END
     FROM ev, up`,
    [
      taskId,
      JSON.stringify(snapshot),
      snapshot.status,
      id ?? null,
      event.clearOutput === true,
      event.appendOutput ?? '',
      event.data,
      finished,
      limits.ttlMs,
      previous,
      event.event,
      db.channel,
      isTerminalEvent(event.event) ? '1' : '0',
      task === undefined && snapshot.owner !== undefined ? ownerHash(snapshot.owner) : null,
    ],
  );
  const kept = rows[0]!;
  const [count, bytes] = [kept.hist_count, Number(kept.hist_bytes)];
  if (count === limits.historyLimit + 1 && bytes <= limits.maxHistoryBytes) {
    await dropOldest(db, client, taskId); // a task at its limit: one event in, the oldest out (a primary key lookup)
  } else if (count > limits.historyLimit || bytes > limits.maxHistoryBytes) {
    await trim(db, client, taskId, limits);
  }
  if (finished && task !== undefined) await release(db, client, task);
  return kept.id;
}

/** Drops the task's oldest event. */
async function dropOldest(db: PgDatabase, client: Queryable, taskId: string): Promise<void> {
  await client.query(
    `WITH gone AS (
       DELETE FROM ${db.table('events')} WHERE task_id = $1
         AND id = (SELECT id FROM ${db.table('events')} WHERE task_id = $1 ORDER BY id LIMIT 1)
       RETURNING octet_length(data) AS bytes)
     UPDATE ${db.table('tasks')} SET hist_count = hist_count - 1, hist_bytes = hist_bytes - (SELECT bytes FROM gone)
     WHERE id = $1 AND EXISTS (SELECT 1 FROM gone)`,
    [taskId],
  );
}

/** Drops the oldest events until the history is within both limits; the latest is always kept. */
async function trim(db: PgDatabase, client: Queryable, taskId: string, limits: CommitLimits): Promise<void> {
  await client.query(
    `WITH ranked AS (
       SELECT id, row_number() OVER w AS n, sum(octet_length(data)) OVER w AS b
       FROM ${db.table('events')} WHERE task_id = $1 WINDOW w AS (ORDER BY id DESC)),
     cut AS (SELECT max(id) AS id FROM ranked WHERE n > 1 AND (n > $2 OR b > $3)),
     gone AS (DELETE FROM ${db.table('events')} e USING cut WHERE e.task_id = $1 AND e.id <= cut.id
              RETURNING octet_length(e.data) AS bytes)
     UPDATE ${db.table('tasks')} SET hist_count = hist_count - (SELECT count(*) FROM gone),
       hist_bytes = hist_bytes - (SELECT coalesce(sum(bytes), 0) FROM gone)
     WHERE id = $1`,
    [taskId, limits.historyLimit, limits.maxHistoryBytes],
  );
}

/** A task finished: it leaves the queue's counts (cancelled while queued) or gives its group's running slot back. */
async function release(db: PgDatabase, client: Queryable, task: LockedTask): Promise<void> {
  if (task.turn !== null) {
    await client.query(`UPDATE ${db.table('queue_groups')} SET queued = queued - 1 WHERE grp = $1`, [task.grp]);
    await client.query(`UPDATE ${db.table('queue_types')} SET queued = queued - 1 WHERE type = $1`, [task.type]);
  } else if (task.running) {
    await client.query(`UPDATE ${db.table('queue_groups')} SET running = greatest(running - 1, 0) WHERE grp = $1`, [
      task.grp,
    ]);
  }
}
