// A job's output (job.write) and custom events (job.emit) on the stream: one output event per event-loop turn,
// whole for a late joiner, replayed on resume, cleared by a retry, and checked at the door.
import { MemoryStore, type Job, type TaskEvent, type TaskRunner } from '../../src';
import { RedisStore } from '../../src/redis';
import { deferred, startApp, startTask, waitUntil, type TestApp } from '../helpers/app';
import { defineControlled, type ControlledJob } from '../helpers/controlled';
import { REDIS_URL, deleteKeys, uniquePrefix } from '../helpers/redis';
import { dataOf, openStream, withoutHeartbeats, type OpenStream, type ParsedEvent } from '../helpers/sse';
import { finished } from '../helpers/tasks';

const keyPrefix = uniquePrefix('output');
afterAll(() => deleteKeys(keyPrefix));

/** The whole text a client assembles from output events, placing each at its offset. */
function assemble(events: ParsedEvent[]): string {
  let text = '';
  for (const event of events.filter((e) => e.event === 'output')) {
    const { offset, text: chunk } = dataOf<{ offset: number; text: string }>(event);
    expect(offset).toBeLessThanOrEqual(text.length);
    text = text.slice(0, offset) + chunk;
  }
  return text;
}

/** The events the runner committed for each task, in order, but its `status` events. */
function recordEvents(runner: TaskRunner): (id: string) => TaskEvent[] {
  const events: Array<[string, TaskEvent]> = [];
  runner.on('event', (taskId, event) => events.push([taskId, event]));
  return (id) => events.filter(([taskId, event]) => taskId === id && event.event !== 'status').map(([, e]) => e);
}

