// A writing job followed from two instances sharing a store (Redis, PostgreSQL; a worker runs it, two web instances
// serve it): each client assembles exactly the worker's output, a late joiner on either instance gets the whole text
// so far, and custom events arrive once on both.
import { startApp, startTask, waitUntil, type TestApp } from '../helpers/app';
import { defineControlled, type ControlledJob } from '../helpers/controlled';
import { SHARED_STORES } from '../helpers/shared-stores';
import { dataOf, openStream, withoutHeartbeats, type OpenStream, type ParsedEvent } from '../helpers/sse';

function assemble(events: ParsedEvent[]): string {
  let text = '';
  for (const event of events.filter((e) => e.event === 'output')) {
    const { offset, text: chunk } = dataOf<{ offset: number; text: string }>(event);
    text = text.slice(0, offset) + chunk;
  }
  return text;
}

describe.each(SHARED_STORES)('job output across instances sharing a %s', (_name, shared) => {
  const { open: openStore, cleanUp } = shared('output');
  let worker: TestApp;
  let webs: TestApp[];
  let controlled: ReturnType<typeof defineControlled>;
  const streams: OpenStream[] = [];

  beforeAll(async () => {
    worker = await startApp({
      runner: { store: await openStore() },
      define: (runner) => (controlled = defineControlled(runner)),
    });
    webs = await Promise.all(
      [1, 2].map(async () =>
        startApp({
          runner: { store: await openStore(), worker: false },
          define: (runner) => runner.define('controlled'),
        }),
      ),
    );
  });
  afterAll(async () => {
    for (const stream of streams) stream.destroy();
    await Promise.all([worker, ...webs].map((app) => app.close()));
    await cleanUp();
  });

  async function open(app: TestApp, path: string): Promise<OpenStream> {
    const stream = await openStream(`${app.base}${path}`);
    streams.push(stream);
    return stream;
  }

  it('gives every client on every instance the worker’s text, whole for late joiners', async () => {
    const id = await startTask(webs[0]!.base, 'controlled');
    const running: ControlledJob = await controlled.running(id);
    const early = await open(webs[0]!, `/tasks/${id}/events`);
    await early.waitForEvents(1);
    const words = Array.from({ length: 60 }, (_, i) => `word${i} `);
    for (const [i, word] of words.entries()) {
      running.job.write(word);
      if (i % 7 === 0) await new Promise((r) => setTimeout(r, 3)); // several turns: several output events
      if (i === 20) running.job.emit('source', { n: 1 });
    }
    const expected = words.join('');
    await waitUntil(async () => (await worker.runner.get(id))?.outputLength === expected.length, 5000, 'the output');
    const late = await open(webs[1]!, `/tasks/${id}/events`);
    const set = await open(webs[1]!, `/tasks/events?ids=${id}`);
    await late.waitForEvents(2);
    running.job.write('the end');
    running.complete('done');
    await Promise.all([early.ended, late.ended, set.ended]);
    for (const stream of [early, late, set]) {
      expect(assemble(withoutHeartbeats(stream.events))).toBe(`${expected}the end`);
    }
    // The late joiner's catch-up: its status, then the whole text at once, without an id.
    expect(late.events[1]).toMatchObject({ event: 'output', id: undefined });
    expect(dataOf(late.events[1])).toEqual({ offset: 0, text: expected });
    expect(early.events.filter((e) => e.event === 'source')).toHaveLength(1);
    expect(late.events.filter((e) => e.event === 'source')).toHaveLength(0); // before it joined: in the snapshot's past
    expect(await (await fetch(`${webs[1]!.base}/tasks/${id}/output`)).text()).toBe(`${expected}the end`);
  });
});
