import http from 'node:http';
import compress from 'koa-compress';
import { startApp, startTask, waitUntil, type TestApp } from '../helpers/app';
import { defineControlled, type ControlledJob } from '../helpers/controlled';
import { freePort, readmeNginx, startNginx, type Nginx } from '../helpers/nginx';
import { startInstance, type Instance } from '../helpers/processes';
import { REDIS_URL, deleteKeys, uniquePrefix } from '../helpers/redis';
import { dataOf, openStream, type OpenStream } from '../helpers/sse';

/** The bound: an event reaches the client within this long of `job.progress()`. */
const PROMPT_MS = 500;

/** Emits `count` progress events, one at a time, and returns how long each took to reach `stream`. */
async function delays(job: ControlledJob, stream: OpenStream, count: number): Promise<number[]> {
  const taken: number[] = [];
  for (let i = 1; i <= count; i++) {
    const before = stream.events.filter((e) => e.event === 'progress').length;
    const emitted = performance.now();
    job.job.progress(i * 10, `step ${i} ${'é'.repeat(i)}`);
    await waitUntil(() => stream.events.filter((e) => e.event === 'progress').length > before, 5_000, `event ${i}`);
    taken.push(performance.now() - emitted);
    await new Promise((r) => setTimeout(r, 50));
  }
  return taken;
}

describe('behind nginx, with its default proxy_buffering on', () => {
  let app: TestApp;
  let controlled: ReturnType<typeof defineControlled>;
  let nginx: Nginx;

  beforeAll(async () => {
    app = await startApp({ define: (runner) => (controlled = defineControlled(runner)) });
    nginx = await startNginx(readmeNginx([new URL(app.base).host]));
  });

  afterAll(async () => {
    await nginx.stop();
    await app.close();
  });

  it(`delivers each event through nginx within ${PROMPT_MS} ms of its emission`, async () => {
    const base = nginx.base;
    const id = await startTask(base, 'controlled');
    const job = await controlled.running(id);
    const stream = await openStream(`${base}/tasks/${id}/events`);
    expect(stream.status).toBe(200);
    await stream.waitForEvents(1);
    const taken = await delays(job, stream, 5);
    for (const ms of taken) expect(ms).toBeLessThan(PROMPT_MS);
    job.complete({ ok: true });
    await stream.ended;
    expect(stream.events.at(-1)?.event).toBe('complete');
    expect(dataOf(stream.events.filter((e) => e.event === 'progress')[4])).toEqual({
      percent: 50,
      message: `step 5 ${'é'.repeat(5)}`,
    });
  });
});

/** How many new streams each check opens through nginx after a crash (the issue saw 38 of 39 get 502). */
const RECONNECTS = 20;

describe('behind nginx, two instances sharing a RedisStore, one killed at a time', () => {
  const keyPrefix = uniquePrefix('nginx-failover');
  const instances: Instance[] = [];
  const streams: OpenStream[] = [];
  const ports = { A: 0, B: 0 };
  let nginx: Nginx;
  const web: Partial<Record<keyof typeof ports, Instance>> = {};
  /** Starts web instance `name` on its port (the one nginx knows it by). */
  const startWeb = async (name: keyof typeof ports): Promise<void> => {
    const env = { ROLE: 'web', REDIS_URL, KEY_PREFIX: keyPrefix, PORT: String(ports[name]), INSTANCE_NAME: name };
    const instance = await startInstance(env);
    instances.push(instance);
    web[name] = instance;
  };
  /** Opens a stream of task `id` through nginx: `200 A` and its first events, or `502 -` (no instance answered). */
  const follow = async (id: string): Promise<string> => {
    const stream = await openStream(`${nginx.base}/tasks/${id}/events`);
    streams.push(stream);
    if (stream.status !== 200) return `${stream.status} -`;
    await waitUntil(() => stream.events.some((e) => e.event === 'progress'), 5_000, 'a progress event');
    expect(stream.events[0]?.event).toBe('status'); // the snapshot, then live events
    return `${stream.status} ${String(stream.headers['x-instance'])}`;
  };
  const reconnects = async (id: string): Promise<string[]> => {
    const answers: string[] = [];
    for (let i = 0; i < RECONNECTS; i++) answers.push(await follow(id)); // one at a time: nginx alternates
    return answers;
  };

  beforeAll(async () => {
    ports.A = await freePort();
    do ports.B = await freePort();
    while (ports.B === ports.A);
    instances.push(await startInstance({ ROLE: 'worker', REDIS_URL, KEY_PREFIX: keyPrefix }));
    await Promise.all([startWeb('A'), startWeb('B')]);
    nginx = await startNginx(readmeNginx([`127.0.0.1:${ports.A}`, `127.0.0.1:${ports.B}`]));
  });

  afterAll(async () => {
    for (const stream of streams) stream.destroy();
    await nginx?.stop();
    await Promise.all(instances.map((instance) => instance.stop()));
    await deleteKeys(keyPrefix);
  });

  it('sends every reconnect to the instance that is up, whichever of the two died', async () => {
    const id = await startTask(nginx.base, 'report', { steps: 100_000, stepMs: 100 });
    const before = [await follow(id), await follow(id)];
    expect(before.sort()).toEqual(['200 A', '200 B']); // both in rotation

    await web.A!.kill();
    await Promise.all(streams.filter((s) => s.headers['x-instance'] === 'A').map((s) => s.ended)); // nginx ends them
    expect(await reconnects(id)).toEqual(Array<string>(RECONNECTS).fill('200 B'));

    await startWeb('A');
    await web.B!.kill(); // its streams end, and their clients reconnect
    expect(await reconnects(id)).toEqual(Array<string>(RECONNECTS).fill('200 A'));
  }, 60_000);
});

describe('with koa-compress mounted before the middleware (threshold 0)', () => {
  let app: TestApp;
  let controlled: ReturnType<typeof defineControlled>;
  beforeAll(async () => {
    app = await startApp({
      before: [compress({ threshold: 0 })],
      define: (runner) => (controlled = defineControlled(runner)),
    });
  });
  afterAll(() => app.close());

  it(`streams events uncompressed, intact, each within ${PROMPT_MS} ms`, async () => {
    const id = await startTask(app.base, 'controlled');
    const job = await controlled.running(id);
    const stream = await openStream(`${app.base}/tasks/${id}/events`, { 'Accept-Encoding': 'gzip, deflate, br' });
    expect(stream.headers['content-encoding']).toBeUndefined();
    await stream.waitForEvents(1);
    const taken = await delays(job, stream, 5);
    for (const ms of taken) expect(ms).toBeLessThan(PROMPT_MS);
    job.complete({ rows: 3 });
    await stream.ended;
    const progress = stream.events.filter((e) => e.event === 'progress').map((e) => dataOf(e));
    expect(progress).toEqual([1, 2, 3, 4, 5].map((i) => ({ percent: i * 10, message: `step ${i} ${'é'.repeat(i)}` })));
    expect(dataOf(stream.events.at(-1))).toMatchObject({ status: 'completed', result: { rows: 3 } });
  });

  it('still compresses the ordinary JSON answers', async () => {
    const id = await startTask(app.base, 'controlled');
    const encoding = await new Promise<string | undefined>((resolve, reject) => {
      http
        .get(`${app.base}/tasks/${id}`, { headers: { 'Accept-Encoding': 'gzip' }, agent: false }, (response) => {
          response.resume();
          resolve(response.headers['content-encoding']);
        })
        .on('error', reject);
    });
    expect(encoding).toBe('gzip');
  });
});
