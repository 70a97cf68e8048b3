// The `koa-sse-tasks/postgres` entry: the only module that loads pg, so apps that never use PostgreSQL never need it.
export { PostgresStore } from './store/postgres/store';
export { POSTGRES_STORE_DEFAULTS } from './store/postgres/options';
export type { PostgresStoreLogger, PostgresStoreOptions } from './store/postgres/options';
export { migrationSql } from './store/postgres/migrate';
