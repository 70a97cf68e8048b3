import http from 'node:http';
import fc from 'fast-check';
import { MemoryStore } from '../../src';
import { startApp, startTask, waitUntil, type TestApp } from '../helpers/app';

const SEED = Number(process.env.FUZZ_SEED ?? 6_2026);
const REQUESTS = 500;

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

interface Answer {
  status: number | 'held' | 'refused';
}

/** Sends raw bytes where the fetch API would refuse: any method, latin1 header bytes (invalid UTF-8), any body. */
function send(base: string, request: FuzzRequest): Promise<Answer> {
  return new Promise((resolve) => {
    const url = new URL(base);
    let settled = false;
    const done = (answer: Answer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(answer);
    };
    let req: http.ClientRequest;
    try {
      req = http.request({
        host: url.hostname,
        port: url.port,
        method: request.method,
        path: request.path,
        headers: request.headers,
        agent: false,
      });
    } catch {
      return resolve({ status: 'refused' }); // the client itself refuses (e.g. an illegal path): nothing was sent
    }
    // Long-polls and event streams stay open: once their status is known, or after 1 s, the client leaves.
    const timer = setTimeout(() => done({ status: 'held' }), 1_000);
    req.on('response', (response) => {
      response.resume();
      const status = response.statusCode ?? 0;
      if (String(response.headers['content-type']).startsWith('text/event-stream')) return done({ status });
      response.on('end', () => done({ status }));
      response.on('error', () => done({ status }));
    });
    req.on('error', () => done({ status: 'refused' }));
    req.end(request.body);
  });
}

function requests(ids: string[]): fc.Arbitrary<FuzzRequest> {
  const latin1 = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)) });
  const segment = fc.oneof(
    fc.constantFrom(...ids, 'events', '', '%', '%ff%fe', '%00', '..', '%2e%2e', 'x'.repeat(200), 'a,b,c'),
    fc.uuid(),
    fc.string().map(encodeURIComponent),
  );
  const query = fc.oneof(
    fc.constant(''),
    fc
      .tuple(
        fc.constantFrom('wait', 'after', 'ids', 'lastEventId', 'x'),
        fc.oneof(fc.constantFrom('0', '0.1', '-1', '1e3', 'NaN', ids.join(','), `${ids[0]!},${ids[0]!}`), fc.string()),
      )
      .map(([key, value]) => `?${key}=${encodeURIComponent(value)}`),
  );
  const path = fc
    .tuple(fc.constantFrom('/tasks', '/tasks/', '/other'), fc.array(segment, { maxLength: 3 }), query)
    .map(([prefix, segments, q]) => `${prefix}${segments.length > 0 ? '/' : ''}${segments.join('/')}${q}`);
  const headers = fc.record(
    {
      'last-event-id': fc.oneof(
        latin1,
        fc.constant('9'.repeat(100_000)),
        fc.constant('\xff\xfe\xc3\x28'),
        fc.constantFrom('1', '0-0', '_=1&x=2'),
      ),
      'content-type': fc.oneof(fc.constantFrom('application/json', 'text/plain', 'application/x+json'), latin1),
      'content-encoding': fc.constantFrom('gzip', 'identity', 'br'),
      origin: fc.constantFrom('https://evil.example', 'null'),
      'x-user': latin1,
    },
    { requiredKeys: [] },
  );
  const body = fc.option(
    fc.oneof(
      fc.uint8Array({ maxLength: 2_000 }).map((bytes) => Buffer.from(bytes)),
      fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value) ?? 'null')),
      fc
        .constantFrom('{"type":"quick"}', '{"type":"quick","input":"\\ud800"}', '{"type":"__proto__"}', '[]')
        .map((text) => Buffer.from(text)),
    ),
    { nil: undefined },
  );
  return fc.record({
    method: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS', 'PROPFIND', 'TRACE'),
    path,
    headers,
    body,
  });
}

describe('HTTP fuzzing', () => {
  let app: TestApp;
  afterAll(() => app.close());

  it(`answers ${REQUESTS} random requests without a 5xx, a crash or a leak (seed ${SEED})`, async () => {
    const store = new MemoryStore();
    app = await startApp({
      runner: { store },
      middleware: { owner: (ctx) => ctx.get('X-User') || undefined, authorize: () => true },
      define: (runner) => {
        runner.define('quick', (job) => job.input ?? null);
        runner.define('slow', async (job) => {
          for (let i = 1; i <= 5; i++) {
            await new Promise((r) => setTimeout(r, 20));
            job.progress(i * 20);
          }
        });
      },
    });
    const ids = [await startTask(app.base, 'quick'), await startTask(app.base, 'slow')];
    const samples = fc.sample(requests(ids), { seed: SEED, numRuns: REQUESTS });
    const failures: Array<{ request: FuzzRequest; answer: Answer }> = [];
    for (let i = 0; i < samples.length; i += 10) {
      const batch = samples.slice(i, i + 10);
      const answers = await Promise.all(batch.map((request) => send(app.base, request)));
      answers.forEach((answer, j) => {
        if (typeof answer.status === 'number' && answer.status >= 500) failures.push({ request: batch[j]!, answer });
      });
    }
    const describe = (f: (typeof failures)[number]): string =>
      `${f.answer.status} ${f.request.method} ${f.request.path.slice(0, 120)} ${JSON.stringify(f.request.headers).slice(0, 200)}`;
    if (failures.length > 0) {
      throw new Error(`seed ${SEED}: ${failures.length} answers were 5xx:\n${failures.map(describe).join('\n')}`);
    }
    // Node's client sends a GET/HEAD/DELETE/OPTIONS/TRACE body with no length, so the server's parser reads it as a
    // garbage request and Koa reports that socket (HPE_*, on every path, ours or not): anything else would be ours.
    const ours = app.errors.filter((error) => !String((error as { code?: string }).code).startsWith('HPE_'));
    expect(ours).toEqual([]);
    // Still serving, and nothing left behind: no stream open, no subscription.
    expect((await fetch(`${app.base}/tasks/${ids[0]!}`)).status).toBe(200);
    await waitUntil(() => app.tasks.openStreams === 0 && store.subscriptionCount === 0, 5_000, 'streams to close');
  });
});
