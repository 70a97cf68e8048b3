// The demo, end to end: `node demo/server.mjs` as a child process on a free port, followed with the real
// `eventsource` client, as a browser would. Needs dist/ (npm test builds it first).
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EventSource } from 'eventsource';
import type { ProgressData, TaskSnapshot } from '../../src';
import { expectFebruaryCsv, startDemo, stopDemo, type Demo, type ReportResult, type Received } from '../helpers/demo';

const TERMINAL = ['complete', 'failed', 'cancelled'];
/** Long enough that a cancel sent after the first progress event lands well before the job ends. */
const STEP_MS = 80;

let demo: Demo;
let reportsDir: string;
const sources = new Set<EventSource>();

beforeAll(async () => {
  reportsDir = await mkdtemp(path.join(tmpdir(), 'demo-reports-'));
  demo = await startDemo({ PORT: '0', HOST: '127.0.0.1', DEMO_STEP_MS: String(STEP_MS), REPORTS_DIR: reportsDir });
});

afterEach(() => {
  for (const source of sources) source.close();
  sources.clear();
});

afterAll(async () => {
  const code = demo === undefined ? 0 : await stopDemo(demo.child);
  await rm(reportsDir, { recursive: true, force: true });
  expect({ code, output: code === 0 ? '' : demo.output() }).toEqual({ code: 0, output: '' });
});

describe('the demo page', () => {
  test('serves the page, its script and its stylesheet with their content types', async () => {
    const page = await fetch(`${demo.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/app.js"></script>');
    expect(html).toContain('aria-live="polite"');

    const script = await fetch(`${demo.url}/app.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toContain('watchTask(`/tasks/${encodeURIComponent(snapshot.id)}/events`');
    const client = await fetch(`${demo.url}/client/index.js`);
    expect(client.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await client.text()).toContain("export { watchTask } from './watch.js';");
    const watch = await fetch(`${demo.url}/client/watch.js`);
    expect([watch.status, watch.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
    expect(await watch.text()).toContain('export function watchTask(');
    const style = await fetch(`${demo.url}/style.css`);
    expect(style.headers.get('content-type')).toBe('text/css; charset=utf-8');
    await style.text();
  });

  test('answers 404 for any other file, and for paths that climb out of the folders it serves', async () => {
    const targets = [
      '/app.mjs',
      '/public/app.js',
      '/../package.json',
      '/%2e%2e/package.json',
      '/reports/..%2F..%2Fpackage.json',
      '/reports/report.csv',
      '/reports/00000000-0000-4000-8000-000000000000.csv',
    ];
    for (const target of targets) {
      expect({ target, status: await rawStatus(target) }).toEqual({ target, status: 404 });
    }
  });
});

describe('a report task', () => {
  test('streams increasing progress, completes with the CSV url, and the CSV has one row per day', async () => {
    const task = await startReport({ month: '2024-02' });
    const events = await follow(task.id);

    expect(events[0]?.event).toBe('status');
    expect(events.at(-1)?.event).toBe('complete');
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.data as ProgressData);
    expect(progress.length).toBeGreaterThanOrEqual(4);
    const percents = progress.map((p) => p.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(new Set(percents).size).toBe(percents.length);
    expect(progress.at(-1)?.message).toBe('Writing file');

    const done = events.at(-1)?.data as TaskSnapshot<ReportResult>;
    expect(done).toMatchObject({ id: task.id, status: 'completed', progress: 100 });
    expect(done.result).toMatchObject({ url: `/reports/${task.id}.csv`, rows: 29, month: '2024-02' });

    await expectFebruaryCsv(`${demo.url}${done.result?.url}`, task.id);
  });

  test('asked to fail, ends with a failed event that gives the reason', async () => {
    const task = await startReport({ month: '2024-03', fail: true });
    const events = await follow(task.id);

    expect(events.map((e) => e.event)).not.toContain('complete');
    const last = events.at(-1);
    expect(last?.event).toBe('failed');
    const reason = expect.stringMatching(/^Simulated failure/) as string;
    expect(last?.data).toMatchObject({ status: 'failed', error: { message: reason } });
  });

  test.each([
    ["no month at all (the issue's example)", {}, 'Choose a month'],
    ['a month that is not YYYY-MM', { month: '2024-13' }, 'Expected a month as YYYY-MM, e.g. "2024-02"'],
    ['a month before the records', { month: '2019-12' }, 'No sales data before January 2020: the records start then'],
  ])('with %s, answers 400 with the message for the month, and starts nothing', async (_, input, message) => {
    const response = await fetch(`${demo.url}/tasks`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'report', input }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: { code: 'invalid_input', message: expect.any(String), issues: [{ message, path: ['month'] }] },
    });
  });

  test('retried with the same Idempotency-Key, answers the report it started instead of a second one', async () => {
    const post = (cookie = ''): Promise<Response> =>
      fetch(`${demo.url}/tasks`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `retry-${process.pid}`, Cookie: cookie },
        body: JSON.stringify({ type: 'report', input: { month: '2024-05' } }),
      });
    const first = await post();
    expect(first.status).toBe(202);
    // The same browser: its owner cookie (keys are per owner).
    const again = await post(
      first.headers
        .getSetCookie()
        .map((cookie) => cookie.split(';')[0])
        .join('; '),
    );
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const task = (await first.json()) as { id: string };
    expect(((await again.json()) as { id: string }).id).toBe(task.id);
    expect((await follow(task.id)).at(-1)?.event).toBe('complete');
  });

  test('cancelled with DELETE, ends with a cancelled event and leaves no file behind', async () => {
    const task = await startReport({ month: '2024-04' });
    const events = await follow(task.id, async () => {
      const cancel = await fetch(`${demo.url}/tasks/${task.id}`, { method: 'DELETE' });
      expect(cancel.status).toBe(202);
      await cancel.json();
    });

    expect(events.at(-1)).toMatchObject({ event: 'cancelled', data: { status: 'cancelled' } });
    expect(events.map((e) => e.event)).not.toContain('complete');
    // The job stops at its next wait; well after that, still no file (nor a half-written one).
    await new Promise((resolve) => setTimeout(resolve, STEP_MS * 6));
    expect((await readdir(reportsDir)).filter((name) => name.startsWith(task.id))).toEqual([]);
    expect((await fetch(`${demo.url}/reports/${task.id}.csv`)).status).toBe(404);
  });
});

