import { MemoryStore } from '../../src';
import { startApp, startTask, waitUntil, type TestApp } from '../helpers/app';
import { defineControlled } from '../helpers/controlled';
import { dataOf, openStream } from '../helpers/sse';

/** Counts the intervals and timeouts created and not yet cleared or fired, through spies that call the real functions. */
const live = new Set<unknown>();
function trackTimers(): void {
  const realSetInterval = global.setInterval;
  const realClearInterval = global.clearInterval;
  jest.spyOn(global, 'setInterval').mockImplementation((...args: Parameters<typeof setInterval>) => {
    const timer = realSetInterval(...args);
    live.add(timer);
    return timer;
  });
  jest.spyOn(global, 'clearInterval').mockImplementation(((timer: NodeJS.Timeout) => {
    live.delete(timer);
    realClearInterval(timer);
  }) as typeof clearInterval);
}
function timers(): number {
  return live.size;
}

describe('resources per connection', () => {
  let t: TestApp;
  let store: MemoryStore;
  let controlled: ReturnType<typeof defineControlled>;

  beforeEach(async () => {
    trackTimers();
    store = new MemoryStore();
    t = await startApp({
      runner: { store },
      middleware: { heartbeatMs: 20 },
      define: (runner) => (controlled = defineControlled(runner)),
    });
  });
  afterEach(async () => {
    await t.close();
    jest.restoreAllMocks();
  });

  it('releases subscriptions, heartbeat timers and listeners when 100 clients drop', async () => {
    const ids = [await startTask(t.base, 'controlled'), await startTask(t.base, 'controlled')];
    const jobs = await Promise.all(ids.map((id) => controlled.running(id)));
    const timersBefore = timers();
    const runnerListeners = t.runner.listenerCount('event');

    const streams = await Promise.all(
      Array.from({ length: 100 }, (_, i) => openStream(`${t.base}/tasks/${ids[i % 2]}/events`)),
    );
    await Promise.all(streams.map((s) => s.waitForEvents(1)));
    expect(store.subscriptionCount).toBe(2); // one per followed task, not per client
    expect(timers()).toBe(timersBefore + 1); // one heartbeat timer for every stream
    await Promise.all(streams.map((s) => s.waitForEvents(1, { heartbeats: true })));

    streams.forEach((s) => s.destroy());
    await waitUntil(() => store.subscriptionCount === 0, 3000, 'subscriptions to be released');
    await waitUntil(() => timers() === timersBefore, 3000, 'the heartbeat timer to stop');
    expect(t.runner.listenerCount('event')).toBe(runnerListeners);
    jobs.forEach((j) => j.job.progress(50)); // events after everyone left go nowhere, and break nothing
    // The marker: a new stream gets that progress, so it was committed and fanned out (to no one) before.
    const after = await openStream(`${t.base}/tasks/${ids[0]}/events`);
    expect(dataOf((await after.waitForEvents(1))[0])).toMatchObject({ progress: 50 });
    after.destroy();
    await waitUntil(() => store.subscriptionCount === 0, 3000, 'the last subscription to be released');
    expect(t.errors).toEqual([]);
  });

  it('releases everything when 100 streams end with their task', async () => {
    const id = await startTask(t.base, 'controlled');
    const { complete } = await controlled.running(id);
    const timersBefore = timers();
    const streams = await Promise.all(Array.from({ length: 100 }, () => openStream(`${t.base}/tasks/${id}/events`)));
    await Promise.all(streams.map((s) => s.waitForEvents(1)));
    complete();
    await Promise.all(streams.map((s) => s.ended));
    expect(streams.every((s) => s.events.filter((e) => e.event !== 'heartbeat').at(-1)?.event === 'complete')).toBe(
      true,
    );
    await waitUntil(() => store.subscriptionCount === 0 && timers() <= timersBefore, 3000, 'release');
    expect(t.errors).toEqual([]);
  });

  it('releases the subscription of a client that leaves while it is still catching up', async () => {
    const id = await startTask(t.base, 'controlled');
    await controlled.running(id);
    for (let round = 0; round < 20; round++) {
      const stream = await openStream(`${t.base}/tasks/${id}/events`);
      stream.destroy();
    }
    await waitUntil(() => store.subscriptionCount === 0, 3000, 'subscriptions to be released');
    expect(t.errors).toEqual([]);
  });
});
