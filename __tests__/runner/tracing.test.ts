import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { MemoryStore, QueueFullError, TaskRunner, type EnqueueOptions } from '../../src';
import { postJson, startApp, startTask, waitUntil, type TestApp } from '../helpers/app';
import { finished } from '../helpers/tasks';
import { named, one, serverSpan, startTracing, type Tracing } from '../helpers/tracing';

describe('traces with a tracer provider registered', () => {
  let tracing: Tracing;
  let app: TestApp;
  /** What each handler saw as the active span. */
  let activeInHandler: Array<string | undefined>;

  beforeEach(async () => {
    tracing = startTracing();
    activeInHandler = [];
    app = await startApp({
      before: [serverSpan],
      define: (runner) => {
        runner.define('report', async (job) => {
          activeInHandler.push(trace.getActiveSpan()?.spanContext().spanId);
          await new Promise((resolve) => setTimeout(resolve, 5));
          // The handler's own span, under whatever span is active after an await.
          trace.getTracer('app').startActiveSpan('render', (span) => span.end());
          return { month: (job.input as { month: string }).month };
        });
        runner.define('broken', () => {
          throw new Error('The printer is on fire');
        });
        runner.define('slow', () => new Promise(() => {}), { timeoutMs: 20 });
        runner.define('hostile', () => {
          const { proxy, revoke } = Proxy.revocable(new Error('gone'), {});
          revoke();
          throw proxy; // every read of it throws, `instanceof` included
        });
        let calls = 0;
        runner.define(
          'flaky',
          (job) => {
            activeInHandler.push(trace.getActiveSpan()?.spanContext().spanId);
            if (++calls < 3) throw new Error(`attempt ${job.attempt} failed`);
            return 'done';
          },
          { retries: 2, backoffMs: 1 },
        );
      },
    });
  });

  afterEach(async () => {
    await app.close();
    await tracing.close();
  });

  it('records task.enqueue under the POST /tasks server span and runs the job in task.run, its child', async () => {
    const id = await startTask(app.base, 'report', { month: '2026-10' });
    expect((await finished(app.runner, id)).status).toBe('completed');
    await waitUntil(() => named(tracing.spans(), 'render').length === 1, 5000, 'the handler span');
    const spans = tracing.spans();
    const server = one(spans, 'POST /tasks');
    const enqueue = one(spans, 'task.enqueue report');
    const run = one(spans, 'task.run report');
    const render = one(spans, 'render');
    expect(enqueue).toMatchObject({ kind: SpanKind.PRODUCER, traceId: server.traceId, parentSpanId: server.spanId });
    expect(enqueue.attributes).toMatchObject({ 'task.id': id, 'task.type': 'report', 'task.status': 'queued' });
    expect(run).toMatchObject({ kind: SpanKind.CONSUMER, traceId: server.traceId, parentSpanId: enqueue.spanId });
    expect(run.attributes).toEqual({
      'task.id': id,
      'task.type': 'report',
      'task.attempt': 1,
      'task.status': 'completed',
    });
    expect(run.status.code).toBe(SpanStatusCode.UNSET);
    expect(run.events).toEqual([]);
    expect(activeInHandler).toEqual([run.spanId]);
    expect(render).toMatchObject({ traceId: server.traceId, parentSpanId: run.spanId });
  });

  it('marks a failed attempt with an exception event and ERROR status', async () => {
    const id = await startTask(app.base, 'broken');
    expect((await finished(app.runner, id)).status).toBe('failed');
    const run = one(tracing.spans(), 'task.run broken');
    expect(run.attributes).toMatchObject({ 'task.id': id, 'task.attempt': 1, 'task.status': 'failed' });
    expect(run.status).toEqual({ code: SpanStatusCode.ERROR, message: 'The printer is on fire' });
    expect(run.events).toEqual([
      {
        name: 'exception',
        attributes: expect.objectContaining({
          'exception.type': 'Error',
          'exception.message': 'The printer is on fire',
          'exception.stacktrace': expect.stringContaining('tracing.test.ts'),
        }),
      },
    ]);
  });

  it('marks a timed-out attempt with a TimeoutError', async () => {
    const id = await startTask(app.base, 'slow');
    expect((await finished(app.runner, id)).status).toBe('failed');
    const run = one(tracing.spans(), 'task.run slow');
    expect(run.status).toEqual({ code: SpanStatusCode.ERROR, message: 'The task timed out after 20 ms' });
    expect(run.events.map((event) => event.attributes)).toEqual([
      expect.objectContaining({
        'exception.type': 'TimeoutError',
        'exception.message': 'The task timed out after 20 ms',
      }),
    ]);
  });

  it('still ends the run span of a handler that throws a revoked Proxy', async () => {
    const id = await startTask(app.base, 'hostile');
    expect((await finished(app.runner, id)).status).toBe('failed');
    const run = one(tracing.spans(), 'task.run hostile');
    expect(run.status).toEqual({ code: SpanStatusCode.ERROR, message: 'The task failed' });
    expect(run.events).toEqual([{ name: 'exception', attributes: { 'exception.message': 'The task failed' } }]);
  });

  it('runs each attempt of a retried task in its own task.run span, all children of the one enqueue span', async () => {
    const snapshot = await app.runner.start('flaky');
    expect((await finished(app.runner, snapshot.id)).status).toBe('completed');
    const spans = tracing.spans();
    const enqueue = one(spans, 'task.enqueue flaky');
    expect(enqueue.parentSpanId).toBeUndefined(); // started outside any request: the trace starts here
    const runs = named(spans, 'task.run flaky');
    expect(runs.map((run) => [run.attributes['task.attempt'], run.attributes['task.status'], run.status.code])).toEqual(
      [
        [1, 'failed', SpanStatusCode.ERROR],
        [2, 'failed', SpanStatusCode.ERROR],
        [3, 'completed', SpanStatusCode.UNSET],
      ],
    );
    expect(runs.map((run) => run.events.length)).toEqual([1, 1, 0]);
    for (const run of runs) expect(run).toMatchObject({ traceId: enqueue.traceId, parentSpanId: enqueue.spanId });
    expect(activeInHandler).toEqual(runs.map((run) => run.spanId));
  });

  it('names the task an idempotency key had started, and starts no second run', async () => {
    const post = () =>
      postJson(app.base, '/tasks', { type: 'report', input: { month: '2026-11' } }, { 'Idempotency-Key': 'k1' });
    const first = (await (await post()).json()) as { id: string };
    await finished(app.runner, first.id);
    expect((await post()).status).toBe(200);
    const enqueues = named(tracing.spans(), 'task.enqueue report');
    expect(enqueues.map((span) => [span.attributes['task.id'], span.attributes['task.replayed']])).toEqual([
      [first.id, false],
      [first.id, true],
    ]);
    expect(named(tracing.spans(), 'task.run report')).toHaveLength(1);
  });

  it("keeps the runner's own work on a task out of the trace of the request that woke it", async () => {
    /** A memory store that notes the span active at each of the runner's commits. */
    class WatchedStore extends MemoryStore {
      readonly activeAtCommit: Array<[event: string, span: string | undefined]> = [];
      override commit(...args: Parameters<MemoryStore['commit']>): ReturnType<MemoryStore['commit']> {
        this.activeAtCommit.push([args[1].event, (trace.getActiveSpan() as { name?: string } | undefined)?.name]);
        return super.commit(...args);
      }
    }
    const store = new WatchedStore();
    const runner = new TaskRunner({ store });
    runner.define('report', (job) => job.progress(50));
    await new Promise((resolve) => setImmediate(resolve)); // the claims define() made have found nothing
    try {
      const started = await trace.getTracer('app').startActiveSpan('request', async (span) => {
        const snapshot = await runner.start('report');
        span.end();
        return snapshot;
      });
      await finished(runner, started.id);
      expect(store.activeAtCommit).toEqual([
        ['status', undefined], // running: the claimer's, though the request's enqueue woke it
        ['progress', 'task.run report'], // the handler's, in its attempt
        ['complete', undefined],
      ]);
    } finally {
      await runner.close();
    }
  });

  it('marks an enqueue the store refused with ERROR status', async () => {
    const web = new TaskRunner({ worker: false, maxQueued: 1 });
    try {
      web.define('later');
      await web.start('later');
      await expect(web.start('later')).rejects.toBeInstanceOf(QueueFullError);
      const [accepted, refused] = named(tracing.spans(), 'task.enqueue later');
      expect(accepted?.status.code).toBe(SpanStatusCode.UNSET);
      expect(refused?.status).toMatchObject({ code: SpanStatusCode.ERROR });
      expect(refused?.events.map((event) => event.attributes['exception.type'])).toEqual(['queue_full']); // the error's code, as the SDK reads it
    } finally {
      await web.close();
    }
  });
});

