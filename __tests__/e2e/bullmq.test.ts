import { Queue, Worker, type Job as BullJob } from 'bullmq';
import { bridgeBullMQ, type BullMQBridge } from '../../src/bullmq';
import { MemoryStore } from '../../src';
import { RedisStore } from '../../src/redis';
import { startApp, type TestApp } from '../helpers/app';
import { REDIS_URL, deleteKeys, uniquePrefix } from '../helpers/redis';
import { dataOf, openStream, withoutHeartbeats } from '../helpers/sse';

jest.setTimeout(30_000);

const HISTORY_BYTES = 4096;
/** The progress updates of a `verbose` job: ~230 bytes of data each, 14 KB in all, over HISTORY_BYTES. */
const VERBOSE_STEPS = 60;
/** A `verbose` job reports its progress only once the test has its stream open. */
let releaseVerbose!: () => void;
const verboseMayReport = new Promise<void>((resolve) => (releaseVerbose = resolve));

describe('the BullMQ bridge', () => {
  const keyPrefix = uniquePrefix('bridge');
  const bullPrefix = uniquePrefix('bull').slice(0, -1); // BullMQ adds its own ':'
  const connection = { host: '127.0.0.1', port: Number(new URL(REDIS_URL).port || 6379), maxRetriesPerRequest: null };
  let t: TestApp;
  let queue: Queue;
  let worker: Worker | undefined;
  let bridge: BullMQBridge;
  let bridgeStore: RedisStore;

  beforeAll(async () => {
    t = await startApp({ runner: { store: new RedisStore({ url: REDIS_URL, keyPrefix }), worker: false } });
    bridgeStore = new RedisStore({ url: REDIS_URL, keyPrefix });
    bridge = bridgeBullMQ({
      store: bridgeStore,
      queueName: 'reports',
      connection,
      prefix: bullPrefix,
      maxHistoryBytes: HISTORY_BYTES,
    });
    await bridge.ready;
    await new Promise((r) => setTimeout(r, 300)); // QueueEvents reads from "now": let its first XREAD start
    queue = new Queue('reports', { connection, prefix: bullPrefix });
  });
  afterAll(async () => {
    await worker?.close();
    await queue.close();
    await bridge.close();
    await bridgeStore.close();
    await t.close();
    await deleteKeys(keyPrefix);
    await deleteKeys(bullPrefix);
  });

  it('lets a client follow a BullMQ job by its id from queued to complete, then resume and get 204', async () => {
    const job = await queue.add('monthly', { month: '2026-10' });
    const id = job.id!;
    let status = 0;
    for (let i = 0; i < 200 && status !== 200; i++) {
      status = (await fetch(`${t.base}/tasks/${id}`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(200);
    const stream = await openStream(`${t.base}/tasks/${id}/events`);
    await stream.waitForEvents(1);

    worker = new Worker(
      'reports',
      async (bullJob: BullJob<{ month: string }>) => {
        if (bullJob.data.month === 'bad') throw new Error('Cannot read month');
        if (bullJob.data.month === 'verbose') {
          await verboseMayReport;
          for (let i = 1; i <= VERBOSE_STEPS; i++)
            await bullJob.updateProgress({ percent: i, message: 'x'.repeat(200) });
        }
        await bullJob.updateProgress(25);
        await bullJob.updateProgress({ percent: 50, message: 'Crunching' });
        await new Promise((r) => setTimeout(r, 50));
        return { url: `/r/${bullJob.data.month}.csv` };
      },
      { connection, prefix: bullPrefix },
    );
    await stream.ended;
    const events = withoutHeartbeats(stream.events);
    expect(events.map((e) => e.event)).toEqual(['status', 'status', 'progress', 'progress', 'complete']);
    expect(dataOf(events[0])).toMatchObject({ id, type: 'monthly', status: 'queued' });
    expect(dataOf(events[1])).toMatchObject({ status: 'running' });
    expect(events.slice(2, 4).map((e) => dataOf(e))).toEqual([{ percent: 25 }, { percent: 50, message: 'Crunching' }]);
    expect(dataOf(events[4])).toMatchObject({
      id,
      status: 'completed',
      progress: 100,
      result: { url: '/r/2026-10.csv' },
    });

    const resumed = await openStream(`${t.base}/tasks/${id}/events`, { 'Last-Event-ID': events[2]!.id! });
    await resumed.ended;
    expect(withoutHeartbeats(resumed.events).map((e) => e.id)).toEqual(events.slice(3).map((e) => e.id));
    const done = await fetch(`${t.base}/tasks/${id}/events`, { headers: { 'Last-Event-ID': events[4]!.id! } });
    expect(done.status).toBe(204);
  });

  it('ends the task with `failed` when the job fails for good', async () => {
    const job = await queue.add('monthly', { month: 'bad' }, { attempts: 2 });
    const id = job.id!;
    let snapshot: { status?: string; error?: { message: string } } = {};
    for (let i = 0; i < 300 && snapshot.status !== 'failed'; i++) {
      const res = await fetch(`${t.base}/tasks/${id}`);
      if (res.status === 200) snapshot = (await res.json()) as typeof snapshot;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(snapshot).toMatchObject({ status: 'failed', error: { message: 'Cannot read month' } });
  });

  it("keeps at most maxHistoryBytes of a job's events for replay", async () => {
    const job = await queue.add('monthly', { month: 'verbose' });
    const id = job.id!;
    for (let i = 0; i < 200 && (await fetch(`${t.base}/tasks/${id}`)).status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const stream = await openStream(`${t.base}/tasks/${id}/events`);
    await stream.waitForEvents(1);
    releaseVerbose();
    await stream.ended;
    const ids = withoutHeartbeats(stream.events).map((e) => e.id!);
    expect(ids.length).toBeGreaterThan(VERBOSE_STEPS); // every progress reached the live stream
    // Replay keeps the newest events only: resuming from the start would have a gap, so the store says it cannot.
    expect(await bridgeStore.eventsAfter(id, ids[1]!)).toBeUndefined();
    expect((await bridgeStore.eventsAfter(id, ids.at(-3)!))?.map((e) => e.id)).toEqual(ids.slice(-2));
  });
});

describe('bridgeBullMQ options', () => {
  it('refuses a store without the TaskLog members it writes with, naming what it lacks', () => {
    const store = { commit: () => {}, read: () => {} };
    expect(() => bridgeBullMQ({ store: store as never, queueName: 'reports', connection: {} })).toThrow(
      'koa-sse-tasks: expected `store` to be a TaskLog (the RedisStore your runner uses), got an object, which ' +
        'lacks TaskLog.readWithOutput(), TaskLog.eventsAfter(), TaskLog.subscribe(), TaskLog.compareEventIds() and TaskLog.onFinished()',
    );
  });

  it('checks the commit limits as the runner does', () => {
    const store = new MemoryStore();
    expect(() => bridgeBullMQ({ store, queueName: 'reports', connection: {}, maxHistoryBytes: 0 })).toThrow(
      'expected `maxHistoryBytes` to be an integer from 1 to 1073741824, got 0 (number)',
    );
  });
});
