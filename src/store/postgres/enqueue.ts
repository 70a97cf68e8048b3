import { IdempotencyKeyReusedError, QueueFullError } from '../../errors';
import type { TaskSnapshot } from '../../types';
import type { EnqueueOnceOutcome, EnqueueOptions, IdempotencyKey } from '../types';
import type { PgDatabase, Queryable } from './database';
import { ownerHash } from './notify';
import { groupOf, lockQueue } from './write';

/** What an enqueue did, and (in the app's transaction) the id of that transaction, to learn whether it commits. */
export interface Enqueued {
  outcome: EnqueueOnceOutcome;
  transactionId?: string;
}

/**
 * The task's first commit, its place in the fair queue (its turn, as job-queue.ts defines it), the bounds and its
 * idempotency key, as one transaction: the store's own, or the app's (`options.transaction`), so the task exists
 * once that one commits. The queue's advisory lock, then the group's and the types' counter rows (locked in that
 * order, as claims and finishes lock them), make concurrent enqueues count in turn: none passes a bound together.
 * (The runner's commit limits play no part: a task's first event is always kept, and a queued task has no TTL.)
 */
export async function enqueue(
  db: PgDatabase,
  snapshot: TaskSnapshot,
  input: unknown,
  options: EnqueueOptions,
  once?: IdempotencyKey,
): Promise<Enqueued> {
  let json: string | undefined;
  try {
    json = JSON.stringify(input);
  } catch (error) {
    throw new TypeError(
      `koa-sse-tasks: the input of a task must be JSON-serializable to queue it in PostgreSQL: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const transaction = transactionOf(options.transaction);
  return db.transaction(async (client) => {
    await lockQueue(db, client);
    if (once !== undefined) {
      const existing = await findKey(db, client, once);
      if (existing !== undefined) return { outcome: existing };
    }
    const { bound } = options;
    const group = groupOf(snapshot.owner);
    const { rows: groups } = await client.query<{ queued: string; next_turn: string }>(
      `INSERT INTO ${db.table('queue_groups')} (grp) VALUES ($1)
       ON CONFLICT (grp) DO UPDATE SET grp = EXCLUDED.grp RETURNING queued::text, next_turn::text`,
      [group],
    );
    const types = [...new Set([snapshot.type, ...(bound?.types ?? [])])].sort();
    const { rows: counted } = await client.query<{ type: string; queued: string; claimed_turn: string }>(
      `INSERT INTO ${db.table('queue_types')} (type) SELECT unnest($1::text[])
       ON CONFLICT (type) DO UPDATE SET type = EXCLUDED.type RETURNING type, queued::text, claimed_turn::text`,
      [types],
    );
    const mine = groups[0]!;
    if (bound !== undefined) {
      const waiting = counted.filter((row) => bound.types.includes(row.type));
      if (waiting.reduce((sum, row) => sum + Number(row.queued), 0) >= bound.maxQueued) {
        throw new QueueFullError(bound.maxQueued);
      }
      const perOwner = bound.maxQueuedPerOwner;
      if (perOwner !== undefined && Number(mine.queued) >= perOwner) {
        throw new QueueFullError(perOwner, 'maxQueuedPerOwner');
      }
    }
    const claimed = Number(counted.find((row) => row.type === snapshot.type)!.claimed_turn);
    const turn = Math.max(Number(mine.queued) > 0 ? Number(mine.next_turn) : 0, claimed + 1);
    const data = JSON.stringify(snapshot);
    // One statement: the row (its first event id from the sequence, its turn), the event, the counters (whose rows
    // are locked above), the notices.
    const { rows } = await client.query<{ id: string; xid: string }>(
      `WITH ev AS (SELECT nextval('${db.table('event_ids')}') AS id),
       task AS (
         INSERT INTO ${db.table('tasks')} (id, type, owner, grp, status, snapshot, last_event, position, input, turn,
           seq, hist_count, hist_bytes, traceparent, idempotency_key, fingerprint)
         SELECT $1, $2, $3, $4, 'queued', $5, ev.id, CASE WHEN $3::text IS NULL THEN NULL ELSE ev.id END, $6, $7,
           ev.id, 1, octet_length($5), $8, $9, $10 FROM ev),
       event AS (
         INSERT INTO ${db.table('events')} (task_id, id, previous, event, data)
         SELECT $1, ev.id, '', 'status', $5 FROM ev),
       grp AS (UPDATE ${db.table('queue_groups')} SET queued = queued + 1, next_turn = $7 + 1 WHERE grp = $4),
       typ AS (UPDATE ${db.table('queue_types')} SET queued = queued + 1 WHERE type = $2)
       SELECT ev.id::text AS id, pg_current_xact_id()::text AS xid,
         pg_notify($11, 'e ' || ev.id || ' 0 ' || $1),
         CASE WHEN $12::text IS NOT NULL THEN pg_notify($11, 'o ' || $12) END,
         pg_notify($11, 'q')
       FROM ev`,
      [
        snapshot.id,
        snapshot.type,
        snapshot.owner ?? null,
        group,
        data,
        json ?? null,
        turn,
        options.traceparent ?? null,
        once?.key ?? null,
        once?.fingerprint ?? null,
        db.channel,
        snapshot.owner === undefined ? null : ownerHash(snapshot.owner),
      ],
    );
    const { id, xid } = rows[0]!;
    const enqueued: Enqueued = { outcome: { created: true, event: { id, event: 'status', data } } };
    if (transaction !== undefined) enqueued.transactionId = xid;
    return enqueued;
  }, transaction);
}

/** The task an idempotency key already started, while it is kept; a key whose task was forgotten is freed. */
async function findKey(
  db: PgDatabase,
  client: Queryable,
  once: IdempotencyKey,
): Promise<EnqueueOnceOutcome | undefined> {
  const { rows } = await client.query<{
    id: string;
    snapshot: string;
    last: string;
    fingerprint: string;
    gone: boolean;
  }>(
    `SELECT id, snapshot, last_event::text AS last, fingerprint, coalesce(expires_at <= now(), false) AS gone
     FROM ${db.table('tasks')} WHERE idempotency_key = $1 FOR UPDATE`,
    [once.key],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  if (row.gone) {
    await client.query(`DELETE FROM ${db.table('tasks')} WHERE id = $1`, [row.id]);
    return undefined;
  }
  if (row.fingerprint !== once.fingerprint) throw new IdempotencyKeyReusedError();
  return { created: false, record: { snapshot: JSON.parse(row.snapshot) as TaskSnapshot, lastEventId: row.last } };
}

/** The app's transaction: a `pg` client (or anything with its `query()`) inside BEGIN. */
function transactionOf(transaction: unknown): Queryable | undefined {
  if (transaction === undefined) return undefined;
  if (
    typeof transaction !== 'object' ||
    transaction === null ||
    typeof Reflect.get(transaction, 'query') !== 'function'
  ) {
    throw new TypeError(
      'koa-sse-tasks: expected `transaction` to be a pg client inside BEGIN (from pool.connect()), got ' +
        (transaction === null ? 'null' : typeof transaction),
    );
  }
  return transaction as Queryable;
}
