import type { TaskEvent, TaskSnapshot } from '../types';
import type {
  ClaimedTask,
  CommitCondition,
  CommitLimits,
  JobQueue,
  Lease,
  NewTaskEvent,
  OwnedTask,
  OwnerIndex,
  QueueBound,
  TaskEventListener,
  TaskLog,
  TaskRecord,
  TaskStore,
} from './types';

/** One part per store interface. */
export interface StoreParts {
  log: TaskLog;
  queue: JobQueue;
  owners: OwnerIndex;
}

/**
 * A `TaskStore` made of one part per interface, each member handed to its part, so each part of a store is a module
 * of its own with one job. A store extends it with its parts, and adds `shared` and `close()`.
 */
export abstract class ComposedStore implements TaskStore {
  abstract readonly shared: boolean;
  readonly #log: TaskLog;
  readonly #queue: JobQueue;
  readonly #owners: OwnerIndex;

  constructor({ log, queue, owners }: StoreParts) {
    this.#log = log;
    this.#queue = queue;
    this.#owners = owners;
  }

  commit(
    snapshot: TaskSnapshot,
    event: NewTaskEvent,
    limits: CommitLimits,
    condition?: CommitCondition,
  ): Promise<TaskEvent> {
    return this.#log.commit(snapshot, event, limits, condition);
  }

  read(taskId: string): Promise<TaskRecord | undefined> {
    return this.#log.read(taskId);
  }

  eventsAfter(taskId: string, afterId: string): Promise<TaskEvent[] | undefined> {
    return this.#log.eventsAfter(taskId, afterId);
  }

  subscribe(taskId: string, listener: TaskEventListener): Promise<() => void> {
    return this.#log.subscribe(taskId, listener);
  }

  compareEventIds(a: string, b: string): number {
    return this.#log.compareEventIds(a, b);
  }

  onFinished(taskId: string, afterId: string, listener: (snapshot: TaskSnapshot) => void): () => void {
    return this.#log.onFinished(taskId, afterId, listener);
  }

  enqueue(snapshot: TaskSnapshot, input: unknown, limits: CommitLimits, bound?: QueueBound): Promise<TaskEvent> {
    return this.#queue.enqueue(snapshot, input, limits, bound);
  }

  claim(types: readonly string[], lease: Lease): Promise<ClaimedTask | undefined> {
    return this.#queue.claim(types, lease);
  }

  renew(taskIds: readonly string[], lease: Lease): Promise<string[]> {
    return this.#queue.renew(taskIds, lease);
  }

  reapExpired(lease: Lease, max: number): Promise<TaskRecord[]> {
    return this.#queue.reapExpired(lease, max);
  }

  queuedCount(types: readonly string[]): Promise<number> {
    return this.#queue.queuedCount(types);
  }

  onQueued(listener: () => void): Promise<() => void> {
    return this.#queue.onQueued(listener);
  }

  tasksOf(owner: string): Promise<OwnedTask[]> {
    return this.#owners.tasksOf(owner);
  }

  onOwnerTask(owner: string, listener: (task: OwnedTask) => void): Promise<() => void> {
    return this.#owners.onOwnerTask(owner, listener);
  }

  abstract close(): Promise<void>;
}
