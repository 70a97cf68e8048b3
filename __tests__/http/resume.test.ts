import { MemoryStore, type TaskEvent, type TaskRecord, type TaskRecordWithOutput } from '../../src';
import { deferred, type TestApp } from '../helpers/app';
import { startWithRunningTask, type ControlledJob } from '../helpers/controlled';
import { dataOf, openStream, withoutHeartbeats, type ParsedEvent } from '../helpers/sse';

/** A memory store whose reads can be held open, so a test can commit events while a replay is being written. */
class HeldStore extends MemoryStore {
  /** While set, a replay read waits for `until` before or after reading. */
  holdReplay: { when: 'before' | 'after'; until: Promise<void> } | undefined;
  /** While set, the `skip + 1`-th catch-up read from now waits for `until` before or after reading. */
  holdRead: { skip: number; when: 'before' | 'after'; until: Promise<void> } | undefined;
  reading = deferred();

  override async eventsAfter(taskId: string, afterId: string): Promise<TaskEvent[] | undefined> {
    const hold = this.holdReplay;
    this.holdReplay = undefined;
    if (hold?.when === 'before') {
      this.reading.resolve();
      await hold.until;
    }
    const events = await super.eventsAfter(taskId, afterId);
    if (hold?.when === 'after') {
      this.reading.resolve();
      await hold.until;
    }
    return events;
  }

  /** The catch-up's read of a fresh start (the access check reads with `read`, which is never held). */
  override async readWithOutput(taskId: string): Promise<TaskRecordWithOutput | undefined> {
    const hold = this.holdRead !== undefined && this.holdRead.skip-- === 0 ? this.holdRead : undefined;
    if (hold !== undefined) this.holdRead = undefined;
    if (hold?.when === 'before') {
      this.reading.resolve();
      await hold.until;
    }
    const record = await super.readWithOutput(taskId);
    if (hold?.when === 'after') {
      this.reading.resolve();
      await hold.until;
    }
    return record;
  }

  /** A read that never waits, for the test itself. */
  peek(taskId: string): Promise<TaskRecord | undefined> {
    return super.read(taskId);
  }
}

/** Progress percents of a list of events, in order. */
function percents(events: ParsedEvent[]): number[] {
  return events.filter((e) => e.event === 'progress').map((e) => dataOf<{ percent: number }>(e).percent);
}

