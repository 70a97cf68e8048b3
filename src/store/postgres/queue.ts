import type { TaskEvent, TaskSnapshot } from '../../types';
import type {
  ClaimedTask,
  ClaimLimits,
  CommitLimits,
  EnqueueOnceOutcome,
  EnqueueOptions,
  IdempotencyKey,
  JobQueue,
  Lease,
  TaskRecord,
} from '../types';
import type { PgDatabase } from './database';
import { enqueue, type Enqueued } from './enqueue';
import type { PgListener } from './listener';
import { ALIVE } from './log';

/** Told of each enqueue made in the app's transaction, to learn when (and whether) it commits. */
export type TransactionWatcher = (taskId: string, transactionId: string, event: TaskEvent) => void;

/**
 * The PostgreSQL store's `JobQueue`: the fair queue in the `tasks` rows (`turn`, `seq`) and two tables of counters,
 * claims with `FOR UPDATE SKIP LOCKED` (two runners never wait for, nor get, the same row), leases as columns, on the
 * server's clock. `onQueued` listens to the one listening connection.
 */
export class PostgresJobQueue implements JobQueue {
  readonly #db: PgDatabase;
  readonly #listener: PgListener;
  readonly #transactions: TransactionWatcher;
  readonly #queuedListeners = new Set<() => void>();

  constructor(db: PgDatabase, listener: PgListener, transactions: TransactionWatcher) {
    this.#db = db;
    this.#listener = listener;
    this.#transactions = transactions;
  }

  async enqueue(
    snapshot: TaskSnapshot,
    input: unknown,
    _limits: CommitLimits,
    options: EnqueueOptions = {},
  ): Promise<TaskEvent> {
    const { outcome } = this.#watched(snapshot, await enqueue(this.#db, snapshot, input, options));
    if (!outcome.created) throw new Error('koa-sse-tasks: an enqueue without an idempotency key found a task');
    return outcome.event;
  }

  async enqueueOnce(
    snapshot: TaskSnapshot,
    input: unknown,
    _limits: CommitLimits,
    once: IdempotencyKey,
    options: EnqueueOptions = {},
  ): Promise<EnqueueOnceOutcome> {
    return this.#watched(snapshot, await enqueue(this.#db, snapshot, input, options, once)).outcome;
  }

  async claim(types: readonly string[], lease: Lease, limits: ClaimLimits = {}): Promise<ClaimedTask | undefined> {
    if (types.length === 0) return undefined;
    const db = this.#db;
    const limit = limits.concurrencyPerOwner ?? null;
    return db.transaction(async (client) => {
      // Groups found at concurrencyPerOwner by this claim, after a concurrent claim took their last slot.
      const full: string[] = [];
      for (;;) {
        const { rows } = await client.query<{ id: string; grp: string; type: string; at_turn: string }>(
          `SELECT id, grp, type, turn::text AS at_turn FROM ${db.table('tasks')}
           WHERE turn IS NOT NULL AND type = ANY($1) AND NOT (grp = ANY($2))
             AND ($3::bigint IS NULL OR grp NOT IN (SELECT grp FROM ${db.table('queue_groups')} WHERE running >= $3))
           ORDER BY turn, seq LIMIT 1 FOR UPDATE SKIP LOCKED`,
          [types, full, limit],
        );
        const task = rows[0];
        if (task === undefined) return undefined;
        const { rowCount } = await client.query(
          `UPDATE ${db.table('queue_groups')} SET queued = queued - 1, running = running + 1
           WHERE grp = $1 AND ($2::bigint IS NULL OR running < $2)`,
          [task.grp, limit],
        );
        if (rowCount === 0) {
          full.push(task.grp);
          continue;
        }
        await client.query(
          `UPDATE ${db.table('queue_types')} SET queued = queued - 1, claimed_turn = greatest(claimed_turn, $2)
           WHERE type = $1`,
          [task.type, task.at_turn],
        );
        const { rows: claimed } = await client.query<{
          snapshot: string;
          last: string;
          input: string | null;
          traceparent: string | null;
        }>(
          `UPDATE ${db.table('tasks')} SET turn = NULL, running = true, lease_holder = $2,
             lease_until = now() + $3 * interval '1 millisecond'
           WHERE id = $1 RETURNING snapshot, last_event::text AS last, input, traceparent`,
          [task.id, lease.holder, lease.leaseMs],
        );
        const row = claimed[0]!;
        const result: ClaimedTask = {
          snapshot: JSON.parse(row.snapshot) as TaskSnapshot,
          lastEventId: row.last,
          input: row.input === null ? undefined : (JSON.parse(row.input) as unknown),
        };
        if (row.traceparent !== null) result.traceparent = row.traceparent;
        return result;
      }
    });
  }

  async renew(taskIds: readonly string[], { holder, leaseMs }: Lease): Promise<string[]> {
    if (taskIds.length === 0) return [];
    const { rows } = await this.#db.query<{ id: string }>(
      `UPDATE ${this.#db.table('tasks')} SET lease_holder = $2, lease_until = now() + $3 * interval '1 millisecond'
       WHERE id = ANY($1) AND status NOT IN ('completed', 'failed', 'cancelled') AND ${ALIVE}
         AND (lease_holder IS NULL OR lease_holder = $2)
       RETURNING id`,
      [taskIds, holder, leaseMs],
    );
    const kept = new Set(rows.map((row) => row.id));
    return taskIds.filter((id) => !kept.has(id));
  }

  async reapExpired({ holder, leaseMs }: Lease, max: number): Promise<TaskRecord[]> {
    const tasks = this.#db.table('tasks');
    // A finished task has no lease left (its last commit released it): every expired lease is a live task's.
    const { rows } = await this.#db.query<{ snapshot: string; last: string }>(
      `WITH due AS (SELECT id FROM ${tasks} WHERE lease_until <= now() ORDER BY lease_until LIMIT $3
                    FOR UPDATE SKIP LOCKED)
       UPDATE ${tasks} t SET lease_holder = $1, lease_until = now() + $2 * interval '1 millisecond'
       FROM due WHERE t.id = due.id RETURNING t.snapshot, t.last_event::text AS last`,
      [holder, leaseMs, max],
    );
    return rows.map((row) => ({ snapshot: JSON.parse(row.snapshot) as TaskSnapshot, lastEventId: row.last }));
  }

  async queuedCount(types: readonly string[]): Promise<number> {
    if (types.length === 0) return 0;
    const { rows } = await this.#db.query<{ count: string }>(
      `SELECT coalesce(sum(queued), 0)::text AS count FROM ${this.#db.table('queue_types')} WHERE type = ANY($1)`,
      [types],
    );
    return Number(rows[0]!.count);
  }

  async onQueued(listener: () => void): Promise<() => void> {
    await this.#listener.ready();
    this.#queuedListeners.add(listener);
    return () => void this.#queuedListeners.delete(listener);
  }

  /** A task may have been queued (a notice, or the listener back after an outage): wake every listener. */
  queued(): void {
    for (const listener of [...this.#queuedListeners]) listener();
  }

  close(): void {
    this.#queuedListeners.clear();
  }

  #watched(snapshot: TaskSnapshot, enqueued: Enqueued): Enqueued {
    const { outcome, transactionId } = enqueued;
    if (transactionId !== undefined && outcome.created) this.#transactions(snapshot.id, transactionId, outcome.event);
    return enqueued;
  }
}
