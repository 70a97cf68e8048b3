import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { RUNNER_DEFAULTS, type TaskSnapshot } from '../../src';
import { PostgresStore, migrationSql } from '../../src/postgres';
import { PG_URL, dropSchemas, queryOnce, uniqueSchema } from '../helpers/postgres';
import { describeTaskStore } from './conformance';

const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

// A schema per test: the owner groups (and the group of the tasks without an owner) span every type of a store.
describeTaskStore('PostgresStore', async () => {
  const schema = uniqueSchema('conformance');
  schemas.push(schema);
  const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 4 });
  await store.migrate();
  return store;
});

describe('PostgresStore', () => {
  const limits = { historyLimit: 10, maxHistoryBytes: RUNNER_DEFAULTS.maxHistoryBytes, ttlMs: 60_000 };
  function queued(type = 'report'): TaskSnapshot {
    const now = new Date().toISOString();
    return { id: randomUUID(), type, status: 'queued', progress: 0, outputLength: 0, createdAt: now, updatedAt: now };
  }
  let pool: pg.Pool;
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: PG_URL, max: 3 });
  });
  afterAll(() => pool.end());

  async function storeOnPool(): Promise<PostgresStore> {
    const schema = uniqueSchema('store');
    schemas.push(schema);
    const store = new PostgresStore({ pool, schema });
    await store.migrate();
    return store;
  }

  async function listening(store: PostgresStore): Promise<number> {
    const rows = await queryOnce<{ count: string }>(
      'SELECT count(*)::text AS count FROM pg_stat_activity WHERE application_name = $1',
      [`koa-sse-tasks:listen:${store.schema}`],
    );
    return Number(rows[0]!.count);
  }

  it('listens on one connection however many tasks, owners and queues it follows, besides the pool', async () => {
    const store = await storeOnPool();
    const offs = await Promise.all([
      ...Array.from({ length: 50 }, () => store.subscribe(randomUUID(), () => {})),
      ...Array.from({ length: 10 }, (_, i) => store.onOwnerTask(`owner-${i}`, () => {})),
      store.onQueued(() => {}),
    ]);
    const finished = Array.from({ length: 20 }, () => store.onFinished(randomUUID(), '1', () => {}));
    expect(store.followedTasks).toBe(50);
    expect(await listening(store)).toBe(1);
    expect(pool.totalCount).toBeLessThanOrEqual(3);
    for (const off of [...offs, ...finished]) off();
    expect(store.followedTasks).toBe(0);
    await store.close();
  });

  it('never ends a pool it was given, and closes its listening connection once however often it is closed', async () => {
    const store = await storeOnPool();
    await store.onQueued(() => {});
    expect(await listening(store)).toBe(1);
    await Promise.all([store.close(), store.close()]);
    await store.close();
    const closed = Date.now();
    while ((await listening(store)) > 0 && Date.now() - closed < 2000) await new Promise((r) => setTimeout(r, 20));
    expect(await listening(store)).toBe(0);
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('migrates idempotently, creating the schema, even when several instances boot at once', async () => {
    const schema = uniqueSchema('migrate');
    schemas.push(schema);
    const instances = Array.from({ length: 4 }, () => new PostgresStore({ pool, schema }));
    try {
      await Promise.all(instances.map((instance) => instance.migrate()));
      await Promise.all(instances.map((instance) => instance.migrate()));
      const tables = await queryOnce<{ name: string }>(
        'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
        [schema],
      );
      expect(tables.map((t) => t.name)).toEqual(['events', 'queue_groups', 'queue_types', 'tasks']);
      expect(migrationSql(schema)[0]).toBe(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    } finally {
      await Promise.all(instances.map((instance) => instance.close()));
    }
  });

  it('keeps the traceparent a task was queued with, and gives it back with the claim', async () => {
    const store = await storeOnPool();
    try {
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      const task = queued();
      await store.enqueue(task, { month: '2026-10' }, limits, { traceparent });
      await store.enqueue(queued(), null, limits);
      const claimed = await store.claim(['report'], { holder: 'w', leaseMs: 60_000 });
      expect(claimed).toMatchObject({ snapshot: { id: task.id }, input: { month: '2026-10' }, traceparent });
      const untraced = await store.claim(['report'], { holder: 'w', leaseMs: 60_000 });
      expect(untraced).toBeDefined();
      expect(untraced!.traceparent).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('keeps exactly historyLimit events, and counts what it keeps right, however the history was trimmed', async () => {
    const store = await storeOnPool();
    try {
      const task = { ...queued(), status: 'running' as const };
      for (let i = 0; i < 30; i++) {
        const data = i === 20 ? 'x'.repeat(300) : `{"percent":${i}}`; // one past maxHistoryBytes: trimmed to itself
        await store.commit(task, { event: 'progress', data }, { ...limits, historyLimit: 5, maxHistoryBytes: 250 });
      }
      const [kept] = await queryOnce<{ events: string; bytes: string; hist_count: number; hist_bytes: string }>(
        `SELECT (SELECT count(*) FROM "${store.schema}".events WHERE task_id = $1)::text AS events,
           (SELECT sum(octet_length(data)) FROM "${store.schema}".events WHERE task_id = $1)::text AS bytes,
           hist_count, hist_bytes::text FROM "${store.schema}".tasks WHERE id = $1`,
        [task.id],
      );
      expect(kept).toEqual({ events: '5', bytes: kept!.hist_bytes, hist_count: 5, hist_bytes: kept!.bytes });
    } finally {
      await store.close();
    }
  });

  it('refuses a transaction that is not a pg client, and writes nothing', async () => {
    const store = await storeOnPool();
    try {
      const task = queued();
      await expect(store.enqueue(task, null, limits, { transaction: 'BEGIN' })).rejects.toThrow(
        'expected `transaction` to be a pg client inside BEGIN',
      );
      expect(await store.read(task.id)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it.each([
    [{}, 'give PostgresStore one of `pool` (a pg Pool) or `connectionString`'],
    [{ connectionString: PG_URL, pool: {} }, 'give PostgresStore one of `pool`'],
    [{ pool: {} }, 'expected `pool` to be a pg Pool (new Pool())'],
    [{ connectionString: PG_URL, schema: 'My Schema' }, 'expected `schema` to be a lower-case SQL name'],
    [{ connectionString: PG_URL, poolSize: 0 }, 'expected `poolSize` to be an integer from 1 to 1000'],
    [
      { connectionString: PG_URL, logger: { error() {} } },
      'expected `logger` to be a logger with debug(), info(), warn()',
    ],
  ])('explains a bad option %p', (options, message) => {
    expect(() => new PostgresStore(options as never)).toThrow(message);
  });
});

describe('docs/postgres.md', () => {
  it("prints the migration's SQL exactly as migrate() runs it, for teams with their own migrations", () => {
    const page = readFileSync(path.join(__dirname, '../../docs/postgres.md'), 'utf8');
    const printed = /```sql\n([\s\S]*?)\n```/.exec(page)?.[1];
    expect(printed).toBe(`${migrationSql('sse_tasks').join(';\n\n')};`);
  });
});

describe('PostgresStore before migrate()', () => {
  it('says to call migrate() when its tables are missing', async () => {
    const store = new PostgresStore({ connectionString: PG_URL, schema: uniqueSchema('unmigrated'), poolSize: 1 });
    try {
      await expect(store.read('x')).rejects.toThrow(
        /tables are missing in schema "t_unmigrated_.*call `await store.migrate\(\)`/,
      );
    } finally {
      await store.close();
    }
  });
});
