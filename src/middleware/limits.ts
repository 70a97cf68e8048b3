import { TaskError } from '../errors';

/**
 * Counts the event streams open in this process, in total and per task, and refuses one more past either limit
 * with a 503 (`Retry-After`). Only this process's streams count: each instance protects itself.
 */
export class ConnectionLimits {
  readonly #max: number;
  readonly #maxPerTask: number;
  readonly #retryAfter: string;
  readonly #perTask = new Map<string, number>();
  #total = 0;

  constructor(max: number, maxPerTask: number, retryAfterSeconds: number) {
    this.#max = max;
    this.#maxPerTask = maxPerTask;
    this.#retryAfter = String(retryAfterSeconds);
  }

  /** How many streams hold a slot now. */
  get total(): number {
    return this.#total;
  }

  /** How many tasks have at least one stream counted. */
  get tasks(): number {
    return this.#perTask.size;
  }

  /** Takes one slot, counted for each of `taskIds`, or throws a 503. `release()` it with the same ids, once. */
  acquire(taskIds: readonly string[]): void {
    if (this.#total >= this.#max) {
      throw this.#refuse(`${this.#max} event streams are open (maxConnections)`);
    }
    for (const id of taskIds) {
      if ((this.#perTask.get(id) ?? 0) >= this.#maxPerTask) {
        throw this.#refuse(`${this.#maxPerTask} event streams follow the task ${id} (maxConnectionsPerTask)`);
      }
    }
    this.#total++;
    for (const id of taskIds) this.#perTask.set(id, (this.#perTask.get(id) ?? 0) + 1);
  }

  /** Gives back a slot taken by `acquire(taskIds)`. */
  release(taskIds: readonly string[]): void {
    this.#total--;
    for (const id of taskIds) {
      const left = this.#perTask.get(id)! - 1;
      if (left === 0) this.#perTask.delete(id);
      else this.#perTask.set(id, left);
    }
  }

  #refuse(what: string): TaskError {
    return new TaskError('too_many_connections', 503, `${what}; try again later`, { 'Retry-After': this.#retryAfter });
  }
}
