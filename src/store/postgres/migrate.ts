/**
 * The PostgreSQL store's tables, as `migrate()` creates them: every statement is idempotent, so it is safe at every
 * boot, and an advisory lock makes instances that boot at once take turns. docs/postgres.md prints this SQL for teams
 * that run their own migrations (`migrationSql('sse_tasks')`).
 */
import type { Queryable } from './database';

/** Bumped when the tables change; kept in the schema's comment. */
export const SCHEMA_VERSION = 1;

/**
 * The statements of the migration for `schema`. What each column holds:
 * - `tasks`: one row per task. `snapshot` its latest snapshot (JSON text, as written), `status` its status,
 *   `last_event` its latest event id; `grp` its owner group (`o:<owner>`, or `-` without one) and `position` its place
 *   in its owner's index (its first event id); `input` while unfinished; `turn` and `seq` while queued (the fair
 *   queue); `running` while claimed and unfinished; `lease_holder` and `lease_until` its lease; `hist_count` and
 *   `hist_bytes` what `events` keeps of it; `output` what its job wrote; `idempotency_key` and `fingerprint`;
 *   `traceparent` of the span that started it; `expires_at` once finished (its TTL): a row past it is forgotten.
 * - `events`: its history, trimmed to `historyLimit` and `maxHistoryBytes`; `previous` is the id of the event before
 *   (`''` for the first), `token` names the write that stored it, so a retried commit is stored once.
 * - `queue_types` and `queue_groups`: the fair queue's counters (how many wait, the last turn claimed of a type, a
 *   group's next turn and its running tasks), locked row by row, so concurrent starts and claims never pass a bound.
 */
export function migrationSql(schema: string): string[] {
  const s = `"${schema}"`;
  return [
    `CREATE SCHEMA IF NOT EXISTS ${s}`,
    `CREATE SEQUENCE IF NOT EXISTS ${s}.event_ids`,
    `CREATE TABLE IF NOT EXISTS ${s}.tasks (
  id text PRIMARY KEY,
  type text NOT NULL,
  owner text,
  grp text NOT NULL,
  status text NOT NULL,
  snapshot text NOT NULL,
  last_event bigint NOT NULL,
  position bigint,
  input text,
  turn bigint,
  seq bigint,
  running boolean NOT NULL DEFAULT false,
  lease_holder text,
  lease_until timestamptz,
  hist_count integer NOT NULL DEFAULT 0,
  hist_bytes bigint NOT NULL DEFAULT 0,
  output text NOT NULL DEFAULT '',
  idempotency_key text UNIQUE,
  fingerprint text,
  traceparent text,
  expires_at timestamptz
)`,
    `CREATE INDEX IF NOT EXISTS tasks_queued ON ${s}.tasks (type, turn, seq) WHERE turn IS NOT NULL`,
    `CREATE INDEX IF NOT EXISTS tasks_owner ON ${s}.tasks (owner, position) WHERE owner IS NOT NULL`,
    `CREATE INDEX IF NOT EXISTS tasks_leases ON ${s}.tasks (lease_until) WHERE lease_until IS NOT NULL`,
    `CREATE INDEX IF NOT EXISTS tasks_expiry ON ${s}.tasks (expires_at) WHERE expires_at IS NOT NULL`,
    `CREATE TABLE IF NOT EXISTS ${s}.events (
  task_id text NOT NULL REFERENCES ${s}.tasks (id) ON DELETE CASCADE,
  id bigint NOT NULL,
  previous text NOT NULL,
  event text NOT NULL,
  data text NOT NULL,
  token text,
  PRIMARY KEY (task_id, id)
)`,
    `CREATE TABLE IF NOT EXISTS ${s}.queue_types (
  type text PRIMARY KEY,
  queued bigint NOT NULL DEFAULT 0,
  claimed_turn bigint NOT NULL DEFAULT -1
)`,
    `CREATE TABLE IF NOT EXISTS ${s}.queue_groups (
  grp text PRIMARY KEY,
  queued bigint NOT NULL DEFAULT 0,
  running bigint NOT NULL DEFAULT 0,
  next_turn bigint NOT NULL DEFAULT 0
)`,
    `COMMENT ON SCHEMA ${s} IS 'koa-sse-tasks store, version ${SCHEMA_VERSION}'`,
  ];
}

/**
 * Runs the migration in one transaction under a transaction-scoped advisory lock (the schema's name hashed), so two
 * instances booting at once never race to create the same table.
 */
export async function migrate(client: Queryable, schema: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended('koa-sse-tasks migrate ' || $1, 0))", [schema]);
    for (const statement of migrationSql(schema)) await client.query(statement);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
