import type { TaskEvent, TaskSnapshot } from '../../types';
import type { TaskEventListener, TaskLog, TaskRecord, TaskRecordWithOutput } from '../types';
import { commit } from './commit';
import type { PgDatabase } from './database';
import type { TaskFollowers } from './followers';
import { EVENT_ID, compareEventIds } from './ids';

/** A row is alive until its TTL has passed; past it, it is forgotten, though not deleted yet. */
export const ALIVE = '(expires_at IS NULL OR expires_at > now())';

/**
 * The PostgreSQL store's `TaskLog`: a row per task (its snapshot, latest event id and output) and a row per event of
 * its history, whose ids are one sequence's values. Live events come through the one listening connection
 * (`TaskFollowers`), and are read from the table.
 */
export class PostgresTaskLog implements TaskLog {
  readonly #db: PgDatabase;
  readonly #followers: TaskFollowers;
  /** The commits of each task in flight here, chained: they reach the server in the order they were called. */
  readonly #chains = new Map<string, Promise<unknown>>();

  constructor(db: PgDatabase, followers: TaskFollowers) {
    this.#db = db;
    this.#followers = followers;
  }

  commit(...args: Parameters<TaskLog['commit']>): Promise<TaskEvent> {
    const taskId = args[0].id;
    const previous = this.#chains.get(taskId) ?? Promise.resolve();
    const next = previous.then(() => commit(this.#db, ...args));
    const chain = next.catch(() => {});
    this.#chains.set(taskId, chain);
    void chain.then(() => {
      if (this.#chains.get(taskId) === chain) this.#chains.delete(taskId);
    });
    return next;
  }

  async read(taskId: string): Promise<TaskRecord | undefined> {
    const { rows } = await this.#db.query<{ snapshot: string; last: string }>(
      `SELECT snapshot, last_event::text AS last FROM ${this.#db.table('tasks')} WHERE id = $1 AND ${ALIVE}`,
      [taskId],
    );
    const row = rows[0];
    return row === undefined
      ? undefined
      : { snapshot: JSON.parse(row.snapshot) as TaskSnapshot, lastEventId: row.last };
  }

  async readWithOutput(taskId: string): Promise<TaskRecordWithOutput | undefined> {
    // One row: the record and the output of one moment, never a commit between them.
    const { rows } = await this.#db.query<{ snapshot: string; last: string; output: string }>(
      `SELECT snapshot, last_event::text AS last, output FROM ${this.#db.table('tasks')} WHERE id = $1 AND ${ALIVE}`,
      [taskId],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return { snapshot: JSON.parse(row.snapshot) as TaskSnapshot, lastEventId: row.last, output: row.output };
  }

  async eventsAfter(taskId: string, afterId: string): Promise<TaskEvent[] | undefined> {
    if (!EVENT_ID.test(afterId)) return undefined;
    const { rows } = await this.#db.query<{
      last: string;
      id: string | null;
      event: string;
      data: string;
      previous: string;
    }>(
      `SELECT t.last_event::text AS last, e.id::text, e.event, e.data, e.previous FROM ${this.#db.table('tasks')} t
       LEFT JOIN ${this.#db.table('events')} e ON e.task_id = t.id AND e.id > $2::bigint
       WHERE t.id = $1 AND ${ALIVE} ORDER BY e.id`,
      [taskId, afterId],
    );
    const last = rows[0]?.last;
    if (last === undefined) return undefined;
    const order = compareEventIds(afterId, last);
    if (order >= 0) return order === 0 ? [] : undefined;
    // The first event after afterId must follow it directly: otherwise the history was trimmed past it (a gap).
    if (rows[0]!.id === null || rows[0]!.previous !== afterId) return undefined;
    return rows.map((row) => ({ id: row.id!, event: row.event, data: row.data }));
  }

  subscribe(taskId: string, listener: TaskEventListener): Promise<() => void> {
    return this.#followers.subscribe(taskId, listener);
  }

  compareEventIds(a: string, b: string): number {
    return compareEventIds(a, b);
  }

  onFinished(taskId: string, afterId: string, listener: (snapshot: TaskSnapshot) => void): () => void {
    return this.#followers.watch(taskId, afterId, listener);
  }
}
