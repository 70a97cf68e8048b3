import http from 'node:http';
import compress from 'koa-compress';
import { startApp, startTask, waitUntil, type TestApp } from '../helpers/app';
import { defineControlled, type ControlledJob } from '../helpers/controlled';
import { startNginx, type Nginx } from '../helpers/nginx';
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
    nginx = await startNginx({
      location: `location /tasks {
            proxy_pass http://${new URL(app.base).host};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout 1h;
        }`,
    });
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
