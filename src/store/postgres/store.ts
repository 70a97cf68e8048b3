import { StoreUnavailableError } from '../../errors';
import type { TaskEvent } from '../../types';
import type { Logger, LoggerAware } from '../../util/logger';
import { ComposedStore } from '../composed';
import type { TransactionalQueue } from '../transactions';
import { PgDatabase } from './database';
import { TaskFollowers } from './followers';
import { PgListener } from './listener';
import { PostgresTaskLog } from './log';
import { migrate } from './migrate';
import { resolvePostgresStoreOptions, type PostgresStoreOptions } from './options';
import { PostgresOwnerIndex } from './owners';
import { PostgresJobQueue } from './queue';
import { PendingTransactions } from './transactions';

/** How often finished tasks past their TTL (and idle queue counters) are deleted, in ms. */
const SWEEP_MS = 30_000;

/**
 * A store in PostgreSQL, shared by every process that uses the same database and schema: any instance serves any
 * task's events, workers in other processes run the jobs, and a task can be started inside the app's own transaction
 * (`runner.start(type, input, { transaction })`), existing once it commits.
 *
 * Per process it uses the pool (the app's, or its own) and one more connection, however many streams and tasks: the
 * one that LISTENs for the notices of new events, which are then read from the tables. `await store.migrate()`
 * creates the tables (docs/postgres.md has their SQL).
 *
 * Its parts: the log (`log.ts`, writes in `commit.ts` and `write.ts`), the queue and its leases (`queue.ts`,
 * `enqueue.ts`), the owner index (`owners.ts`), the followers of live events (`followers.ts`) on the listening
 * connection (`listener.ts`), and the app's transactions until they end (`transactions.ts`).
 */
export class PostgresStore extends ComposedStore implements TransactionalQueue, LoggerAware {
  readonly shared = true;
  /** The schema of the store's tables. */
  readonly schema: string;
  readonly #db: PgDatabase;
  readonly #listener: PgListener;
  readonly #followers: TaskFollowers;
  readonly #queue: PostgresJobQueue;
  readonly #owners: PostgresOwnerIndex;
  readonly #transactions: PendingTransactions;
  readonly #sweep: NodeJS.Timeout;
  #closing: Promise<void> | undefined;

  constructor(options: PostgresStoreOptions) {
    const resolved = resolvePostgresStoreOptions(options);
    const db = new PgDatabase(resolved);
    // An outage is reported once by the database; a failure besides one is reported each time.
    const report = (error: unknown): void => {
      if (!(error instanceof StoreUnavailableError))
        db.report(error, 'koa-sse-tasks: reading task events from PostgreSQL failed');
    };
    const transactions = new PendingTransactions(db, report);
    const parts: { followers?: TaskFollowers; owners?: PostgresOwnerIndex; queue?: PostgresJobQueue } = {};
    const listener = new PgListener(
      db,
      (notice) => {
        if (notice.kind === 'event') {
          transactions.noticed(notice.taskId);
          parts.followers?.noticed(notice.taskId, notice.terminal);
        } else if (notice.kind === 'owner') parts.owners?.noticed(notice.hash);
        else parts.queue?.queued();
      },
      () => {
        parts.followers?.resumed();
        parts.owners?.resumed();
        parts.queue?.queued();
      },
    );
    const followers = new TaskFollowers(db, listener, report);
    const queue = new PostgresJobQueue(db, listener, (taskId, transactionId, event) =>
      transactions.add(taskId, transactionId, event),
    );
    const owners = new PostgresOwnerIndex(db, listener, report);
    Object.assign(parts, { followers, owners, queue });
    super({ log: new PostgresTaskLog(db, followers), queue, owners });
    this.schema = resolved.schema;
    this.#db = db;
    this.#listener = listener;
    this.#followers = followers;
    this.#queue = queue;
    this.#owners = owners;
    this.#transactions = transactions;
    this.#sweep = setInterval(() => void this.#forget().catch(report), SWEEP_MS).unref();
  }

  /**
   * Creates the schema and the tables if they are missing: idempotent, and safe when several instances boot at once
   * (they take turns on an advisory lock). Call it once before the store is used.
   */
  async migrate(): Promise<void> {
    const client = await this.#db.pool.connect();
    try {
      await migrate(client, this.schema);
    } finally {
      client.release();
    }
  }

  /** The runner's logger (`new TaskRunner({ logger })` calls this), unless the store was given a `logger` of its own. */
  useLogger(logger: Logger): void {
    this.#db.useLogger(logger);
  }

  committed(taskId: string): Promise<TaskEvent | undefined> {
    return this.#transactions.committed(taskId);
  }

  /** How many tasks this process follows: what the one listening connection serves, not a connection count. */
  get followedTasks(): number {
    return this.#followers.size;
  }

  /** Closes the listening connection, and the pool if the store opened it: never the app's. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#sweep);
      this.#transactions.close();
      this.#followers.close();
      this.#owners.close();
      this.#queue.close();
      await this.#listener.close();
      await this.#db.close();
    })();
    return this.#closing;
  }

  /** Deletes the tasks past their TTL (their events go with them) and the counters of groups with nothing left. */
  async #forget(): Promise<void> {
    await this.#db.query(
      `DELETE FROM ${this.#db.table('tasks')} WHERE id IN (
         SELECT id FROM ${this.#db.table('tasks')} WHERE expires_at <= now() LIMIT 1000 FOR UPDATE SKIP LOCKED)`,
    );
    await this.#db.query(`DELETE FROM ${this.#db.table('queue_groups')} WHERE queued = 0 AND running = 0`);
  }
}
