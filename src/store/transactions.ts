import type { EnqueueOptions } from './job-queue';

/**
 * For a store whose writes cannot be part of the app's own transaction (memory, Redis): refuses
 * `options.transaction` before anything is written, rather than queue a task the app's rollback would not undo.
 */
export function refuseTransaction(store: string, options: EnqueueOptions | undefined): void {
  if (options?.transaction === undefined) return;
  throw new TypeError(
    `koa-sse-tasks: this store cannot join a transaction (${store} keeps its tasks outside the app's database): ` +
      'enqueue without `transaction`, or use a store that can join one (PostgreSQL)',
  );
}
