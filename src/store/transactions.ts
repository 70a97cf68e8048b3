/** Starting a task inside the app's own transaction (`EnqueueOptions.transaction`): who can, and how it is refused. */
import type { TaskEvent } from '../types';
import type { EnqueueOptions } from './job-queue';

/**
 * What a store that honours `EnqueueOptions.transaction` adds to its `JobQueue`: the runner learns from it when the
 * app's transaction has committed, to announce the task (`runner.on('event')`) and claim it, or that it rolled back.
 */
export interface TransactionalQueue {
  /**
   * Resolves with the task's first event once the transaction that enqueued it commits, and with `undefined` once it
   * rolls back (nothing of the task ever existed) or the store closes. For a task enqueued with `transaction` only.
   */
  committed(taskId: string): Promise<TaskEvent | undefined>;
}

/** Whether the store can tell when an app's transaction committed its task. */
export function isTransactional(store: object): store is TransactionalQueue {
  return typeof Reflect.get(store, 'committed') === 'function';
}

/**
 * For a store whose writes cannot be part of the app's own transaction (memory, Redis): refuses
 * `options.transaction` before anything is written, rather than queue a task the app's rollback would not undo.
 */
export function refuseTransaction(store: string, options: EnqueueOptions | undefined): void {
  if (options?.transaction === undefined) return;
  throw new TypeError(
    `koa-sse-tasks: this store cannot join a transaction (${store} keeps its tasks outside the app's database): ` +
      'start the task after COMMIT without `transaction`, or use a store that can join one (PostgresStore, from ' +
      'koa-sse-tasks/postgres)',
  );
}
