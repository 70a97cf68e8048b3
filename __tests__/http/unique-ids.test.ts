// Every id in a response is unique and increasing, and a stream never skips an event silently: on each store, for
// a fresh connection to a finished task, for clients joining while a task commits, and when the feed lags.
import { MemoryStore, type TaskEvent, type TaskStore } from '../../src';
import { RedisStore } from '../../src/redis';
import { startApp, startTask, waitUntil, type TestApp } from '../helpers/app';
import { defineControlled, type ControlledJob } from '../helpers/controlled';
import { REDIS_URL, deleteKeys, uniquePrefix } from '../helpers/redis';
import { openStream, withoutHeartbeats, type OpenStream, type ParsedEvent } from '../helpers/sse';

jest.setTimeout(30_000);

const keyPrefix = uniquePrefix('unique-ids');
afterAll(() => deleteKeys(keyPrefix));

const STORES: Array<[string, () => TaskStore]> = [
  ['MemoryStore', () => new MemoryStore()],
  ['RedisStore', () => new RedisStore({ url: REDIS_URL, keyPrefix })],
];

/**
 * The store with its live events delivered `lagMs` late (in order), as a busy shared reader delivers them: what a
 * stream writes must not depend on how far the feed is behind its catch-up.
 */
function lagging(store: TaskStore, lagMs: number): TaskStore {
  const subscribe: TaskStore['subscribe'] = async (taskId, listener) => {
    let subscribed = true;
    const off = await store.subscribe(taskId, (event, previousId) => {
      setTimeout(() => subscribed && listener(event, previousId), lagMs);
    });
    return () => {
      subscribed = false;
      off();
    };
  };
  return new Proxy(store, {
    get(target, name) {
      if (name === 'subscribe') return subscribe;
      const value: unknown = Reflect.get(target, name, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The task ids of a stream's events (the multiplexed id is form-encoded: `0=<id>`). */
function taskIdsOf(events: ParsedEvent[], multiplexed: boolean): string[] {
  return withoutHeartbeats(events).map((e) => (multiplexed ? new URLSearchParams(e.id).get('0')! : e.id!));
}

function expectIncreasing(store: TaskStore, ids: string[], what: string): void {
  for (let i = 1; i < ids.length; i++) {
    if (store.compareEventIds(ids[i]!, ids[i - 1]!) <= 0) {
      throw new Error(`${what}: id ${ids[i]} after ${ids[i - 1]} (ids ${ids.join(' ')})`);
    }
  }
}

describe.each(STORES)('%s: every id in a response is unique', (_name, makeStore) => {
  let t: TestApp;
  let controlled: ReturnType<typeof defineControlled>;
  const streams: OpenStream[] = [];

  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.destroy();
    await t.close();
  });

  async function open(path: string, headers: Record<string, string> = {}, on = t): Promise<OpenStream> {
    const stream = await openStream(`${on.base}${path}`, headers);
    streams.push(stream);
    return stream;
  }

  it('gives a fresh connection to a finished task its terminal event alone: stream, set, long-poll, other instance', async () => {
    t = await startApp({ runner: { store: makeStore() }, define: (r) => (controlled = defineControlled(r)) });
    const id = await startTask(t.base, 'controlled');
    (await controlled.running(id)).complete({ rows: 3 });
    let record = await t.runner.store.read(id);
    for (let i = 0; i < 200 && record?.snapshot.status !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 10));
      record = await t.runner.store.read(id);
    }
    const last = record!.lastEventId;

    // A second instance with a store of its own (for Redis: another process's view of the same keys).
    const readers: TestApp[] = [t];
    if (t.runner.store.shared) readers.push(await startApp({ runner: { store: makeStore(), worker: false } }));
    try {
      for (const on of readers) {
        const single = await open(`/tasks/${id}/events`, {}, on);
        await single.ended;
        expect(single.events.map((e) => [e.event, e.id])).toEqual([['complete', last]]);
        expect(JSON.parse(single.events[0]!.data)).toEqual(record!.snapshot);

        const set = await open(`/tasks/events?ids=${id}`, {}, on);
        await set.ended;
        expect(set.events.map((e) => e.event)).toEqual(['complete']);
        expect(new URLSearchParams(set.events[0]!.id).get('0')).toBe(last);

        const poll = (await (await fetch(`${on.base}/tasks/${id}?wait=1`)).json()) as { events: TaskEvent[] };
        expect(poll.events.map((e) => [e.event, e.id])).toEqual([['complete', last]]);
      }
    } finally {
      for (const reader of readers.slice(1)) await reader.close();
    }
  });

  it('never repeats an event to a client that joins or resumes while its feed lags behind the catch-up', async () => {
    const store = makeStore();
    t = await startApp({ runner: { store: lagging(store, 40) }, define: (r) => (controlled = defineControlled(r)) });
    const id = await startTask(t.base, 'controlled');
    const running: ControlledJob = await controlled.running(id);
    const committed: string[] = [];
    t.runner.on('event', (taskId, event) => taskId === id && committed.push(event.id));

    let emitting = true;
    const emitter = (async () => {
      for (let percent = 0; emitting; percent = (percent + 1) % 100) {
        running.job.progress(percent);
        await new Promise((r) => setTimeout(r, 4));
      }
    })();
    const clients: Array<[OpenStream, boolean]> = [];
    for (let i = 0; i < 24; i++) {
      await new Promise((r) => setTimeout(r, 15));
      const multiplexed = i % 3 === 2;
      const resumeFrom = i % 2 === 1 ? committed.at(-3) : undefined;
      const headers: Record<string, string> =
        resumeFrom === undefined ? {} : { 'Last-Event-ID': multiplexed ? `0=${resumeFrom}` : resumeFrom };
      clients.push([await open(multiplexed ? `/tasks/events?ids=${id}` : `/tasks/${id}/events`, headers), multiplexed]);
    }
    await new Promise((r) => setTimeout(r, 150));
    emitting = false;
    await emitter;
    for (const [stream, multiplexed] of clients) {
      const ids = taskIdsOf(stream.events, multiplexed);
      expect(ids.length).toBeGreaterThan(0);
      expectIncreasing(t.runner.store, ids, multiplexed ? 'a set stream' : 'a stream');
    }
  });
});

describe('RedisStore: clients joining while a task commits', () => {
  let web: TestApp;
  let worker: TestApp;
  let controlled: ReturnType<typeof defineControlled>;

  afterEach(async () => {
    await web.close();
    await worker.close();
  });

  async function start(historyLimit: number): Promise<{ id: string; running: ControlledJob; committed: string[] }> {
    const committed: string[] = [];
    worker = await startApp({
      runner: { store: new RedisStore({ url: REDIS_URL, keyPrefix }), historyLimit },
      define: (r) => (controlled = defineControlled(r)),
    });
    // A fresh process's store: its shared reader has not read anything yet.
    web = await startApp({ runner: { store: new RedisStore({ url: REDIS_URL, keyPrefix }), worker: false } });
    web.runner.define('controlled');
    const id = await startTask(worker.base, 'controlled');
    worker.runner.on('event', (taskId, event) => taskId === id && committed.push(event.id));
    return { id, running: await controlled.running(id), committed };
  }

  it('sends every event after the last one written, or a fresh status when the history no longer has them', async () => {
    const { id, running, committed } = await start(5);
    const stream = await openStream(`${web.base}/tasks/${id}/events`);
    await stream.waitForEvents(1);
    for (let i = 1; i <= 20; i++) running.job.progress(i * 5);
    // The stream reaches the last progress (as itself, or in a fresh status) before the task ends.
    await waitUntil(() => committed.length === 21, 5000, 'the commits');
    await waitUntil(() => stream.events.some((e) => e.id === committed.at(-1)), 5000, 'the last progress');
    running.complete('done');
    await stream.ended;
    const events = withoutHeartbeats(stream.events);
    expect(events.at(-1)?.event).toBe('complete');
    // The web instance may stream the end before the worker's own commit has resolved.
    await waitUntil(() => committed.includes(events.at(-1)!.id!), 5000, 'the worker to see its commit');
    // A resync is a reset (no id) and a fresh status; every other event has an id, unique and increasing.
    for (const reset of events.filter((e) => e.event === 'reset')) expect(reset.id).toBeUndefined();
    const stored = events.filter((e) => e.event !== 'reset');
    expectIncreasing(
      web.runner.store,
      stored.map((e) => e.id!),
      'the stream',
    );
    // Each event that is not a fresh status comes right after the one before it in commit order: no silent gap.
    for (let i = 1; i < stored.length; i++) {
      if (stored[i]!.event === 'status') continue;
      expect([stored[i]!.event, committed[committed.indexOf(stored[i]!.id!) - 1]]).toEqual([
        stored[i]!.event,
        stored[i - 1]!.id,
      ]);
    }
  });

  it('never repeats an event to short connections made while about 100 events/s are committed', async () => {
    const { id, running, committed } = await start(1000);
    let emitting = true;
    const emitter = (async () => {
      for (let percent = 0; emitting; percent = (percent + 1) % 100) {
        running.job.progress(percent);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await waitUntil(() => committed.length > 5, 5000, 'the first events');
    const failures: string[] = [];
    const connect = async (i: number): Promise<void> => {
      const multiplexed = i % 3 === 2;
      const resumeFrom = i % 2 === 1 ? committed.at(-2) : undefined;
      const headers: Record<string, string> =
        resumeFrom === undefined ? {} : { 'Last-Event-ID': multiplexed ? `0=${resumeFrom}` : resumeFrom };
      const path = multiplexed ? `/tasks/events?ids=${id}` : `/tasks/${id}/events`;
      const stream = await openStream(`${web.base}${path}`, headers);
      await new Promise((r) => setTimeout(r, 60 + (i % 5) * 20));
      stream.destroy();
      try {
        expectIncreasing(web.runner.store, taskIdsOf(stream.events, multiplexed), `connection ${i}`);
      } catch (error) {
        failures.push((error as Error).message);
      }
    };
    const batches: Array<Promise<void>> = [];
    for (let i = 0; i < 150; i++) {
      batches.push(connect(i));
      await new Promise((r) => setTimeout(r, 12));
    }
    await Promise.all(batches);
    emitting = false;
    await emitter;
    expect(failures).toEqual([]);
  });
});