describe('traces without a tracer provider', () => {
  /** A memory store that remembers what each enqueue was given. */
  class WatchedStore extends MemoryStore {
    readonly given: Array<EnqueueOptions | undefined> = [];
    override enqueue(...args: Parameters<MemoryStore['enqueue']>): ReturnType<MemoryStore['enqueue']> {
      this.given.push(args[3]);
      return super.enqueue(...args);
    }
  }

  it('records nothing and stores no traceparent, then traces once the app registers a provider', async () => {
    const store = new WatchedStore();
    const runner = new TaskRunner({ store });
    const active: Array<string | undefined> = [];
    runner.define('report', () => void active.push(trace.getActiveSpan()?.spanContext().spanId));
    try {
      const untraced = await runner.start('report');
      await finished(runner, untraced.id);
      expect(store.given[0]).not.toHaveProperty('traceparent');
      expect(active).toEqual([undefined]);

      const tracing = startTracing();
      try {
        const traced = await runner.start('report');
        await finished(runner, traced.id);
        const enqueue = one(tracing.spans(), 'task.enqueue report');
        const run = one(tracing.spans(), 'task.run report');
        expect(store.given[1]?.traceparent).toBe(`00-${enqueue.traceId}-${enqueue.spanId}-01`);
        expect(active[1]).toBe(run.spanId);
        expect(tracing.spans().map((span) => span.attributes['task.id'])).toEqual([traced.id, traced.id]);
      } finally {
        await tracing.close();
      }
    } finally {
      await runner.close();
    }
  });
});
