import { StoreUnavailableError, TaskRunner, type Job } from '../../src';
import { PostgresStore, type PostgresStoreLogger } from '../../src/postgres';
import { startApp, startTask, type TestApp } from '../helpers/app';
import { startOwnPostgres, type OwnPostgres } from '../helpers/postgres';
import { dataOf, openStream, withoutHeartbeats } from '../helpers/sse';

jest.setTimeout(90_000);

function recordingLogger(): PostgresStoreLogger & { errors: string[]; infos: string[] } {
  const errors: string[] = [];
  const infos: string[] = [];
  return {
    errors,
    infos,
    debug: () => {},
    warn: () => {},
    error: (_fields, message) => errors.push(message),
    info: (_fields, message) => infos.push(message),
  };
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('PostgreSQL restarting mid-job (a server of the test’s own)', () => {
  let server: OwnPostgres;
  let t: TestApp | undefined;
  let worker: TaskRunner | undefined;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    server = await startOwnPostgres();
  });
  afterEach(async () => {
    await t?.close();
    await worker?.close();
    [t, worker] = [undefined, undefined];
  });
  afterAll(async () => {
    await server?.destroy();
    process.off('unhandledRejection', onUnhandled);
  });

  /** A web app (worker: false, heartbeats every 100 ms) and a worker process's runner, on one schema of the server. */
  async function deploy(schema: string, leaseMs: number, steps: { count: number; ms: number }) {
    const webLog = recordingLogger();
    const workerLog = recordingLogger();
    const webStore = new PostgresStore({ connectionString: server.url, schema, logger: webLog });
    await webStore.migrate();
    t = await startApp({
      runner: { store: webStore, worker: false, leaseMs },
      middleware: { heartbeatMs: 100 },
      define: (runner) => runner.define('report'),
    });
    const store = new PostgresStore({ connectionString: server.url, schema, logger: workerLog });
    worker = new TaskRunner({ store, leaseMs });
    const reported: unknown[] = [];
    worker.on('error', (error) => reported.push(error));
    worker.define('report', async (job: Job) => {
      for (let step = 1; step <= steps.count; step++) {
        await new Promise((resolve) => setTimeout(resolve, steps.ms));
        job.signal.throwIfAborted(); // given up (the store unreachable past the lease): stop
        job.progress(step);
      }
      return 'done';
    });
    return { web: t, webLog, workerLog, reported };
  }

  it('keeps the streams open, retries the commits, and delivers every event once the server is back', async () => {
    const { web, webLog, workerLog, reported } = await deploy('restart', 10_000, { count: 40, ms: 50 });
    const id = await startTask(web.base, 'report', {});
    const stream = await openStream(`${web.base}/tasks/${id}/events`);
    await stream.waitForEvents(6, { timeoutMs: 10_000 });
    await server.kill();
    const heartbeatsBefore = stream.events.filter((e) => e.event === 'heartbeat').length;
    await waitUntil(() => reported.length > 0); // a commit failed while the server was down
    await new Promise((r) => setTimeout(r, 1000));
    expect(stream.hasEnded()).toBe(false);
    expect(stream.events.filter((e) => e.event === 'heartbeat').length).toBeGreaterThan(heartbeatsBefore + 3);
    await server.restart();
    await stream.ended;

    const events = withoutHeartbeats(stream.events);
    const ids = events.map((e) => e.id!);
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++)
      expect(web.runner.store.compareEventIds(ids[i]!, ids[i - 1]!)).toBeGreaterThan(0);
    const percents = events.filter((e) => e.event === 'progress').map((e) => dataOf<{ percent: number }>(e).percent);
    expect(percents).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(events.at(-1)?.event).toBe('complete');
    expect(dataOf(events.at(-1))).toMatchObject({ status: 'completed', result: 'done' });

    // The failed commit, reported once on the runner; the outage, once in each store's log, and its end.
    expect(reported).toHaveLength(1);
    expect(reported[0]).toBeInstanceOf(StoreUnavailableError);
    for (const log of [webLog, workerLog]) {
      expect(log.errors).toHaveLength(1);
      expect(log.errors[0]).toMatch(/lost the connection to PostgreSQL at 127\.0\.0\.1:\d+ .*reconnecting/);
      expect(log.infos).toHaveLength(1);
    }
    expect(web.errors).toEqual([]);
    expect(unhandled).toEqual([]);
  });

  it('fails the task when its commit cannot be made within leaseMs', async () => {
    const leaseMs = 1000;
    const { web, reported } = await deploy('too_long', leaseMs, { count: 100, ms: 50 });
    const id = await startTask(web.base, 'report', {});
    const stream = await openStream(`${web.base}/tasks/${id}/events`);
    await stream.waitForEvents(4, { timeoutMs: 10_000 });
    await server.kill();
    await waitUntil(() => reported.length > 0);
    await new Promise((r) => setTimeout(r, leaseMs + 500)); // past the lease: the commit is given up
    await server.restart();
    await stream.ended;
    const events = withoutHeartbeats(stream.events);
    expect(events.at(-1)?.event).toBe('failed');
    expect(dataOf(events.at(-1))).toMatchObject({
      status: 'failed',
      error: { message: expect.stringMatching(/lost/) },
    });
    const percents = events.filter((e) => e.event === 'progress').map((e) => dataOf<{ percent: number }>(e).percent);
    expect(percents).toEqual(Array.from({ length: percents.length }, (_, i) => i + 1));
    expect(percents.length).toBeLessThan(100);
    expect(reported).toHaveLength(1);
    expect(unhandled).toEqual([]);
  });
});
