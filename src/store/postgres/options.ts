import type { Pool } from 'pg';
import { loggerOption, type Logger } from '../../util/logger';
import { integerOption, optionError } from '../../util/validate';

/** The PostgreSQL store's logger: a `Logger`, with pino's shape `level(fields, message)`, as the Redis store's. */
export type PostgresStoreLogger = Logger;

/** Options of `new PostgresStore()`: give `pool` or `connectionString`. */
export interface PostgresStoreOptions {
  /**
   * The app's `pg` pool: the store runs its queries on it and never ends it (`close()` leaves it to the app). The
   * one listening connection is opened beside it, with the same settings (`pool.options`).
   */
  pool?: Pool;
  /** A connection string, e.g. `postgres://app@db.internal/app`: the store opens (and closes) a pool of its own. */
  connectionString?: string;
  /** The schema of the store's tables, created by `migrate()` if missing. @default 'sse_tasks' */
  schema?: string;
  /** The size of the pool the store opens with `connectionString` (not used with `pool`). @default 10 */
  poolSize?: number;
  /**
   * Where a lost connection (once per outage), its recovery and failed reads of live events are reported, as
   * `logger.level(fields, message)`. @default the runner's `logger` (given through `useLogger()`), else `console`
   */
  logger?: PostgresStoreLogger;
}

export const POSTGRES_STORE_DEFAULTS = {
  schema: 'sse_tasks',
  poolSize: 10,
} as const;

export interface ResolvedPostgresStoreOptions {
  pool: Pool | undefined;
  connectionString: string | undefined;
  schema: string;
  poolSize: number;
  /** `undefined`: the runner's, once it calls `useLogger()`, else `console`. */
  logger: Logger | undefined;
}

export function resolvePostgresStoreOptions(options: PostgresStoreOptions): ResolvedPostgresStoreOptions {
  if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options);
  const { pool, connectionString, schema = POSTGRES_STORE_DEFAULTS.schema } = options;
  if ((pool === undefined) === (connectionString === undefined)) {
    throw new TypeError('koa-sse-tasks: give PostgresStore one of `pool` (a pg Pool) or `connectionString`');
  }
  if (pool !== undefined && (typeof pool !== 'object' || pool === null || typeof pool.connect !== 'function')) {
    throw optionError('pool', 'a pg Pool (new Pool())', pool);
  }
  if (connectionString !== undefined && (typeof connectionString !== 'string' || connectionString === '')) {
    throw optionError('connectionString', "a PostgreSQL URL such as 'postgres://app@127.0.0.1/app'", connectionString);
  }
  if (typeof schema !== 'string' || !/^[a-z_][a-z0-9_]{0,40}$/.test(schema)) {
    throw optionError('schema', 'a lower-case SQL name of at most 41 characters, such as "sse_tasks"', schema);
  }
  return {
    pool,
    connectionString,
    schema,
    poolSize: integerOption('poolSize', options.poolSize ?? POSTGRES_STORE_DEFAULTS.poolSize, 1, 1000),
    logger: loggerOption('logger', options.logger),
  };
}