describe('resuming with Last-Event-ID', () => {
  let t: TestApp;
  let store: HeldStore;
  let id: string;
  let running: ControlledJob;

  beforeEach(async () => {
    store = new HeldStore();
    ({ t, id, running } = await startWithRunningTask(store));
  });
  afterEach(() => t.close());

  async function progressTo(from: number, to: number): Promise<void> {
    for (let p = from; p <= to; p++) running.job.progress(p);
    for (let i = 0; i < 200 && (await store.peek(id))?.snapshot.progress !== to; i++)
      await new Promise((r) => setTimeout(r, 5));
  }

  async function idOfProgress(percent: number): Promise<string> {
    const events = await store.eventsAfter(id, '1');
    const event = events?.find((e) => e.event === 'progress' && JSON.parse(e.data).percent === percent);
    if (!event) throw new Error(`no progress ${percent}`);
    return event.id;
  }

  it.each([
    ['the Last-Event-ID header', (last: string) => ['', { 'Last-Event-ID': last }] as const],
    ['the lastEventId query parameter', (last: string) => [`?lastEventId=${last}`, {}] as const],
  ])('replays exactly the events after the id given by %s, then continues live', async (_, how) => {
    await progressTo(1, 10);
    const [query, headers] = how(await idOfProgress(4));
    const stream = await openStream(`${t.base}/tasks/${id}/events${query}`, headers);
    await stream.waitForEvents(6);
    running.job.progress(11);
    running.complete();
    await stream.ended;
    const events = withoutHeartbeats(stream.events);
    expect(percents(events)).toEqual([5, 6, 7, 8, 9, 10, 11]);
    expect(events.map((e) => e.event)).toEqual([...Array(7).fill('progress'), 'complete']);
  });

  it('replays a long history whole, larger than what a stream buffers, without coalescing any of it', async () => {
    await progressTo(1, 1);
    const last = await idOfProgress(1);
    // 47 frames of ~4 KB (history keeps them all: 50 events, 256 KiB): the replay is ~3x what a stream buffers.
    for (let p = 2; p <= 48; p++) running.job.progress(p, 'y'.repeat(4_000));
    await progressTo(49, 49);
    const stream = await openStream(`${t.base}/tasks/${id}/events`, { 'Last-Event-ID': last });
    await stream.waitForEvents(48);
    expect(percents(stream.events)).toEqual(Array.from({ length: 48 }, (_, i) => i + 2));
    stream.destroy();
  });

  it('prefers the header over the query parameter', async () => {
    await progressTo(1, 5);
    const stream = await openStream(`${t.base}/tasks/${id}/events?lastEventId=${await idOfProgress(1)}`, {
      'Last-Event-ID': await idOfProgress(3),
    });
    await stream.waitForEvents(2);
    expect(percents(stream.events)).toEqual([4, 5]);
    stream.destroy();
  });

  it.each([
    ['after the replay was read, before it is written', 'after'],
    ['after the client subscribed, before the replay is read', 'before'],
  ] as const)('has no gap and no duplicate when events are committed %s', async (_, when) => {
    await progressTo(1, 5);
    const last = await idOfProgress(2);
    const release = deferred();
    store.holdReplay = { when, until: release.promise };
    const opening = openStream(`${t.base}/tasks/${id}/events`, { 'Last-Event-ID': last });
    await store.reading.promise;
    await progressTo(6, 9);
    release.resolve();
    const stream = await opening;
    await stream.waitForEvents(7);
    running.complete();
    await stream.ended;
    expect(percents(stream.events)).toEqual([3, 4, 5, 6, 7, 8, 9]);
  });

  it('has no gap and no duplicate for a fresh connection while events are committed after its snapshot was read', async () => {
    await progressTo(1, 3);
    const release = deferred();
    store.holdRead = { skip: 0, when: 'after', until: release.promise };
    const opening = openStream(`${t.base}/tasks/${id}/events`);
    await store.reading.promise;
    await progressTo(4, 6);
    release.resolve();
    const stream = await opening;
    const events = await stream.waitForEvents(4);
    expect(events[0]?.event).toBe('status');
    expect(dataOf(events[0]).progress).toBe(3);
    expect(percents(events)).toEqual([4, 5, 6]);
    stream.destroy();
  });

  it('has no gap and no duplicate for a fresh connection while events are committed before its snapshot is read', async () => {
    await progressTo(1, 3);
    const release = deferred();
    store.holdRead = { skip: 0, when: 'before', until: release.promise };
    const opening = openStream(`${t.base}/tasks/${id}/events`);
    await store.reading.promise;
    await progressTo(4, 6);
    release.resolve();
    const stream = await opening;
    const [status] = await stream.waitForEvents(1);
    expect(dataOf(status).progress).toBe(6);
    expect(status?.id).toBe((await store.peek(id))?.lastEventId);
    running.job.progress(7);
    const events = await stream.waitForEvents(2);
    expect(percents(events)).toEqual([7]);
    stream.destroy();
  });

  it.each([
    ['too old for the history', async () => (await progressTo(1, 80), '2')],
    ['not issued yet', async () => '999999'],
    ['malformed', async () => 'not-an-id'],
    ['oversized', async () => '9'.repeat(10_000)],
  ])('answers an id %s with 200, a reset and a fresh status', async (_, lastId) => {
    const last = await lastId();
    const stream = await openStream(`${t.base}/tasks/${id}/events`, { 'Last-Event-ID': last });
    expect(stream.status).toBe(200);
    const [reset, status] = await stream.waitForEvents(2);
    // The reset has no id: it never moves the client's last id.
    expect(reset).toEqual({ event: 'reset', id: undefined, data: '{}' });
    expect(status?.event).toBe('status');
    expect(status?.id).toBe((await store.read(id))?.lastEventId);
    stream.destroy();
  });

  it('replays the end of a finished task to a client that missed it, then ends', async () => {
    await progressTo(1, 3);
    const last = await idOfProgress(2);
    running.complete('done');
    for (let i = 0; i < 100 && (await store.read(id))?.snapshot.status !== 'completed'; i++)
      await new Promise((r) => setTimeout(r, 5));
    const stream = await openStream(`${t.base}/tasks/${id}/events`, { 'Last-Event-ID': last });
    await stream.ended;
    expect(stream.events.map((e) => e.event)).toEqual(['progress', 'complete']);
    expect(dataOf(stream.events[1]).result).toBe('done');
  });
});
