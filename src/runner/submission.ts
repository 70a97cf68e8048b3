// What `runner.submit()` builds before it enqueues: the task's first snapshot, and the options of its enqueue.
import { randomUUID } from 'node:crypto';
import type { EnqueueOptions, QueueBound } from '../store/types';
import type { TaskSnapshot } from '../types';
import type { ResolvedRunnerOptions } from './options';

/** A new task's first snapshot, `queued` and frozen. */
export function queuedSnapshot(type: string, owner: string | undefined): TaskSnapshot {
  const now = new Date().toISOString();
  const snapshot: TaskSnapshot = {
    id: randomUUID(),
    type,
    status: 'queued',
    progress: 0,
    outputLength: 0,
    createdAt: now,
    updatedAt: now,
  };
  if (owner !== undefined) snapshot.owner = owner;
  return Object.freeze(snapshot);
}

/**
 * The options of a task's enqueue: the bounds of the runner's types (`maxQueued`, `maxQueuedPerOwner`), the app's
 * transaction when given one, and the enqueue span's traceparent when traced (the store keeps it with the task, for
 * the spans of its attempts).
 */
export function enqueueOptions(
  types: readonly string[],
  { maxQueued, maxQueuedPerOwner }: Pick<ResolvedRunnerOptions, 'maxQueued' | 'maxQueuedPerOwner'>,
  transaction: unknown,
  traceparent: string | undefined,
): EnqueueOptions {
  const bound: QueueBound = { types, maxQueued };
  if (maxQueuedPerOwner !== undefined) bound.maxQueuedPerOwner = maxQueuedPerOwner;
  const options: EnqueueOptions = { bound };
  if (transaction !== undefined) options.transaction = transaction;
  if (traceparent !== undefined) options.traceparent = traceparent;
  return options;
}
