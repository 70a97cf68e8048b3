import { startTask } from '../helpers/app';
import { PG_URL, dropSchemas, queryOnce, uniqueSchema } from '../helpers/postgres';
import { startInstance, type Instance } from '../helpers/processes';
import { openStream, withoutHeartbeats, type OpenStream } from '../helpers/sse';

jest.setTimeout(90_000);

const TASKS = 200;
const CLIENTS_PER_TASK = 10;
/** The web instance's pool (the fixture's `poolSize`). */
const POOL = 4;

describe('an instance with 2,000 SSE clients following 200 tasks on PostgreSQL', () => {
  const schema = uniqueSchema('many');
  const webName = `many-web-${schema.slice(-8)}`;
  const instances: Instance[] = [];
  const streams: OpenStream[] = [];
  afterAll(async () => {
    streams.forEach((stream) => stream.destroy());
    await Promise.all(instances.map((instance) => instance.stop()));
    await dropSchemas([schema]);
  });

  /** The connections of the web instance's pool (named by its URL), and the listening connections on the schema. */
  async function connections(): Promise<{ pool: number; listening: number }> {
    const rows = await queryOnce<{ name: string; count: string }>(
      `SELECT application_name AS name, count(*)::text AS count FROM pg_stat_activity
       WHERE application_name = ANY($1) GROUP BY 1`,
      [[webName, `koa-sse-tasks:listen:${schema}`]],
    );
    const count = (name: string): number => Number(rows.find((row) => row.name === name)?.count ?? 0);
    return { pool: count(webName), listening: count(`koa-sse-tasks:listen:${schema}`) };
  }

  it('uses its pool and one listening connection, and delivers every event to every client', async () => {
    const store = { STORE: 'postgres', PG_SCHEMA: schema };
    const web = await startInstance({ ROLE: 'web', ...store, PG_URL: `${PG_URL}?application_name=${webName}` });
    instances.push(web);
    const ids: string[] = [];
    for (let i = 0; i < TASKS; i += 50) {
      ids.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, () => startTask(web.base, 'report', { steps: 2, stepMs: 20 })),
        )),
      );
    }
    for (let round = 0; round < CLIENTS_PER_TASK; round++) {
      streams.push(...(await Promise.all(ids.map((id) => openStream(`${web.base}/tasks/${id}/events`)))));
    }
    expect(streams).toHaveLength(TASKS * CLIENTS_PER_TASK);
    expect(streams.every((stream) => stream.status === 200)).toBe(true);
    await Promise.all(streams.map((stream) => stream.waitForEvents(1, { timeoutMs: 20_000 })));
    const held = await connections();
    expect(held.listening).toBe(1);
    expect(held.pool).toBeGreaterThan(0);
    expect(held.pool).toBeLessThanOrEqual(POOL);

    // A worker process runs all 200 tasks now: every client sees its task through to `complete`.
    instances.push(await startInstance({ ROLE: 'worker', ...store, PG_URL }));
    await Promise.all(streams.map((stream) => stream.ended));
    for (const stream of streams) {
      const events = withoutHeartbeats(stream.events);
      expect(events.map((e) => e.event)).toEqual(['status', 'status', 'progress', 'progress', 'complete']);
    }
    const after = await connections();
    expect(after.listening).toBe(2); // one per process: the web instance's and the worker's
    expect(after.pool).toBeLessThanOrEqual(POOL);
  });
});
