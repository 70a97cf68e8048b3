// What a runner tells those who observe it (the metrics): its commits, its jobs' slots, its store's operations.
import type { StoreOperation, StoreOperationListener } from '../store/observed';
import type { TaskEvent, TaskSnapshot } from '../types';
import { optionError } from '../util/validate';

/**
 * An observer of a runner, given to `runner.observe()`: what `koa-sse-tasks/metrics` counts from, and a seam for
 * other instrumentation. Every member is optional and called synchronously, so it must be cheap and must not throw.
 */
export interface TaskRunnerObserver {
  /** An event this runner committed (a start, a status, progress, output, a custom event, an end), with its snapshot. */
  committed?(snapshot: TaskSnapshot, event: TaskEvent): void;
  /** A job was claimed here and its first attempt is about to run: it holds one of this runner's slots. */
  began?(snapshot: TaskSnapshot): void;
  /** A job that `began` here frees its slot: it returned, timed out, or was cancelled or taken over elsewhere. */
  ended?(snapshot: TaskSnapshot): void;
  /**
   * One operation of the runner's store (the middleware's reads included) settled, after `seconds`; `error` is what
   * a failed one threw (a `TaskError` is the store's answer, such as a full queue, not a failure of the store).
   */
  storeOperation?(op: StoreOperation, seconds: number, failed: boolean, error?: unknown): void;
}

/** A runner's observers, and the calls that tell them all. */
export class RunnerObservers {
  readonly #observers: TaskRunnerObserver[] = [];
  /** What the runner's store proxy tells (see `observedStore`): the observers' `storeOperation`s. */
  readonly storeListeners: StoreOperationListener[] = [];

  /** Adds `observer`; returns the function that removes it. */
  add(observer: TaskRunnerObserver): () => void {
    if (typeof observer !== 'object' || observer === null) throw optionError('observer', 'an object', observer);
    const listener = observer.storeOperation?.bind(observer);
    this.#observers.push(observer);
    if (listener !== undefined) this.storeListeners.push(listener);
    return () => {
      remove(this.#observers, observer);
      if (listener !== undefined) remove(this.storeListeners, listener);
    };
  }

  committed(snapshot: TaskSnapshot, event: TaskEvent): void {
    for (const observer of this.#observers) observer.committed?.(snapshot, event);
  }

  began(snapshot: TaskSnapshot): void {
    for (const observer of this.#observers) observer.began?.(snapshot);
  }

  ended(snapshot: TaskSnapshot): void {
    for (const observer of this.#observers) observer.ended?.(snapshot);
  }
}

function remove<T>(list: T[], item: T): void {
  const index = list.indexOf(item);
  if (index !== -1) list.splice(index, 1);
}
