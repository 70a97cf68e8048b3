import type { JobQueue, OwnerIndex, TaskLog, TaskStore } from './types';

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

  commit(...args: Parameters<TaskLog['commit']>): ReturnType<TaskLog['commit']> {
    return this.#log.commit(...args);
  }

  read(...args: Parameters<TaskLog['read']>): ReturnType<TaskLog['read']> {
    return this.#log.read(...args);
  }

  readWithOutput(...args: Parameters<TaskLog['readWithOutput']>): ReturnType<TaskLog['readWithOutput']> {
    return this.#log.readWithOutput(...args);
  }

  eventsAfter(...args: Parameters<TaskLog['eventsAfter']>): ReturnType<TaskLog['eventsAfter']> {
    return this.#log.eventsAfter(...args);
  }

  subscribe(...args: Parameters<TaskLog['subscribe']>): ReturnType<TaskLog['subscribe']> {
    return this.#log.subscribe(...args);
  }

  compareEventIds(...args: Parameters<TaskLog['compareEventIds']>): number {
    return this.#log.compareEventIds(...args);
  }

  onFinished(...args: Parameters<TaskLog['onFinished']>): ReturnType<TaskLog['onFinished']> {
    return this.#log.onFinished(...args);
  }

  enqueue(...args: Parameters<JobQueue['enqueue']>): ReturnType<JobQueue['enqueue']> {
    return this.#queue.enqueue(...args);
  }

  enqueueOnce(...args: Parameters<JobQueue['enqueueOnce']>): ReturnType<JobQueue['enqueueOnce']> {
    return this.#queue.enqueueOnce(...args);
  }

  claim(...args: Parameters<JobQueue['claim']>): ReturnType<JobQueue['claim']> {
    return this.#queue.claim(...args);
  }

  renew(...args: Parameters<JobQueue['renew']>): ReturnType<JobQueue['renew']> {
    return this.#queue.renew(...args);
  }

  reapExpired(...args: Parameters<JobQueue['reapExpired']>): ReturnType<JobQueue['reapExpired']> {
    return this.#queue.reapExpired(...args);
  }

  queuedCount(...args: Parameters<JobQueue['queuedCount']>): ReturnType<JobQueue['queuedCount']> {
    return this.#queue.queuedCount(...args);
  }

  onQueued(...args: Parameters<JobQueue['onQueued']>): ReturnType<JobQueue['onQueued']> {
    return this.#queue.onQueued(...args);
  }

  tasksOf(...args: Parameters<OwnerIndex['tasksOf']>): ReturnType<OwnerIndex['tasksOf']> {
    return this.#owners.tasksOf(...args);
  }

  onOwnerTask(...args: Parameters<OwnerIndex['onOwnerTask']>): ReturnType<OwnerIndex['onOwnerTask']> {
    return this.#owners.onOwnerTask(...args);
  }

  abstract close(): Promise<void>;
}
