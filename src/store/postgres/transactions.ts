import type { TaskEvent } from '../../types';
import type { PgDatabase } from './database';

/** How often the transactions still open are looked up, in ms, while any is. */
const POLL_MS = 250;

interface Pending {
  transactionId: string;
  event: TaskEvent;
  settled: Promise<TaskEvent | undefined>;
  resolve: (event: TaskEvent | undefined) => void;
}

/**
 * The tasks enqueued in the app's own transactions, until each transaction ends. Its commit is heard twice over: the
 * task's first event's notice (PostgreSQL delivers a NOTIFY only when, and if, its transaction commits), and
 * `pg_xact_status()` of the transaction's id, looked up every 250 ms while any is open, which also tells a rollback.
 */
export class PendingTransactions {
  readonly #db: PgDatabase;
  readonly #report: (error: unknown) => void;
  readonly #pending = new Map<string, Pending>();
  #timer: NodeJS.Timeout | undefined;

  constructor(db: PgDatabase, report: (error: unknown) => void) {
    this.#db = db;
    this.#report = report;
  }

  add(taskId: string, transactionId: string, event: TaskEvent): void {
    let resolve!: (event: TaskEvent | undefined) => void;
    const settled = new Promise<TaskEvent | undefined>((r) => (resolve = r));
    this.#pending.set(taskId, { transactionId, event, settled, resolve });
    this.#timer ??= setInterval(() => void this.#poll(), POLL_MS).unref();
  }

  /** Resolves with the task's first event once its transaction commits, `undefined` if it rolls back. */
  committed(taskId: string): Promise<TaskEvent | undefined> {
    return this.#pending.get(taskId)?.settled ?? Promise.resolve(undefined);
  }

  /** A notice of the task's event: its transaction committed. */
  noticed(taskId: string): void {
    this.#settle(taskId, true);
  }

  /** Settles every pending task with `undefined`: the store is closing. */
  close(): void {
    for (const taskId of [...this.#pending.keys()]) this.#settle(taskId, false);
  }

  async #poll(): Promise<void> {
    const pending = [...this.#pending];
    if (pending.length === 0) return;
    try {
      const { rows } = await this.#db.query<{ id: string; status: string | null }>(
        'SELECT id, pg_xact_status(xid::xid8) AS status FROM unnest($1::text[], $2::text[]) AS t(id, xid)',
        [pending.map(([taskId]) => taskId), pending.map(([, p]) => p.transactionId)],
      );
      for (const { id, status } of rows) if (status !== 'in progress') this.#settle(id, status === 'committed');
    } catch (error) {
      this.#report(error);
    }
  }

  #settle(taskId: string, committed: boolean): void {
    const pending = this.#pending.get(taskId);
    if (pending === undefined) return;
    this.#pending.delete(taskId);
    pending.resolve(committed ? pending.event : undefined);
    if (this.#pending.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
