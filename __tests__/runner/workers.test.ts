import { MemoryStore, TaskRunner, type Job, type TaskStore } from '../../src';
import { waitUntil } from '../helpers/app';

/** Two runners over one store: the web runner (`worker: false`) starts tasks, the worker runner runs them. */
describe('TaskRunner with worker: false', () => {
  let store: TaskStore;
  let web: TaskRunner;
  let worker: TaskRunner;
  beforeEach(() => {
    store = new MemoryStore();
    web = new TaskRunner({ store, worker: false });
    worker = new TaskRunner({ store });
  });
  afterEach(async () => {
    await web.close();
    await worker.close();
  });

  it('starts a task it has only declared; a worker runs it', async () => {
    web.define('report');
    worker.define('report', (job: Job<number>) => job.input * 2);
    const { id } = await web.start('report', 21);
    let snapshot = await web.get(id);
    for (let i = 0; i < 200 && snapshot?.status !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 5));
      snapshot = await web.get(id);
    }
    expect(snapshot).toMatchObject({ status: 'completed', result: 42 });
  });

  it('cancels a job that runs on another runner: its signal aborts and it stays cancelled', async () => {
    web.define('slow');
    let signal: AbortSignal | undefined;
    worker.define('slow', (job) => {
      signal = job.signal;
      return new Promise((resolve) => setTimeout(() => resolve('late'), 200));
    });
    const { id } = await web.start('slow');
    await waitUntil(() => signal !== undefined);
    const cancelled = await web.cancel(id);
    expect(cancelled.status).toBe('cancelled');
    expect(signal?.aborted).toBe(true);
    await new Promise((r) => setTimeout(r, 250));
    expect((await web.get(id))?.status).toBe('cancelled');
  });

  it('refuses to declare a type without a handler on a worker, naming the fix', () => {
    expect(() => worker.define('report')).toThrow('only a runner with `worker: false` may declare a type without one');
  });
});

describe('claims', () => {
  /** The memory store, counting the claims it answers (and those that found nothing). */
  class CountingStore extends MemoryStore {
    claims = 0;
    empty = 0;
    override async claim(...args: Parameters<MemoryStore['claim']>): ReturnType<MemoryStore['claim']> {
      this.claims++;
      const claimed = await super.claim(...args);
      if (claimed === undefined) this.empty++;
      return claimed;
    }
  }

  it('a worker with many free slots sends a few claims per task queued, not one per free slot', async () => {
    const store = new CountingStore();
    const runner = new TaskRunner({ store, concurrency: 1000 });
    const release: Array<() => void> = [];
    runner.define('hold', () => new Promise<void>((resolve) => release.push(resolve)));
    try {
      for (let n = 0; n < 20; n++) await runner.start('hold');
      await waitUntil(() => release.length === 20);
      // Each start wakes the claimer once: it claims the task, and looks again at most a few times.
      expect(store.claims - store.empty).toBe(20);
      expect(store.empty).toBeLessThanOrEqual(20 * 8);
    } finally {
      release.forEach((done) => done());
      await runner.close();
    }
  });

  it('still runs a burst of queued tasks up to the concurrency at once', async () => {
    const store = new CountingStore();
    const web = new TaskRunner({ store, worker: false });
    web.define('hold');
    for (let n = 0; n < 50; n++) await web.start('hold');
    const worker = new TaskRunner({ store, concurrency: 30 });
    const release: Array<() => void> = [];
    worker.define('hold', () => new Promise<void>((resolve) => release.push(resolve)));
    try {
      await waitUntil(() => release.length === 30);
      expect(await store.queuedCount(['hold'])).toBe(20);
      release.splice(0).forEach((done) => done());
      await waitUntil(() => release.length === 20);
    } finally {
      release.forEach((done) => done());
      await web.close();
      await worker.close();
    }
  });
});
