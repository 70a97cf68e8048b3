import { startApp, postJson, type TestApp } from '../helpers/app';
import { defineControlled, type ControlledJob } from '../helpers/controlled';
import { dataOf, openStream, withoutHeartbeats, type OpenStream, type ParsedEvent } from '../helpers/sse';

const userOf = (ctx: { get(name: string): string }): string | undefined => ctx.get('X-User') || undefined;

/** `[taskId, event, percent?]` for each event: what a dashboard would draw. */
function summary(events: ParsedEvent[]): Array<[string, string, number?]> {
  return withoutHeartbeats(events).map((e) => {
    const data = dataOf<{ taskId: string; percent?: number }>(e);
    return data.percent === undefined ? [data.taskId, e.event!] : [data.taskId, e.event!, data.percent];
  });
}

describe('one stream for many tasks', () => {
  let t: TestApp;
  let controlled: ReturnType<typeof defineControlled>;
  const streams: OpenStream[] = [];

  beforeEach(async () => {
    t = await startApp({
      runner: { concurrency: 20 },
      middleware: {
        owner: userOf,
        authorize: (ctx, task) => task.type !== 'secret' && (task.owner === undefined || task.owner === userOf(ctx)),
      },
      define: (runner) => {
        controlled = defineControlled(runner);
        defineControlled(runner, 'secret');
      },
    });
  });
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.destroy();
    await t.close();
  });

  async function start(user = 'ada', type = 'controlled'): Promise<[string, ControlledJob]> {
    const response = await postJson(t.base, '/tasks', { type }, { 'X-User': user });
    const { id } = (await response.json()) as { id: string };
    return [id, type === 'controlled' ? await controlled.running(id) : (undefined as never)];
  }

  async function open(query: string, headers: Record<string, string> = { 'X-User': 'ada' }): Promise<OpenStream> {
    const stream = await openStream(`${t.base}/tasks/events${query}`, headers);
    streams.push(stream);
    return stream;
  }

  describe('GET /tasks/events?ids=', () => {
    it('carries every task’s events under their own names, each with taskId, and ends when all have ended', async () => {
      const [[a, jobA], [b, jobB]] = [await start(), await start()];
      const stream = await open(`?ids=${a},${b}`);
      expect(stream.status).toBe(200);
      expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      await stream.waitForEvents(2);
      jobA.job.progress(10);
      jobB.job.progress(20);
      await stream.waitForEvents(4);
      jobB.complete('b');
      jobA.fail(new Error('nope'));
      await stream.ended;
      const firsts = summary(stream.events).slice(0, 2);
      expect(firsts).toHaveLength(2);
      expect(firsts).toEqual(
        expect.arrayContaining([
          [a, 'status'],
          [b, 'status'],
        ]),
      );
      expect(summary(stream.events).slice(2)).toEqual([
        [a, 'progress', 10],
        [b, 'progress', 20],
        [b, 'complete'],
        [a, 'failed'],
      ]);
      const failed = dataOf<{ taskId: string; id: string; error: { message: string } }>(stream.events.at(-1));
      expect(failed).toMatchObject({ taskId: a, id: a, status: 'failed', error: { message: 'nope' } });
      // Every id carries a position for each task seen so far.
      expect(new URLSearchParams(stream.events.at(-1)!.id).get('0')).toMatch(/^\d+$/);
      expect(new URLSearchParams(stream.events.at(-1)!.id).get('1')).toMatch(/^\d+$/);
    });

    it('resumes the whole set from Last-Event-ID with no gap and no duplicate', async () => {
      const [[a, jobA], [b, jobB], [c, jobC]] = [await start(), await start(), await start()];
      const first = await open(`?ids=${a},${b},${c}`);
      await first.waitForEvents(3);
      jobA.job.progress(1);
      jobB.job.progress(1);
      await first.waitForEvents(5);
      first.destroy();
      const lastId = first.events.filter((e) => e.event !== 'heartbeat').at(-1)!.id!;
      // While the client is away: more for a and b, c ends.
      jobA.job.progress(2);
      jobB.job.progress(2);
      jobA.job.progress(3);
      jobC.complete('c');
      await new Promise((r) => setTimeout(r, 50));
      const second = await open(`?ids=${a},${b},${c}`, { 'X-User': 'ada', 'Last-Event-ID': lastId });
      await second.waitForEvents(4);
      jobA.complete('a');
      jobB.complete('b');
      await second.ended;
      expect(summary(second.events)).toEqual([
        [a, 'progress', 2],
        [a, 'progress', 3],
        [b, 'progress', 2],
        [c, 'complete'],
        [a, 'complete'],
        [b, 'complete'],
      ]);
      // Reconnecting with the last id of a set that has ended: 204, so EventSource stops.
      const third = await open(`?ids=${a},${b},${c}`, { 'X-User': 'ada', 'Last-Event-ID': second.events.at(-1)!.id! });
      expect(third.status).toBe(204);
    });

    it.each([
      ['malformed', 'nonsense', ['reset', 'status'], ['reset', 'status']],
      ['too long', 'x'.repeat(9000), ['reset', 'status'], ['reset', 'status']],
      // An unknown position resets its task; an empty one means nothing was sent for it yet: a fresh start.
      ['with an unknown and an empty position', '0=abc&1=', ['reset', 'status'], ['status']],
      // The first of a repeated key counts (0=1 replays task a after its first event); a missing key resets b.
      ['with repeated or foreign keys', '0=1&0=2&5=7', ['status'], ['reset', 'status']],
    ])('resets each task a Last-Event-ID cannot resume, then starts it afresh (%s)', async (_, lastId, forA, forB) => {
      const [[a], [b]] = [await start(), await start()];
      const stream = await open(`?ids=${a},${b}`, { 'X-User': 'ada', 'Last-Event-ID': lastId });
      expect(stream.status).toBe(200);
      await stream.waitForEvents(forA.length + forB.length);
      const events = summary(stream.events);
      expect(events.filter(([task]) => task === a).map(([, name]) => name)).toEqual(forA);
      expect(events.filter(([task]) => task === b).map(([, name]) => name)).toEqual(forB);
      // A reset never carries an id: it moves no position.
      for (const reset of withoutHeartbeats(stream.events).filter((e) => e.event === 'reset')) {
        expect(reset.id).toBeUndefined();
      }
    });

    it.each([
      ['?ids=', 400],
      ['?ids=a,a', 400],
      ['?ids=a,,b', 400],
      [`?ids=${Array.from({ length: 101 }, (_, i) => `t${i}`).join(',')}`, 400],
      ['?ids=00000000-0000-4000-8000-000000000000', 404],
    ])('answers GET /tasks/events%s with %d', async (query, status) => {
      const response = await fetch(`${t.base}/tasks/events${query}`);
      expect(response.status).toBe(status);
    });

    it('applies authorize to each task: one task the caller may not see is a 403', async () => {
      const [[mine], [theirs]] = [await start('ada'), await start('bob')];
      expect((await open(`?ids=${mine},${theirs}`)).status).toBe(403);
      expect((await open(`?ids=${mine}`)).status).toBe(200);
    });
  });

  describe('GET /tasks/events (the owner feed)', () => {
    it('carries all the owner’s tasks, those started later too, and no one else’s; it stays open', async () => {
      const [done, doneJob] = await start();
      doneJob.complete('early');
      const [running, runningJob] = await start();
      await start('bob');
      await start('ada', 'secret'); // authorize refuses it
      const feed = await open('');
      expect(feed.status).toBe(200);
      await feed.waitForEvents(2);
      const [later, laterJob] = await start();
      await feed.waitForEvents(3);
      runningJob.job.progress(50);
      laterJob.complete('late');
      runningJob.complete('done');
      await feed.waitForEvents(6);
      await new Promise((r) => setTimeout(r, 100));
      expect(summary(feed.events)).toEqual([
        [done, 'complete'],
        [running, 'status'],
        [later, 'status'],
        [running, 'progress', 50],
        [later, 'complete'],
        [running, 'complete'],
      ]);
      expect(feed.hasEnded()).toBe(false);
    });

    it('resumes with no gap and no duplicate, and brings the tasks started meanwhile', async () => {
      const [finished, finishedJob] = await start();
      const [a, jobA] = await start();
      finishedJob.complete('x');
      const first = await open('');
      await first.waitForEvents(2);
      jobA.job.progress(10);
      await first.waitForEvents(3);
      first.destroy();
      const lastId = first.events.filter((e) => e.event !== 'heartbeat').at(-1)!.id!;
      jobA.job.progress(20);
      const [b] = await start();
      jobA.complete('a');
      await new Promise((r) => setTimeout(r, 50));
      const second = await open('', { 'X-User': 'ada', 'Last-Event-ID': lastId });
      await second.waitForEvents(3);
      await new Promise((r) => setTimeout(r, 100));
      expect(summary(second.events)).toEqual([
        [a, 'progress', 20],
        [a, 'complete'],
        [b, 'status'],
      ]);
      expect(summary(first.events)[0]).toEqual([finished, 'complete']);
    });

    it('needs the owner option (400) and a caller it names (401)', async () => {
      expect((await fetch(`${t.base}/tasks/events`)).status).toBe(401);
      const plain = await startApp();
      try {
        const response = await fetch(`${plain.base}/tasks/events`);
        expect(response.status).toBe(400);
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe('ids_required');
      } finally {
        await plain.close();
      }
    });
  });
});
