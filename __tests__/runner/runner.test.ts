import {
  RunnerClosedError,
  TaskFinishedError,
  TaskNotFoundError,
  TaskRunner,
  UnknownTaskTypeError,
  type Job,
  type TaskEvent,
} from '../../src';
import { deferred, waitUntil } from '../helpers/app';
import { finished } from '../helpers/tasks';

type Recorded = { taskId: string; event: TaskEvent };

function recordEvents(runner: TaskRunner): Recorded[] {
  const seen: Recorded[] = [];
  runner.on('event', (taskId, event) => seen.push({ taskId, event }));
  return seen;
}

describe('TaskRunner', () => {
  let runner: TaskRunner;
  afterEach(async () => {
    await runner.close();
  });

  it('moves a task queued -> running -> completed, with one event per change', async () => {
    runner = new TaskRunner();
    const seen = recordEvents(runner);
    runner.define('report', async (job: Job<{ month: string }>) => {
      job.progress(50, 'Halfway');
      return { url: `/r/${job.input.month}.csv` };
    });
    const started = await runner.start('report', { month: '2026-10' }, { owner: 'ada' });
    expect(started).toMatchObject({ type: 'report', status: 'queued', progress: 0, owner: 'ada' });
    expect(started.id).toMatch(/^[0-9a-f-]{36}$/);
    const done = await finished(runner, started.id);
    expect(done).toMatchObject({
      status: 'completed',
      progress: 100,
      message: 'Halfway',
      result: { url: '/r/2026-10.csv' },
    });
    expect(Date.parse(done.updatedAt)).toBeGreaterThanOrEqual(Date.parse(done.createdAt));

    await waitUntil(() => seen.length === 4);
    expect(seen.map((s) => s.event.event)).toEqual(['status', 'status', 'progress', 'complete']);
    expect(seen.every((s) => s.taskId === started.id)).toBe(true);
    expect(seen.map((s) => s.event.id)).toEqual(['1', '2', '3', '4']);
    expect(JSON.parse(seen[1]!.event.data)).toMatchObject({ status: 'running' });
    expect(JSON.parse(seen[2]!.event.data)).toEqual({ percent: 50, message: 'Halfway' });
    expect(JSON.parse(seen[3]!.event.data)).toEqual(done);
  });

  it('rejects a task type that was never defined, naming the defined ones', async () => {
    runner = new TaskRunner();
    runner.define('report', () => null);
    await expect(runner.start('video', {})).rejects.toThrow(UnknownTaskTypeError);
    await expect(runner.start('video', {})).rejects.toThrow('Unknown task type "video"; defined types: report');
  });

  it('runs at most `concurrency` jobs at once, the rest in FIFO order', async () => {
    runner = new TaskRunner({ concurrency: 2 });
    const gates = new Map<number, ReturnType<typeof deferred<void>>>();
    const order: number[] = [];
    let running = 0;
    let peak = 0;
    runner.define('work', async (job: Job<number>) => {
      order.push(job.input);
      running++;
      peak = Math.max(peak, running);
      const gate = deferred();
      gates.set(job.input, gate);
      await gate.promise;
      running--;
    });
    const ids = [];
    for (let n = 1; n <= 5; n++) ids.push((await runner.start('work', n)).id);
    await waitUntil(() => gates.size === 2);
    expect((await runner.get(ids[2]!))?.status).toBe('queued');
    for (let n = 1; n <= 5; n++) {
      await waitUntil(() => gates.has(n), 2000, `job ${n} to start`);
      gates.get(n)!.resolve();
    }
    for (const id of ids) expect((await finished(runner, id)).status).toBe('completed');
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
  });

  it('never runs a task cancelled while queued', async () => {
    runner = new TaskRunner({ concurrency: 1 });
    const gate = deferred();
    const ran: string[] = [];
    runner.define('work', async (job) => {
      ran.push(job.id);
      await gate.promise;
    });
    const first = await runner.start('work');
    const second = await runner.start('work');
    const cancelled = await runner.cancel(second.id);
    expect(cancelled.status).toBe('cancelled');
    const third = await runner.start('work'); // queued after the cancelled one: once it ran, the claim passed it
    gate.resolve();
    await finished(runner, first.id);
    await finished(runner, third.id);
    expect(ran).toEqual([first.id, third.id]);
    expect((await runner.get(second.id))?.status).toBe('cancelled');
  });

  it('aborts the job signal on cancel, and a handler returning later cannot undo the cancel', async () => {
    runner = new TaskRunner();
    const seen = recordEvents(runner);
    const release = deferred();
    let signal: AbortSignal | undefined;
    runner.define('stubborn', async (job) => {
      signal = job.signal;
      await release.promise; // ignores the signal on purpose
      job.progress(90, 'too late');
      return 'done anyway';
    });
    const { id } = await runner.start('stubborn');
    await waitUntil(() => signal !== undefined);
    const snapshot = await runner.cancel(id);
    expect(snapshot.status).toBe('cancelled');
    expect(signal?.aborted).toBe(true);
    expect((signal?.reason as Error).name).toBe('AbortError');
    release.resolve();
    await new Promise((r) => setTimeout(r, 20));
    const after = await runner.get(id);
    expect(after?.status).toBe('cancelled');
    expect(after?.result).toBeUndefined();
    expect(seen.map((s) => s.event.event)).toEqual(['status', 'status', 'cancelled']);
    await expect(runner.cancel(id)).rejects.toThrow(TaskFinishedError);
  });

  it('answers cancel of an unknown task with TaskNotFoundError', async () => {
    runner = new TaskRunner();
    await expect(runner.cancel('no-such-task')).rejects.toThrow(TaskNotFoundError);
  });

  it('fails a task whose handler throws or rejects, and only that task', async () => {
    runner = new TaskRunner();
    runner.define('sync-throw', () => {
      throw new Error('bad input');
    });
    runner.define('reject', () => Promise.reject(new TypeError('no data for 2026-13')));
    runner.define('throw-string', () => {
      throw 'plain string';
    });
    runner.define('ok', () => 1);
    const [a, b, c, d] = await Promise.all(['sync-throw', 'reject', 'throw-string', 'ok'].map((t) => runner.start(t)));
    expect(await finished(runner, a!.id)).toMatchObject({ status: 'failed', error: { message: 'bad input' } });
    expect(await finished(runner, b!.id)).toMatchObject({
      status: 'failed',
      error: { message: 'no data for 2026-13' },
    });
    expect(await finished(runner, c!.id)).toMatchObject({ status: 'failed', error: { message: 'plain string' } });
    expect(await finished(runner, d!.id)).toMatchObject({ status: 'completed', result: 1 });
  });

  it('fails a task whose result cannot be serialized as JSON', async () => {
    runner = new TaskRunner();
    runner.define('bigint', () => ({ n: 1n }));
    const { id } = await runner.start('bigint');
    const done = await finished(runner, id);
    expect(done.status).toBe('failed');
    expect(done.error?.message).toMatch(/not JSON-serializable/);
  });

  it.each([Number.NaN, -1, 100.5, Number.POSITIVE_INFINITY, '50' as unknown as number])(
    'refuses progress %p with a RangeError',
    async (percent) => {
      runner = new TaskRunner();
      let thrown: unknown;
      runner.define('p', (job) => {
        try {
          job.progress(percent);
        } catch (error) {
          thrown = error;
        }
      });
      await finished(runner, (await runner.start('p')).id);
      expect(thrown).toBeInstanceOf(RangeError);
      expect((thrown as Error).message).toMatch(/expected `percent` to be a finite number from 0 to 100/);
    },
  );

  it('keeps only `historyLimit` events of a task for replay', async () => {
    runner = new TaskRunner({ historyLimit: 3 });
    runner.define('chatty', (job) => {
      for (let i = 1; i <= 10; i++) job.progress(i * 10);
    });
    const { id } = await runner.start('chatty');
    await finished(runner, id);
    const record = await runner.store.read(id);
    expect(await runner.store.eventsAfter(id, '1')).toBeUndefined();
    const kept = await runner.store.eventsAfter(id, String(Number(record!.lastEventId) - 3));
    expect(kept?.map((e) => e.event)).toEqual(['progress', 'progress', 'complete']);
  });

  it('forgets a finished task after `ttlMs`', async () => {
    runner = new TaskRunner({ ttlMs: 300 });
    runner.define('quick', () => 'ok');
    const { id } = await runner.start('quick');
    expect((await finished(runner, id)).status).toBe('completed');
    const started = Date.now();
    while ((await runner.get(id)) !== undefined && Date.now() - started < 3000)
      await new Promise((r) => setTimeout(r, 20));
    expect(await runner.get(id)).toBeUndefined();
  });

  it('on close, fails unfinished tasks, aborts their signals and refuses new ones', async () => {
    runner = new TaskRunner({ concurrency: 1 });
    const signals: AbortSignal[] = [];
    runner.define('forever', (job) => {
      signals.push(job.signal);
      return new Promise(() => {});
    });
    const running = await runner.start('forever');
    const queued = await runner.start('forever');
    await waitUntil(() => signals.length === 1);
    await runner.close();
    expect(signals[0]?.aborted).toBe(true);
    for (const id of [running.id, queued.id]) {
      expect(await runner.get(id)).toMatchObject({
        status: 'failed',
        error: { message: 'The task runner closed before the task finished' },
      });
    }
    await expect(runner.start('forever')).rejects.toThrow(RunnerClosedError);
    expect(signals).toHaveLength(1);
  });

  it.each([
    [{ concurrency: 0 }, 'expected `concurrency` to be an integer from 1 to 10000, got 0 (number)'],
    [{ historyLimit: 1.5 }, 'expected `historyLimit` to be an integer from 1 to 1000000, got 1.5 (number)'],
    [{ ttlMs: '1h' }, 'expected `ttlMs` to be an integer from 1 to 2147483647, got "1h" (string)'],
    [{ store: {} }, 'expected `store` to be a TaskStore'],
  ])('explains a bad option %p', (options, message) => {
    runner = new TaskRunner();
    expect(() => new TaskRunner(options as never)).toThrow(message);
  });

  it('refuses a store that lacks members when it is given, naming the store, what it lacks and the fix', () => {
    const member = (): never => {
      throw new Error('never called');
    };
    /** A store of an older contract: no idempotent enqueue, no owner index, and a `shared` that is not a flag. */
    class OldStore {
      readonly shared = 'yes';
      commit = member;
      read = member;
      eventsAfter = member;
      subscribe = member;
      compareEventIds = member;
      onFinished = member;
      enqueue = member;
      claim = member;
      renew = member;
      reapExpired = member;
      queuedCount = member;
      onQueued = member;
      close = member;
    }
    runner = new TaskRunner();
    expect(() => new TaskRunner({ store: new OldStore() as never })).toThrow(
      'koa-sse-tasks: expected `store` to be a TaskStore (e.g. new MemoryStore()), got OldStore, which lacks ' +
        'TaskLog.readWithOutput(), JobQueue.enqueueOnce(), OwnerIndex.tasksOf(), OwnerIndex.onOwnerTask() and ' +
        'StoreLifecycle.shared (a boolean). A store implements ' +
        'every member of TaskLog, JobQueue, OwnerIndex and StoreLifecycle (their TSDoc says what each promises) and ' +
        'passes the conformance suite (__tests__/store/conformance.ts in the repository)',
    );
  });
});