/** Spawns the demo server and resolves once it prints `listening on <url>`. */
async function startReport(input: Record<string, unknown>): Promise<{ id: string }> {
  const response = await fetch(`${demo.url}/tasks`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'report', input }),
  });
  expect(response.status).toBe(202);
  return (await response.json()) as { id: string };
}

/** Follows a task's events until its terminal event; `onFirstProgress` runs at the first `progress` event. */
function follow(id: string, onFirstProgress?: () => Promise<void>): Promise<Received[]> {
  const source = new EventSource(`${demo.url}/tasks/${id}/events`);
  sources.add(source);
  const events: Received[] = [];
  let reacted: Promise<void> | undefined;
  return new Promise<Received[]>((resolve, reject) => {
    const timeout = (): void => done(new Error(`no terminal event within 10 s; got ${JSON.stringify(events)}`));
    const timer = setTimeout(timeout, 10_000);
    const done = (error?: Error): void => {
      clearTimeout(timer);
      source.close();
      sources.delete(source);
      if (error !== undefined) return reject(error);
      void Promise.resolve(reacted).then(() => resolve(events), reject);
    };
    for (const name of ['status', 'progress', ...TERMINAL]) {
      source.addEventListener(name, (message) => {
        const event = { event: name, data: JSON.parse(message.data) as unknown };
        events.push(event);
        if (name === 'progress' && reacted === undefined) reacted = onFirstProgress?.();
        if (TERMINAL.includes(name)) done();
      });
    }
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) done(new Error('the event stream failed'));
    });
  });
}

/** The status of a GET sent with its path exactly as written (fetch would resolve `..` first). */
function rawStatus(target: string): Promise<number> {
  const { hostname, port } = new URL(demo.url);
  return new Promise((resolve, reject) => {
    request({ hostname, port, path: target, method: 'GET' }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}
