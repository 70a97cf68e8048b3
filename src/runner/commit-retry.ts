import { StoreUnavailableError } from '../errors';
import type { NewTaskEvent } from '../store/types';
import type { TaskEvent, TaskSnapshot } from '../types';
import type { RunnerContext } from './context';

/** The waits between the tries of a commit while the store is unreachable, in ms: 50, doubling, up to 1000. */
const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 1000;

/**
 * One task's commits, tried again while the store says its server is unreachable (`StoreUnavailableError`, which
 * promises that a repeat is stored once): the first failure is reported, the tries go on until one succeeds, for at
 * most `leaseMs`. Past it the lease is lost anyway (another runner fails the task once the store is back): the error
 * is thrown, already reported, and so is it at once for the task's later commits.
 */
export class RetriedCommits {
  readonly #context: RunnerContext;
  #unreachable: StoreUnavailableError | undefined;

  constructor(context: RunnerContext) {
    this.#context = context;
  }

  async commit(snapshot: TaskSnapshot, change: NewTaskEvent): Promise<TaskEvent> {
    const context = this.#context;
    let since: number | undefined;
    for (let attempt = 0; ; attempt++) {
      if (this.#unreachable !== undefined) throw this.#unreachable;
      try {
        return await context.store.commit(snapshot, change, context.limits);
      } catch (error) {
        if (!(error instanceof StoreUnavailableError)) throw error;
        if (since === undefined) {
          since = Date.now();
          context.report(error);
        }
        // The last try is at leaseMs, never after: a commit that succeeded later would write to a task whose lease
        // may have passed to another runner (which fails it once the store is back).
        const left = since + context.leaseMs - Date.now();
        if (left <= 0) {
          this.#unreachable = error;
        } else {
          const wait = Math.min(left, FIRST_RETRY_MS * 2 ** attempt, MAX_RETRY_MS);
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
      }
    }
  }
}
