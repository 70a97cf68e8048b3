import pg from 'pg';
import { StoreUnavailableError } from '../../errors';
import { logAsBefore, type Logger } from '../../util/logger';
import type { ResolvedPostgresStoreOptions } from './options';

/** A `pg` pool, pool client or client: what runs a query. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** The error codes and messages of a connection refused, cut or shut down: the server is away, not the query wrong. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);
export function isConnectionError(error: unknown): boolean {
  // Not `instanceof Error`: the errors of Node's sockets may come from another realm (a test runner's sandbox).
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code)))
    return true;
  return (
    typeof message === 'string' &&
    /Connection terminated|connection (?:is )?(?:closed|ended)|Client has encountered a connection error/i.test(message)
  );
}

/**
 * The store's pool (the app's, or one it opened from `connectionString`) and its table names. Every query goes
 * through `query()` or `transaction()`, which turn a lost server into a `StoreUnavailableError` and report the
 * outage once, and its end.
 */
export class PgDatabase {
  readonly pool: pg.Pool;
  readonly schema: string;
  /** The NOTIFY channel of this schema's events. */
  readonly channel: string;
  /** The `application_name` of the listening connection (pg_stat_activity shows it). */
  readonly listenerName: string;
  /** The connection settings, for the listening connection opened beside the pool. */
  readonly settings: pg.ClientConfig;
  readonly #ownPool: boolean;
  /** The store's own logger, or the runner's (`useLogger`); `undefined`: `console`, as the Redis store. */
  #logger: Logger | undefined;
  readonly #ownLogger: boolean;
  readonly #where: string;
  #down = false;
  #closed = false;

  constructor(options: ResolvedPostgresStoreOptions) {
    this.#ownPool = options.pool === undefined;
    this.pool =
      options.pool ??
      new pg.Pool({
        connectionString: options.connectionString,
        max: options.poolSize,
        connectionTimeoutMillis: 5_000,
      });
    // An idle client of the pool losing its server emits `error` on the pool: without a listener, the process dies.
    this.pool.on('error', this.#onPoolError);
    this.settings = (this.pool as pg.Pool & { options: pg.ClientConfig }).options;
    this.schema = options.schema;
    this.channel = `koa_sse_tasks.${options.schema}`;
    this.listenerName = `koa-sse-tasks:listen:${options.schema}`;
    this.#logger = options.logger;
    this.#ownLogger = options.logger !== undefined;
    const parsed = this.settings.connectionString === undefined ? undefined : safeUrl(this.settings.connectionString);
    const host = parsed?.hostname || this.settings.host || process.env.PGHOST || 'localhost';
    const port = parsed?.port || this.settings.port || process.env.PGPORT || 5432;
    this.#where = `${host}:${port}`;
  }

  readonly #onPoolError = (error: Error): void => this.lost(error);

  /** A table's qualified name. */
  table(name: 'tasks' | 'events' | 'queue_types' | 'queue_groups' | 'event_ids'): string {
    return `"${this.schema}".${name}`;
  }

  async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      const result = await this.pool.query<R>(text, values);
      this.back();
      return result;
    } catch (error) {
      throw this.#translate(error);
    }
  }

  /** Runs `work` in a transaction on a client of the pool (or on `client`, the app's, inside its own transaction). */
  async transaction<T>(work: (client: Queryable) => Promise<T>, client?: Queryable): Promise<T> {
    if (client !== undefined) return work(client);
    let connection: pg.PoolClient;
    try {
      connection = await this.pool.connect();
    } catch (error) {
      throw this.#translate(error);
    }
    let broken: unknown;
    // A checked-out client has no listener of the pool's: its server going away between two queries would crash.
    const onError = (error: Error): void => {
      broken = error;
      this.lost(error);
    };
    connection.on('error', onError);
    try {
      await connection.query('BEGIN');
      const result = await work(connection);
      await connection.query('COMMIT');
      this.back();
      return result;
    } catch (error) {
      broken = isConnectionError(error) ? error : undefined;
      if (broken === undefined) await connection.query('ROLLBACK').catch((e: unknown) => (broken = e));
      throw this.#translate(error);
    } finally {
      connection.off('error', onError);
      connection.release(broken === undefined ? undefined : (broken as Error));
    }
  }

  /** The runner's logger, unless the store was given its own. */
  useLogger(logger: Logger): void {
    if (!this.#ownLogger) this.#logger = logger;
  }

  /** Reports a failure besides an outage (which `lost()` reports once). */
  report(error: unknown, message: string): void {
    logAsBefore(this.#logger, 'error', { err: error }, message);
  }

  /** Reports an outage once, however many queries fail during it. */
  lost(error: unknown): void {
    if (this.#down || this.#closed) return;
    this.#down = true;
    const reason = String((error as { message?: unknown }).message);
    logAsBefore(
      this.#logger,
      'error',
      { where: this.#where, reason },
      `koa-sse-tasks: lost the connection to PostgreSQL at ${this.#where} (${reason}); reconnecting. ` +
        'Open event streams stay open, writes are retried, and events resume without a gap once it is back.',
    );
  }

  back(): void {
    if (!this.#down) return;
    this.#down = false;
    logAsBefore(
      this.#logger,
      'info',
      { where: this.#where },
      `koa-sse-tasks: reconnected to PostgreSQL at ${this.#where}; delivering the events committed meanwhile.`,
    );
  }

  /** Ends the pool if the store opened it; never the app's. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownPool) await this.pool.end().catch(() => {});
    else this.pool.off('error', this.#onPoolError);
  }

  #translate(error: unknown): unknown {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === '42P01' || code === '3F000') {
      return new Error(
        `koa-sse-tasks: the store's tables are missing in schema "${this.schema}" (${(error as Error).message}): ` +
          'call `await store.migrate()` once before using the store, or run the SQL of docs/postgres.md',
        { cause: error },
      );
    }
    if (!isConnectionError(error)) return error;
    this.lost(error);
    return new StoreUnavailableError(
      `koa-sse-tasks: PostgreSQL at ${this.#where} is unreachable (${(error as { message?: unknown }).message as string}); is it running?`,
      { cause: error },
    );
  }
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