describe.each([
  ['MemoryStore', () => new MemoryStore()],
  ['RedisStore', () => new RedisStore({ url: REDIS_URL, keyPrefix })],
])('%s: job output and custom events', (_name, makeStore) => {
  let t: TestApp;
  let controlled: ReturnType<typeof defineControlled>;
  const streams: OpenStream[] = [];

  beforeEach(async () => {
    t = await startApp({
      runner: { store: makeStore(), maxOutputBytes: 64, maxEventBytes: 100 },
      middleware: { heartbeatMs: 60_000 },
      define: (runner) => {
        controlled = defineControlled(runner);
        eventsOf = recordEvents(runner);
      },
    });
  });
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.destroy();
    await t.close();
  });
  let eventsOf: (id: string) => TaskEvent[];

  /** A running task, its job, and what it has committed so far but its statuses. */
  async function running(): Promise<[string, ControlledJob, () => TaskEvent[]]> {
    const id = await startTask(t.base, 'controlled');
    return [id, await controlled.running(id), () => eventsOf(id)];
  }
  async function open(path: string, headers: Record<string, string> = {}): Promise<OpenStream> {
    const stream = await openStream(`${t.base}${path}`, headers);
    streams.push(stream);
    return stream;
  }
  const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

  it('commits the writes of one event-loop turn as one output event, and those of another turn as another', async () => {
    const [, { job }, events] = await running();
    job.write('one ');
    job.write('');
    await Promise.resolve();
    job.write('turn');
    await settle();
    job.write(' later');
    await waitUntil(() => events().filter((e) => e.event === 'output').length === 2, 5000, 'two output events');
    expect(events().map((e) => JSON.parse(e.data) as unknown)).toEqual([
      { offset: 0, text: 'one turn' },
      { offset: 8, text: ' later' },
    ]);
    expect((await t.runner.get(job.id))?.outputLength).toBe(14);
  });

  it('keeps the order of the calls: output pending before a progress is committed before it', async () => {
    const [, { job, complete }, events] = await running();
    job.write('a');
    job.progress(50);
    job.write('b');
    job.emit('mark', { at: 1 });
    job.write('c');
    complete('done');
    await waitUntil(() => events().some((e) => e.event === 'complete'), 5000, 'the end');
    expect(events().map((e) => [e.event, e.event === 'output' ? dataOf(e).text : undefined])).toEqual([
      ['output', 'a'],
      ['progress', undefined],
      ['output', 'b'],
      ['mark', undefined],
      ['output', 'c'],
      ['complete', undefined],
    ]);
  });

  it('gives a late joiner its status, then the whole output without an id, then live output where it left off', async () => {
    const [id, { job, complete }] = await running();
    job.write('Once upon ');
    await settle();
    job.write('a time');
    await waitUntil(async () => (await t.runner.get(id))?.outputLength === 16, 5000, 'the output');
    const late = await open(`/tasks/${id}/events`);
    const [status, whole] = await late.waitForEvents(2);
    expect(status?.event).toBe('status');
    expect(dataOf(status).outputLength).toBe(16);
    expect(whole).toEqual({ event: 'output', id: undefined, data: '{"offset":0,"text":"Once upon a time"}' });
    job.write(', the end.');
    complete('done');
    await late.ended;
    expect(assemble(late.events)).toBe('Once upon a time, the end.');
    // Resuming from the status replays only what came after it.
    const resumed = await open(`/tasks/${id}/events`, { 'Last-Event-ID': status!.id! });
    await resumed.ended;
    expect(withoutHeartbeats(resumed.events).map((e) => e.event)).toEqual(['output', 'complete']);
    expect(dataOf(resumed.events[0]).offset).toBe(16);
  });

  it('gives a fresh connection to a finished task its whole output, then the terminal event, on every read route', async () => {
    const [id, { job, complete }] = await running();
    job.write('all of it');
    complete('done');
    await finished(t.runner, id);
    const fresh = await open(`/tasks/${id}/events`);
    await fresh.ended;
    expect(withoutHeartbeats(fresh.events).map((e) => [e.event, e.id === undefined])).toEqual([
      ['output', true],
      ['complete', false],
    ]);
    const set = await open(`/tasks/events?ids=${id}`);
    await set.ended;
    expect(set.events.map((e) => [e.event, dataOf(e).taskId, e.id === undefined])).toEqual([
      ['output', id, true],
      ['complete', id, false],
    ]);
    const poll = (await (await fetch(`${t.base}/tasks/${id}?wait=1`)).json()) as { events: object[] };
    expect(poll.events).toEqual([
      { event: 'output', data: { offset: 0, text: 'all of it' } },
      expect.objectContaining({ event: 'complete', id: expect.any(String) }),
    ]);
    const text = await fetch(`${t.base}/tasks/${id}/output`);
    expect([text.status, text.headers.get('content-type'), await text.text()]).toEqual([
      200,
      'text/plain; charset=utf-8',
      'all of it',
    ]);
    expect((await fetch(`${t.base}/tasks/nope/output`)).status).toBe(404);
  });

  it('says reset, on a long-poll too, when an after or Last-Event-ID cannot be replayed from', async () => {
    const [id, { job }] = await running();
    job.write('text');
    await waitUntil(async () => (await t.runner.get(id))?.outputLength === 4, 5000, 'the output');
    const stream = await open(`/tasks/${id}/events`, { 'Last-Event-ID': 'nope' });
    expect((await stream.waitForEvents(3)).map((e) => e.event)).toEqual(['reset', 'status', 'output']);
    const poll = (await (await fetch(`${t.base}/tasks/${id}?wait=1&after=nope`)).json()) as {
      reset?: boolean;
      events: Array<{ event: string }>;
    };
    expect([poll.reset, poll.events.map((e) => e.event)]).toEqual([true, ['status', 'output']]);
    const plain = (await (await fetch(`${t.base}/tasks/${id}?wait=1`)).json()) as { reset?: boolean };
    expect(plain.reset).toBeUndefined();
  });

  it('streams custom events by name, replays them, and adds taskId on a multiplexed stream', async () => {
    const [id, { job, complete }] = await running();
    const live = await open(`/tasks/${id}/events`);
    const set = await open(`/tasks/events?ids=${id}`);
    await live.waitForEvents(1);
    await set.waitForEvents(1);
    job.emit('source', { url: 'https://a.example', title: 'Q3 sales' });
    complete('done');
    await Promise.all([live.ended, set.ended]);
    const custom = live.events.find((e) => e.event === 'source');
    expect(dataOf(custom)).toEqual({ url: 'https://a.example', title: 'Q3 sales' });
    expect(dataOf(set.events.find((e) => e.event === 'source'))).toEqual({
      taskId: id,
      url: 'https://a.example',
      title: 'Q3 sales',
    });
    const replay = await open(`/tasks/${id}/events`, { 'Last-Event-ID': live.events[0]!.id! });
    await replay.ended;
    expect(withoutHeartbeats(replay.events).map((e) => e.event)).toEqual(['source', 'complete']);
  });

  it.each([
    ['a reserved name', () => ['progress', {}], TypeError, 'a name the stream does not use itself'],
    ['error, which EventSource owns', () => ['error', {}], TypeError, 'a name the stream does not use itself'],
    ['message', () => ['message', {}], TypeError, 'a name the stream does not use itself'],
    ['a name with a space', () => ['a b', {}], TypeError, 'a letter, then letters, digits or _ . : -'],
    ['a name of 65 characters', () => ['a'.repeat(65), {}], TypeError, '1 to 64 characters'],
    ['an array', () => ['rows', [1]], TypeError, 'a plain object'],
    ['a Date', () => ['when', new Date()], TypeError, 'a plain object'],
    ['a taskId key', () => ['mine', { taskId: 'x' }], TypeError, 'without a `taskId` key'],
    ['a BigInt', () => ['big', { n: 1n }], TypeError, 'JSON-serializable'],
    ['more than maxEventBytes', () => ['big', { pad: 'x'.repeat(100) }], RangeError, 'maxEventBytes (100)'],
  ] as const)('refuses an emit of %s, committing nothing', async (_what, args, type, message) => {
    const [, { job, complete }, events] = await running();
    const [name, data] = args() as unknown as [string, never];
    expect(() => job.emit(name, data)).toThrow(type);
    expect(() => job.emit(name, data)).toThrow(message);
    complete('done');
    await waitUntil(() => events().some((e) => e.event === 'complete'), 5000, 'the end');
    expect(events().map((e) => e.event)).toEqual(['complete']);
  });

  it('refuses a write past maxOutputBytes with a RangeError, appending nothing, and a non-string with a TypeError', async () => {
    const [id, { job }] = await running();
    job.write('é'.repeat(30)); // 60 bytes of the 64
    expect(() => job.write('abcde')).toThrow(RangeError); // 65 bytes
    expect(() => job.write('abcde')).toThrow('maxOutputBytes (64 bytes)');
    expect(() => job.write(42 as never)).toThrow(TypeError);
    job.write('ab');
    await waitUntil(async () => (await t.runner.get(id))?.outputLength === 32, 5000, 'the output');
    expect(await (await fetch(`${t.base}/tasks/${id}/output`)).text()).toBe(`${'é'.repeat(30)}ab`);
  });

  it('ignores writes and emits once the task has finished', async () => {
    const [id, { job }, events] = await running();
    await fetch(`${t.base}/tasks/${id}`, { method: 'DELETE' });
    await finished(t.runner, id);
    job.write('too late');
    job.emit('late', {});
    await settle();
    expect(events().map((e) => e.event)).toEqual(['cancelled']);
  });
});

