// The fan-out gives a live event to at most SLICE streams per turn of the event loop, so a process that follows a
// task with thousands of streams still accepts connections (one per turn since libuv 1.45), runs timers and answers
// requests while it writes; each stream still gets its events in order, a burst in one write.
import { setImmediate as realTurn } from 'node:timers/promises';
import { FanOut, MAX_WAITING, SLICE, type Recipient } from '../../src/streams/fan-out';
import { TaskFeeds, type OutgoingEvent, type TaskOutput } from '../../src/streams/feeds';
import { randomUUID } from 'node:crypto';
import { MemoryStore, RUNNER_DEFAULTS, type CommitLimits, type TaskEvent, type TaskSnapshot } from '../../src';

let turn = 0;
/** Counts turns of the event loop while a test runs: the value tells which turn a delivery happened in. */
function countTurns(): () => void {
  let stopped = false;
  turn = 0;
  const next = (): void => {
    turn++;
    if (!stopped) setImmediate(next);
  };
  setImmediate(next);
  return () => {
    stopped = true;
  };
}

class Stream implements Recipient {
  readonly got: Array<{ id: string; turn: number }> = [];
  throws = false;
  receive(event: TaskEvent): void {
    if (this.throws) throw new Error('boom');
    this.got.push({ id: event.id, turn });
  }
}

const event = (id: number): TaskEvent => ({ id: String(id), event: 'progress', data: `{"percent":${id}}` });
const frame = Buffer.from('');
const streams = (n: number): Set<Stream> => new Set(Array.from({ length: n }, () => new Stream()));
/** Resolves after the fan-out has had `n` more turns. */
const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await realTurn();
};

describe('FanOut', () => {
  let stop: () => void = () => {};
  afterEach(() => stop());

  it('gives an event to a few streams at once, in the same call', () => {
    const fanOut = new FanOut(() => {});
    const few = streams(SLICE);
    fanOut.deliver(few, event(1), frame);
    for (const stream of few) expect(stream.got.map((g) => g.id)).toEqual(['1']);
  });

  it('gives an event to many streams a slice per turn of the event loop, until every one has it', async () => {
    stop = countTurns();
    const fanOut = new FanOut(() => {});
    const many = streams(SLICE * 10 + 5);
    fanOut.deliver(many, event(1), frame);
    const had = (): number => [...many].filter((s) => s.got.length > 0).length;
    expect(had()).toBe(0); // all of it waits: the call that committed the event is not held for 325 writes
    await turns(1);
    expect(had()).toBe(SLICE);
    await turns(12);
    expect(had()).toBe(many.size);
    const byTurn = new Map<number, number>();
    for (const { got } of many) byTurn.set(got[0]!.turn, (byTurn.get(got[0]!.turn) ?? 0) + 1);
    expect(Math.max(...byTurn.values())).toBe(SLICE);
    expect(byTurn.size).toBe(11);
  });

  it("gives each stream a burst's events in order, all in one turn (one write when the turn ends)", async () => {
    stop = countTurns();
    const fanOut = new FanOut(() => {});
    const many = streams(200);
    for (let id = 1; id <= 10; id++) fanOut.deliver(many, event(id), frame);
    await turns(20);
    for (const stream of many) {
      expect(stream.got.map((g) => g.id)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
      expect(new Set(stream.got.map((g) => g.turn)).size).toBe(1);
    }
  });

  it('delivers everything at once past MAX_WAITING deliveries waiting, holding a faster producer back', () => {
    const fanOut = new FanOut(() => {});
    const many = streams(1000);
    const events = MAX_WAITING / many.size;
    for (let id = 1; id <= events; id++) fanOut.deliver(many, event(id), frame);
    expect([...many].every((s) => s.got.length === 0)).toBe(true);
    fanOut.deliver(many, event(events + 1), frame);
    for (const stream of many) expect(stream.got).toHaveLength(events + 1);
  });

  it('keeps order across feeds and events that come while a delivery is under way', async () => {
    const fanOut = new FanOut(() => {});
    const a = streams(100);
    const b = streams(3);
    fanOut.deliver(a, event(1), frame);
    fanOut.deliver(b, event(1), frame);
    await turns(1);
    fanOut.deliver(a, event(2), frame); // a's first delivery is half done
    fanOut.deliver(b, event(2), frame);
    await turns(20);
    for (const stream of [...a, ...b]) expect(stream.got.map((g) => g.id)).toEqual(['1', '2']);
  });

  it('skips a stream that left before its turn came, and gives a stream that joined meanwhile the event', async () => {
    const fanOut = new FanOut(() => {});
    const many = streams(SLICE * 3);
    fanOut.deliver(many, event(1), frame);
    await turns(1);
    const left = [...many].at(-1)!;
    many.delete(left);
    const joined = new Stream();
    many.add(joined);
    await turns(5);
    expect(left.got).toEqual([]);
    expect(joined.got.map((g) => g.id)).toEqual(['1']);
  });

  it('reports a stream that throws and still gives the others the event', async () => {
    const errors: unknown[] = [];
    const fanOut = new FanOut((error) => errors.push(error));
    const many = streams(SLICE * 2);
    const thrower = [...many][0]!;
    thrower.throws = true;
    fanOut.deliver(many, event(1), frame);
    await turns(5);
    expect(errors).toEqual([new Error('boom')]);
    expect([...many].filter((s) => s.got.length === 1)).toHaveLength(many.size - 1);
  });

  it("keeps delivering under a test's fake timers (it takes the real setImmediate)", async () => {
    jest.useFakeTimers();
    try {
      const fanOut = new FanOut(() => {});
      const many = streams(SLICE * 4);
      fanOut.deliver(many, event(1), frame);
      await turns(6);
      expect([...many].every((s) => s.got.length === 1)).toBe(true);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('TaskFeeds on the fan-out', () => {
  it('does not hold a commit for every stream of a task: they get its events over the next turns, in order', async () => {
    const store = new MemoryStore();
    const feeds = new TaskFeeds(store, (error) => {
      throw error;
    });
    const id = randomUUID();
    const limits: CommitLimits = { historyLimit: 100, maxHistoryBytes: RUNNER_DEFAULTS.maxHistoryBytes, ttlMs: 60_000 };
    const now = new Date().toISOString();
    const snapshot = (progress: number): TaskSnapshot => ({
      id,
      type: 'report',
      status: 'running',
      progress,
      outputLength: 0,
      createdAt: now,
      updatedAt: now,
    });
    const commit = (percent: number): Promise<TaskEvent> =>
      store.commit(snapshot(percent), { event: 'progress', data: `{"percent":${percent}}` }, limits);
    await commit(0);
    const outputs = Array.from({ length: 200 }, () => {
      const sent: OutgoingEvent[] = [];
      const output: TaskOutput = { closed: false, send: (e) => void sent.push(e), gone: () => {} };
      return { sent, output };
    });
    const leaves = await Promise.all(outputs.map(({ output }) => feeds.follow(id, undefined, output)));
    const before = outputs.map(({ sent }) => sent.length);
    await commit(10);
    await commit(20);
    const already = outputs.filter(({ sent }, i) => sent.length > before[i]!).length;
    expect(already).toBeLessThan(outputs.length);
    await turns(20);
    for (const [i, { sent }] of outputs.entries()) {
      expect(sent.slice(before[i]).map((e) => e.data)).toEqual(['{"percent":10}', '{"percent":20}']);
    }
    for (const leave of leaves) leave();
    await store.close();
  });
});
