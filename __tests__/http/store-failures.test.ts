import { MemoryStore, type TaskEvent, type TaskSnapshot } from '../../src';
import type { CommitLimits, EnqueueOptions, NewTaskEvent, TaskEventListener } from '../../src';
import { startApp, startTask, waitUntil, type TestApp } from '../helpers/app';
import { defineControlled } from '../helpers/controlled';
import { openStream } from '../helpers/sse';

/** A memory store that can be told to fail, as a remote store does when its server is away. */
class FlakyStore extends MemoryStore {
  failSubscribe = false;
  /** Every write fails: commits and enqueues. */
  failCommit = false;

  override async subscribe(taskId: string, listener: TaskEventListener): Promise<() => void> {
    if (this.failSubscribe) throw new Error('store unreachable (subscribe)');
    return super.subscribe(taskId, listener);
  }

  override async commit(snapshot: TaskSnapshot, event: NewTaskEvent, limits: CommitLimits): Promise<TaskEvent> {
    if (this.failCommit) throw new Error('store unreachable (commit)');
    return super.commit(snapshot, event, limits);
  }

  override async enqueue(
    snapshot: TaskSnapshot,
    input: unknown,
    limits: CommitLimits,
    options?: EnqueueOptions,
  ): Promise<TaskEvent> {
    if (this.failCommit) throw new Error('store unreachable (enqueue)');
    return super.enqueue(snapshot, input, limits, options);
  }
}

describe('when the store fails', () => {
  let t: TestApp;
  let store: FlakyStore;
  let controlled: ReturnType<typeof defineControlled>;

  beforeEach(async () => {
    store = new FlakyStore();
    t = await startApp({ runner: { store }, define: (runner) => (controlled = defineControlled(runner)) });
  });
  afterEach(() => t.close());

  it('ends a stream it cannot subscribe for, reports the error, and keeps serving', async () => {
    const id = await startTask(t.base, 'controlled');
    store.failSubscribe = true;
    const stream = await openStream(`${t.base}/tasks/${id}/events`);
    await stream.ended;
    expect(stream.events).toEqual([]);
    expect(t.errors.map((e) => (e as Error).message)).toEqual(['store unreachable (subscribe)']);
    store.failSubscribe = false;
    const retry = await openStream(`${t.base}/tasks/${id}/events`);
    expect((await retry.waitForEvents(1))[0]?.event).toBe('status');
    retry.destroy();
    await waitUntil(() => store.subscriptionCount === 0);
  });

  it('answers POST with a 500 JSON error when the task cannot be created', async () => {
    store.failCommit = true;
    const res = await fetch(`${t.base}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"type":"controlled"}',
    });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: 'internal_error', message: 'Internal Server Error' } });
  });

  it('reports a failed progress write on the runner, without crashing the job', async () => {
    const reported: unknown[] = [];
    t.runner.on('error', (error) => reported.push(error));
    const id = await startTask(t.base, 'controlled');
    const { job, complete } = await controlled.running(id);
    store.failCommit = true;
    job.progress(50);
    await waitUntil(() => reported.length === 1);
    expect((reported[0] as Error).message).toBe('store unreachable (commit)');
    store.failCommit = false;
    complete('ok');
    for (let i = 0; i < 100 && (await t.runner.get(id))?.status !== 'completed'; i++)
      await new Promise((r) => setTimeout(r, 5));
    expect((await t.runner.get(id))?.status).toBe('completed');
  });
});
