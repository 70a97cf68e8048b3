import { randomUUID } from 'node:crypto';
import { TaskRunner, type Job, type TaskEvent, type TaskSnapshot } from '../../src';
import { RedisStore } from '../../src/redis';
import { REDIS_URL, deleteKeys, uniquePrefix } from '../helpers/redis';
import { finished } from '../helpers/tasks';

function eventsOf(runner: TaskRunner): Map<string, TaskEvent[]> {
  const seen = new Map<string, TaskEvent[]>();
  runner.on('event', (taskId, event) => seen.set(taskId, [...(seen.get(taskId) ?? []), event]));
  return seen;
}

/** What a test of a timer leaves real: the turns of the event loop, so promises and I/O go on. */
const UNFAKED = ['nextTick', 'setImmediate', 'queueMicrotask'] as const;

/** Polls `check` on every turn of the event loop (never on a timer, which a test may have faked). */
async function waitFor(check: () => boolean | Promise<boolean>, turns = 10_000): Promise<void> {
  for (let n = 0; n < turns; n++) {
    if (await check()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('waitFor: the condition never held');
}

/** The runner's next event that `matches`. */
function nextEvent(runner: TaskRunner, matches: (event: TaskEvent) => boolean): Promise<TaskEvent> {
  return new Promise((resolve) => {
    const listener = (_taskId: string, event: TaskEvent): void => {
      if (!matches(event)) return;
      runner.off('event', listener);
      resolve(event);
    };
    runner.on('event', listener);
  });
}

/** A handler that never returns unless its signal aborts. */
function hang(job: Job): Promise<never> {
  return new Promise((_, reject) => job.signal.addEventListener('abort', () => reject(job.signal.reason as Error)));
}

describe('timeouts, retries and stalls', () => {
  let runner: TaskRunner;
  afterEach(async () => {
    jest.useRealTimers();
    await runner.close();
  });

  it('fails a task whose attempt passes timeoutMs, and aborts its signal with a TimeoutError', async () => {
    runner = new TaskRunner();
    const reasons: unknown[] = [];
    runner.define(
      'slow',
      (job) => {
        job.signal.addEventListener('abort', () => reasons.push(job.signal.reason));
        return new Promise(() => {}); // ignores the signal: the timeout must not wait for it
      },
      { timeoutMs: 50 },
    );
    const { id } = await runner.start('slow');
    const done = await finished(runner, id);
    expect(done.status).toBe('failed');
    expect(done.error).toEqual({ message: 'The task timed out after 50 ms' });
    expect(reasons).toEqual([expect.objectContaining({ name: 'TimeoutError' })]);
  });

  it('retries a failed attempt with backoff, announcing each retry as a status event, until one succeeds', async () => {
    runner = new TaskRunner();
    const events = eventsOf(runner);
    const attempts: Array<{ attempt: number; at: number }> = [];
    runner.define(
      'flaky',
      (job) => {
        attempts.push({ attempt: job.attempt, at: Date.now() });
        if (job.attempt < 3) throw new Error(`boom ${job.attempt}`);
        return 'ok';
      },
      { retries: 3, backoffMs: 40 },
    );
    const { id } = await runner.start('flaky');
    const done = await finished(runner, id);
    expect(done).toMatchObject({ status: 'completed', result: 'ok', attempt: 3 });
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    // Backoff doubles: 40 ms, then 80 ms.
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(35);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(75);
    const statuses = events
      .get(id)!
      .filter((e) => e.event === 'status')
      .map((e) => JSON.parse(e.data) as TaskSnapshot);
    expect(statuses.map((s) => [s.status, s.attempt, s.message])).toEqual([
      ['queued', undefined, undefined],
      ['running', undefined, undefined],
      ['running', 2, 'Retrying (2/4) after: boom 1'],
      ['running', 3, 'Retrying (3/4) after: boom 2'],
    ]);
    expect(events.get(id)!.map((e) => e.event)).not.toContain('error');
  });

  it('fails with the last reason once the retries run out, timeouts included, ignoring a stale attempt', async () => {
    runner = new TaskRunner();
    let first: Job | undefined;
    runner.define(
      'stuck',
      (job) => {
        first ??= job;
        return new Promise(() => {});
      },
      { timeoutMs: 30, retries: 1, backoffMs: 0 },
    );
    const { id } = await runner.start('stuck');
    const done = await finished(runner, id);
    expect(done).toMatchObject({ status: 'failed', attempt: 2, error: { message: 'The task timed out after 30 ms' } });
    first!.progress(99); // the timed-out first attempt can change nothing
    expect((await runner.get(id))?.progress).toBe(0);
  });

  it('stops retrying when the task is cancelled during the backoff', async () => {
    jest.useFakeTimers({ doNotFake: [...UNFAKED] });
    runner = new TaskRunner();
    let calls = 0;
    const retrying = nextEvent(runner, (event) => event.event === 'status' && event.data.includes('Retrying'));
    runner.define(
      'failing',
      () => {
        calls++;
        throw new Error('no');
      },
      { retries: 5, backoffMs: 10_000 },
    );
    const { id } = await runner.start('failing');
    await retrying; // the first attempt failed: the backoff has begun
    await runner.cancel(id);
    // Past every backoff the five retries would have waited (10 s doubling): a retry still scheduled would run now.
    await jest.advanceTimersByTimeAsync(10_000 * 2 ** 5);
    expect(calls).toBe(1);
    expect((await runner.get(id))?.status).toBe('cancelled');
  });

  it('emits `stalled` when a job goes stallMs without progress, once per stall, and lets it go on', async () => {
    jest.useFakeTimers({ doNotFake: [...UNFAKED] });
    runner = new TaskRunner();
    const stalled: Array<[string, unknown]> = [];
    runner.on('stalled', (taskId, info) => stalled.push([taskId, info]));
    let job: Job | undefined;
    let done!: (value: string) => void;
    runner.define('quiet', (j) => ((job = j), new Promise<string>((resolve) => (done = resolve))), { stallMs: 60 });
    const { id } = await runner.start('quiet');
    await waitFor(() => job !== undefined);
    await jest.advanceTimersByTimeAsync(59);
    expect(stalled).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(stalled).toEqual([[id, { type: 'quiet', attempt: 1, idleMs: 60 }]]);
    await jest.advanceTimersByTimeAsync(600); // once per stall, not once per stallMs
    expect(stalled).toHaveLength(1);
    job!.progress(50); // progress ends the stall and starts the watch again
    await jest.advanceTimersByTimeAsync(59);
    expect(stalled).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(stalled).toEqual([
      [id, { type: 'quiet', attempt: 1, idleMs: 60 }],
      [id, { type: 'quiet', attempt: 1, idleMs: 60 }],
    ]);
    done('done');
    await waitFor(async () => (await runner.get(id))?.status === 'completed');
  });

  it('explains bad type options', () => {
    runner = new TaskRunner();
    expect(() => runner.define('x', () => 1, { timeoutMs: 0 })).toThrow(
      'expected `timeoutMs` to be an integer from 1 to 2147483647, got 0 (number)',
    );
    expect(() => runner.define('x', () => 1, { retries: -1 })).toThrow('expected `retries` to be an integer from 0');
  });
});

describe('runner.close({ graceMs })', () => {
  it('refuses new tasks at once, lets running jobs finish within the grace, and fails the queued', async () => {
    const runner = new TaskRunner({ concurrency: 1 });
    runner.define('step', async (job) => {
      await new Promise((r) => setTimeout(r, 80));
      return job.input;
    });
    const running = await runner.start('step', 1);
    const queued = await runner.start('step', 2);
    await new Promise((r) => setTimeout(r, 10));
    const closing = runner.close({ graceMs: 2_000 });
    await expect(runner.start('step', 3)).rejects.toThrow('closed');
    const started = Date.now();
    await closing;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await runner.store.read(running.id)).toMatchObject({ snapshot: { status: 'completed', result: 1 } });
    expect(await runner.store.read(queued.id)).toMatchObject({ snapshot: { status: 'failed' } });
  });

  it('aborts the jobs still running when the grace is over', async () => {
    const runner = new TaskRunner();
    runner.define('hang', hang);
    const { id } = await runner.start('hang');
    await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    await runner.close({ graceMs: 100 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    expect((await runner.store.read(id))?.snapshot).toMatchObject({
      status: 'failed',
      error: { message: 'The task runner closed before the task finished' },
    });
  });
});

describe('timeouts and retries with the Redis store (a worker in another runner)', () => {
  const keyPrefix = uniquePrefix('attempts');
  afterAll(() => deleteKeys(keyPrefix));

  it('retries in the worker that claimed the task, and fails it on timeout, as with the memory store', async () => {
    const type = `t${randomUUID().slice(0, 8)}`;
    const web = new TaskRunner({ store: new RedisStore({ url: REDIS_URL, keyPrefix }), worker: false });
    const worker = new TaskRunner({ store: new RedisStore({ url: REDIS_URL, keyPrefix }), leaseMs: 3_000 });
    try {
      web.define(type);
      const attempts: number[] = [];
      worker.define(
        type,
        (job) => {
          attempts.push(job.attempt);
          return job.attempt === 1 ? new Promise(() => {}) : 'second';
        },
        { timeoutMs: 100, retries: 1, backoffMs: 10 },
      );
      const { id } = await web.start(type);
      const done = await finished(web, id);
      expect(done).toMatchObject({ status: 'completed', result: 'second', attempt: 2 });
      expect(done.message).toBe('Retrying (2/2) after: The task timed out after 100 ms');
      expect(attempts).toEqual([1, 2]);
    } finally {
      await Promise.all([web.close(), worker.close()]);
    }
  });
});
