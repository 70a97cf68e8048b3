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
