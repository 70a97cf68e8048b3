// `npm run demo:redis`, end to end: `node demo/redis.mjs` (two web instances and a worker sharing the local Redis)
// as a child process on free ports, under a key prefix of its own. A report started on instance A is followed and
// downloaded on instance B, as a browser would. Needs dist/ (npm test builds it first) and Redis.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EventSource } from 'eventsource';
import Redis from 'ioredis';
import type { ProgressData, TaskSnapshot } from '../../src';
import { expectFebruaryCsv, spawnDemo, stopDemo, type ReportResult, type Received } from '../helpers/demo';
import { REDIS_URL, deleteKeys, uniquePrefix } from '../helpers/redis';

interface Demo {
  child: ChildProcess;
  /** The two web instances, in the order printed (A, B). */
  urls: string[];
  /** Every child: the web instances and the worker. */
  pids: number[];
  output: () => string;
}

jest.setTimeout(30_000);

const TERMINAL = ['complete', 'failed', 'cancelled'];
const keyPrefix = uniquePrefix('demo-redis');

let demo: Demo | undefined;
let reportsDir: string;
let source: EventSource | undefined;

beforeAll(async () => {
  reportsDir = await mkdtemp(path.join(tmpdir(), 'demo-redis-reports-'));
  demo = await startDemo({
    PORTS: '0,0',
    REDIS_URL,
    KEY_PREFIX: keyPrefix,
    REPORTS_DIR: reportsDir,
    DEMO_STEP_MS: '40',
  });
});

afterAll(async () => {
  source?.close();
  // Only after a failure is anything still running here: leave nothing behind.
  for (const pid of [demo?.child.pid, ...(demo?.pids ?? [])]) {
    if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  await rm(reportsDir, { recursive: true, force: true });
  await deleteKeys(keyPrefix);
});

test('prints two web instances and a worker', () => {
  expect(demo?.urls).toHaveLength(2);
  expect(demo?.urls[0]).not.toBe(demo?.urls[1]);
  expect(demo?.pids).toHaveLength(3);
  expect(demo?.output()).toMatch(/^worker \(pid \d+\) runs the report jobs/m);
});

test('a report started on instance A is followed to its end and downloaded on instance B', async () => {
  const [a, b] = demo!.urls as [string, string];
  expect(await (await fetch(`${b}/`)).text()).toContain('<script type="module" src="/app.js"></script>');

  const started = await fetch(`${a}/tasks`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'report', input: { month: '2024-02' } }),
  });
  expect(started.status).toBe(202);
  const task = (await started.json()) as TaskSnapshot;
  const events = await follow(`${b}/tasks/${task.id}/events`);

  expect(events[0]?.event).toBe('status');
  expect(events.at(-1)?.event).toBe('complete');
  const percents = events.filter((e) => e.event === 'progress').map((e) => (e.data as ProgressData).percent);
  expect(percents.length).toBeGreaterThanOrEqual(1);
  expect(percents).toEqual([...percents].sort((x, y) => x - y));
  const done = events.at(-1)?.data as TaskSnapshot<ReportResult>;
  expect(done).toMatchObject({ id: task.id, status: 'completed', progress: 100 });
  expect(done.result).toMatchObject({ url: `/reports/${task.id}.csv`, rows: 29, month: '2024-02' });

  // Both instances read the same task from Redis, under the demo's prefix.
  const onA = (await (await fetch(`${a}/tasks/${task.id}`)).json()) as TaskSnapshot;
  expect(onA).toMatchObject({ id: task.id, status: 'completed' });
  expect(await keyExists(`${keyPrefix}task:${task.id}`)).toBe(true);

  // The worker wrote the CSV to the shared folder; instance B serves it.
  expect(await readdir(reportsDir)).toEqual([`${task.id}.csv`]);
  await expectFebruaryCsv(`${b}${done.result?.url}`, task.id);
});

test('SIGTERM stops every child, then the demo exits with 0', async () => {
  const { child, pids, output } = demo!;
  const code = await stop(child);
  expect({ code, output: code === 0 ? '' : output() }).toEqual({ code: 0, output: '' });
  expect(pids.filter(isAlive)).toEqual([]);
  expect(output()).toMatch(/^demo stopped$/m);
  expect(output()).not.toMatch(/error/i);
});

/** Spawns the demo and resolves once it printed its two web instances and its worker. */
async function startDemo(env: Record<string, string>): Promise<Demo> {
  const { child, output } = await spawnDemo('demo/redis.mjs', env, {
    ready: /^tasks are shared through /m,
    timeoutMs: 15_000,
  });
  const urls = [...output().matchAll(/^listening on (http:\/\/\S+)/gm)].map((match) => match[1]!);
  const pids = [...output().matchAll(/\(.*pid (\d+)/g)].map((match) => Number(match[1]));
  return { child, urls, pids, output };
}

/** SIGTERM, as a user's Ctrl-C would; the demo stops three processes, so it gets 8 s. */
function stop(child: ChildProcess): Promise<number> {
  return stopDemo(child, 8_000);
}

/** Follows an event stream until a terminal event, with the `eventsource` client. */
function follow(url: string): Promise<Received[]> {
  const events: Received[] = [];
  const stream = new EventSource(url);
  source = stream;
  return new Promise<Received[]>((resolve, reject) => {
    const timer = setTimeout(
      () => done(new Error(`no terminal event within 10 s; got ${JSON.stringify(events)}`)),
      10_000,
    );
    const done = (error?: Error): void => {
      clearTimeout(timer);
      stream.close();
      if (error === undefined) resolve(events);
      else reject(error);
    };
    for (const name of ['status', 'progress', ...TERMINAL]) {
      stream.addEventListener(name, (message) => {
        events.push({ event: name, data: JSON.parse(message.data) as unknown });
        if (TERMINAL.includes(name)) done();
      });
    }
    stream.addEventListener('error', () => {
      if (stream.readyState === EventSource.CLOSED) done(new Error('the event stream failed'));
    });
  });
}

async function keyExists(key: string): Promise<boolean> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    return (await redis.exists(key)) === 1;
  } finally {
    redis.disconnect();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
