import type { TaskRunner, TaskSnapshot } from '../../src';

/** Waits until the task has finished (completed, failed or cancelled) and returns its final snapshot. */
export async function finished(runner: TaskRunner, id: string, timeoutMs = 5000): Promise<TaskSnapshot> {
  let snapshot: TaskSnapshot | undefined;
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    snapshot = await runner.get(id);
    if (snapshot && ['completed', 'failed', 'cancelled'].includes(snapshot.status)) return snapshot;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`task ${id} did not finish: ${JSON.stringify(snapshot)}`);
}