describe('a retry', () => {
  let t: TestApp;
  afterEach(() => t.close());

  it('starts with empty output: outputLength 0 in its status, and its first output at offset 0', async () => {
    const [first, second] = [deferred(), deferred()];
    t = await startApp({
      define: (runner) =>
        runner.define(
          'flaky',
          async (job: Job) => {
            await (job.attempt === 1 ? first : second).promise;
            job.write(`attempt ${job.attempt}`);
            if (job.attempt === 1) throw new Error('try again');
            await new Promise((resolve) => setTimeout(resolve, 20));
            return 'ok';
          },
          { retries: 1, backoffMs: 0 },
        ),
    });
    const id = await startTask(t.base, 'flaky');
    const stream = await openStream(`${t.base}/tasks/${id}/events`);
    await stream.waitForEvents(1);
    first.resolve();
    await waitUntil(() => stream.events.some((e) => e.event === 'output'), 5000, 'the first attempt');
    second.resolve();
    await stream.ended;
    const events = withoutHeartbeats(stream.events);
    const retrying = events.find((e) => e.event === 'status' && dataOf(e).attempt === 2);
    expect(dataOf(retrying).outputLength).toBe(0);
    expect(events.filter((e) => e.event === 'output').map((e) => dataOf(e))).toEqual([
      { offset: 0, text: 'attempt 1' },
      { offset: 0, text: 'attempt 2' },
    ]);
    expect(assemble(events)).toBe('attempt 2');
    expect(await (await fetch(`${t.base}/tasks/${id}/output`)).text()).toBe('attempt 2');
  });
});
