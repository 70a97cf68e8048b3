import { TaskRunner, type Job } from '../../src';
import { RedisStore, type Logger } from '../../src/redis';
import { startApp, startTask, type TestApp } from '../helpers/app';
import { startOwnRedis, type OwnRedis } from '../helpers/redis';
import { dataOf, openStream, withoutHeartbeats } from '../helpers/sse';

jest.setTimeout(60_000);

function recordingLogger(): Logger & { errors: string[]; infos: string[] } {
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

describe('Redis restarting mid-job', () => {
  let redis: OwnRedis;
  let t: TestApp;
  let worker: TaskRunner;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    redis = await startOwnRedis();
  });
  afterAll(async () => {
    await t?.close();
    await worker?.close();
    await redis.kill();
    process.off('unhandledRejection', onUnhandled);
  });

  it('keeps the streams open, logs the outage once, and delivers everything once Redis is back', async () => {
    const webLog = recordingLogger();
    const workerLog = recordingLogger();
    const keyPrefix = 'restart:';
    t = await startApp({
      runner: { store: new RedisStore({ url: redis.url, keyPrefix, logger: webLog }), worker: false },
      middleware: { heartbeatMs: 100 },
      define: (runner) => runner.define('report'),
    });
    worker = new TaskRunner({ store: new RedisStore({ url: redis.url, keyPrefix, logger: workerLog }), leaseMs: 3000 });
    worker.define('report', async (job: Job<{ steps: number }>) => {
      for (let step = 1; step <= job.input.steps; step++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        job.progress(step);
      }
      return 'done';
    });

    const id = await startTask(t.base, 'report', { steps: 40 });
    const stream = await openStream(`${t.base}/tasks/${id}/events`);
    await stream.waitForEvents(6, { timeoutMs: 10_000 });
    await redis.kill();
    const heartbeatsBefore = stream.events.filter((e) => e.event === 'heartbeat').length;
    await new Promise((r) => setTimeout(r, 1000));
    expect(stream.hasEnded()).toBe(false);
    expect(stream.events.filter((e) => e.event === 'heartbeat').length).toBeGreaterThan(heartbeatsBefore + 3);
    await redis.restart();
    await stream.ended;

    const events = withoutHeartbeats(stream.events);
    const ids = events.map((e) => e.id!);
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++)
      expect(t.runner.store.compareEventIds(ids[i]!, ids[i - 1]!)).toBeGreaterThan(0);
    const percents = events.filter((e) => e.event === 'progress').map((e) => dataOf<{ percent: number }>(e).percent);
    expect(percents).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(events.at(-1)?.event).toBe('complete');
    expect(dataOf(events.at(-1))).toMatchObject({ status: 'completed', result: 'done' });

    for (const log of [webLog, workerLog]) {
      expect(log.errors).toHaveLength(1);
      expect(log.errors[0]).toMatch(/lost the connection to Redis at 127\.0\.0\.1:\d+ .*reconnecting/);
      expect(log.infos).toHaveLength(1);
    }
    expect(t.errors).toEqual([]);
    expect(unhandled).toEqual([]);
  });
});
