import pg from 'pg';
import { MemoryStore, TaskRunner, type TaskEvent } from '../../src';
import { PostgresStore } from '../../src/postgres';
import { RedisStore } from '../../src/redis';
import { startApp, type TestApp } from '../helpers/app';
import { PG_URL, dropSchemas, uniqueSchema } from '../helpers/postgres';
import { REDIS_URL, uniquePrefix } from '../helpers/redis';

jest.setTimeout(20_000);

describe('runner.start() inside the app’s own PostgreSQL transaction', () => {
  const schema = uniqueSchema('transactions');
  let app: pg.Pool;
  let t: TestApp;
  let store: PostgresStore;
  const events: Array<[string, TaskEvent]> = [];
  const ran: string[] = [];

  beforeAll(async () => {
    app = new pg.Pool({ connectionString: PG_URL, max: 4 });
    await app.query(`CREATE SCHEMA "${schema}"`);
    await app.query(`CREATE TABLE "${schema}".orders (id serial PRIMARY KEY, item text NOT NULL, report text)`);
    store = new PostgresStore({ pool: app, schema });
    await store.migrate();
    t = await startApp({
      runner: { store },
      define: (runner) =>
        runner.define('report', async (job) => {
          ran.push(job.id);
          return { pages: 3 };
        }),
    });
    t.runner.on('event', (taskId, event) => events.push([taskId, event]));
  });
  afterAll(async () => {
    await t?.close();
    await app?.end();
    await dropSchemas([schema]);
  });

  /** Runs `work` inside BEGIN on a client of the app's pool, and ends it with `end` (COMMIT or ROLLBACK). */
  async function inTransaction<T>(
    work: (client: pg.PoolClient) => Promise<T>,
    end: 'COMMIT' | 'ROLLBACK',
    isolation = 'READ COMMITTED',
  ): Promise<T> {
    const client = await app.connect();
    try {
      await client.query(`BEGIN ISOLATION LEVEL ${isolation}`);
      const result = await work(client);
      await client.query(end);
      return result;
    } finally {
      client.release();
    }
  }

  async function finished(id: string): Promise<string | undefined> {
    const started = Date.now();
    for (;;) {
      const status = (await t.runner.get(id))?.status;
      if (status === 'completed' || status === 'failed' || Date.now() - started > 10_000) return status;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it.each(['READ COMMITTED', 'REPEATABLE READ', 'SERIALIZABLE'])(
    'creates the task in the transaction (%s): unseen by others until COMMIT, then announced, claimed and run',
    async (isolation) => {
      let id = '';
      await inTransaction(
        async (client) => {
          // The pattern: the order saved and its report queued, atomically.
          const saved = await client.query(`INSERT INTO "${schema}".orders (item) VALUES ('book') RETURNING id`);
          const order = saved.rows[0] as { id: number };
          id = (await t.runner.start('report', { order: order.id }, { transaction: client })).id;
          await client.query(`UPDATE "${schema}".orders SET report = $1 WHERE id = $2`, [id, order.id]);
          // Inside the transaction it exists; outside, not yet: another connection gets a 404.
          const [inside] = (await client.query(`SELECT status FROM "${schema}".tasks WHERE id = $1`, [id])).rows;
          expect(inside).toEqual({ status: 'queued' });
          expect((await fetch(`${t.base}/tasks/${id}`)).status).toBe(404);
          await new Promise((r) => setTimeout(r, 300)); // a poll of the pending transactions passes meanwhile
          expect(events.filter(([taskId]) => taskId === id)).toEqual([]);
          expect(ran).not.toContain(id);
        },
        'COMMIT',
        isolation,
      );
      expect(await finished(id)).toBe('completed');
      expect(ran.filter((taskId) => taskId === id)).toHaveLength(1);
      const announced = events.filter(([taskId]) => taskId === id).map(([, event]) => event.event);
      expect(announced).toEqual(['status', 'status', 'complete']);
      const order = await app.query(`SELECT report FROM "${schema}".orders WHERE report = $1`, [id]);
      expect(order.rowCount).toBe(1);
    },
  );

  it('leaves nothing after ROLLBACK: no task, no event, no job', async () => {
    let rolledBack = '';
    await inTransaction(async (client) => {
      rolledBack = (await t.runner.start('report', { order: 2 }, { transaction: client })).id;
    }, 'ROLLBACK');
    expect(await t.runner.store.read(rolledBack)).toBeUndefined();
    expect(await store.committed(rolledBack)).toBeUndefined();
    // A later task, started and run, is the marker: the rolled-back one would have run before it.
    const later = await t.runner.start('report', { order: 3 });
    expect(await finished(later.id)).toBe('completed');
    expect(events.filter(([taskId]) => taskId === rolledBack)).toEqual([]);
    expect(ran).not.toContain(rolledBack);
    expect((await fetch(`${t.base}/tasks/${rolledBack}`)).status).toBe(404);
  });

  it('keeps an idempotency key inside the transaction: a repeat there replays it, a rollback forgets it', async () => {
    const key = `order-${Date.now()}`;
    const [first, repeat] = await inTransaction(
      async (client) => [
        await t.runner.submit('report', { order: 4 }, { idempotencyKey: key, transaction: client }),
        await t.runner.submit('report', { order: 4 }, { idempotencyKey: key, transaction: client }),
      ],
      'ROLLBACK',
    );
    expect(first.replayed).toBe(false);
    expect(repeat).toEqual({ snapshot: first.snapshot, replayed: true });
    // Rolled back with its task: the key starts a task again, which runs once committed.
    const again = await inTransaction(
      (client) => t.runner.submit('report', { order: 4 }, { idempotencyKey: key, transaction: client }),
      'COMMIT',
    );
    expect(again.replayed).toBe(false);
    expect(again.snapshot.id).not.toBe(first.snapshot.id);
    expect(await finished(again.snapshot.id)).toBe('completed');
    expect(ran).not.toContain(first.snapshot.id);
  });

  it('never lets concurrent transactional starts pass maxQueued', async () => {
    const bounded = new TaskRunner({ store: new PostgresStore({ pool: app, schema }), worker: false, maxQueued: 3 });
    bounded.define('held');
    try {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 8 }, () =>
          inTransaction((client) => bounded.start('held', {}, { transaction: client }), 'COMMIT'),
        ),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
      expect(await bounded.store.queuedCount(['held'])).toBe(3);
    } finally {
      await bounded.close();
    }
  });

  it('is a TypeError with a store that cannot honour it, and writes nothing', async () => {
    const stores = [new MemoryStore(), new RedisStore({ url: REDIS_URL, keyPrefix: uniquePrefix('no-transaction') })];
    for (const store of stores) {
      const runner = new TaskRunner({ store });
      runner.define('report', () => 'never');
      try {
        await expect(runner.start('report', {}, { transaction: {} })).rejects.toThrow(TypeError);
        await expect(runner.start('report', {}, { transaction: {} })).rejects.toThrow(/cannot join a transaction/);
        expect(await store.queuedCount(['report'])).toBe(0);
      } finally {
        await runner.close();
      }
    }
  });
});
