import type { Job, TaskRunner, TaskStore } from '../../src';
import { startApp, startTask, waitUntil, type TestApp } from './app';

export interface ControlledJob {
  job: Job;
  complete(result?: unknown): void;
  fail(error: Error): void;
}

/**
 * A task type whose jobs do nothing by themselves: the test holds each running job and calls `job.progress()`,
 * `complete()` or `fail()` on it, so events happen exactly when the test says.
 */
export function defineControlled(
  runner: TaskRunner,
  type = 'controlled',
): { running(id: string): Promise<ControlledJob> } {
  const jobs = new Map<string, ControlledJob>();
  runner.define(
    type,
    (job) =>
      new Promise((resolve, reject) => {
        jobs.set(job.id, { job, complete: resolve, fail: reject });
        job.signal.addEventListener('abort', () => reject(job.signal.reason as Error), { once: true });
      }),
  );
  return {
    async running(id) {
      await waitUntil(() => jobs.has(id), 5000, `job ${id} to run`);
      return jobs.get(id)!;
    },
  };
}

/** An app whose runner keeps `historyLimit` events per task in `store`, with one controlled task already running. */
export async function startWithRunningTask(
  store: TaskStore,
  historyLimit = 50,
): Promise<{ t: TestApp; id: string; running: ControlledJob }> {
  let controlled!: ReturnType<typeof defineControlled>;
  const t = await startApp({
    runner: { store, historyLimit },
    define: (runner) => (controlled = defineControlled(runner)),
  });
  const id = await startTask(t.base, 'controlled');
  return { t, id, running: await controlled.running(id) };
}
