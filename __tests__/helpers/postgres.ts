import { randomUUID } from 'node:crypto';
import pg from 'pg';

/**
 * The PostgreSQL every test talks to (trust auth on 127.0.0.1); `npm test` starts the machine's cluster when it is
 * not answering (scripts/test-setup.mjs). Each test works in a schema of its own.
 */
export const PG_URL = process.env.PG_URL ?? 'postgres://root@127.0.0.1:5432/test';

/** A schema name no other test (or run) uses. */
export function uniqueSchema(name: string): string {
  return `t_${name.replace(/[^a-z0-9]/g, '_')}_${randomUUID().slice(0, 8)}`;
}

/** Drops the schemas and everything in them, on a short-lived connection of its own. */
export async function dropSchemas(schemas: readonly string[], url = PG_URL): Promise<void> {
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Runs one query on a short-lived connection of its own. */
export async function queryOnce<R extends pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
  url = PG_URL,
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}
