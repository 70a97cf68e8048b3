import { QueueFullError } from '../../errors';
import { isFinished } from '../../vocabulary';
import type { TaskEvent, TaskSnapshot } from '../../types';
import type { ClaimedTask, CommitLimits, JobQueue, Lease, QueueBound, TaskRecord } from '../types';
import type { MemoryTaskLog } from './log';

interface Queued {
  taskId: string;
  type: string;
  input: unknown;
}

/** The memory store's `JobQueue`: queued tasks in order, and the leases of claimed ones. */
export class MemoryJobQueue implements JobQueue {
  readonly #log: MemoryTaskLog;
  readonly #queue: Queued[] = [];
  /** type -> how many entries of that type `#queue` holds. */
  readonly #queuedByType = new Map<string, number>();
  readonly #leases = new Map<string, { holder: string; deadline: number }>();
  readonly #queuedListeners = new Set<() => void>();

  constructor(log: MemoryTaskLog) {
    this.#log = log;
  }

  async enqueue(snapshot: TaskSnapshot, input: unknown, limits: CommitLimits, bound?: QueueBound): Promise<TaskEvent> {
    if (bound !== undefined && this.#countQueued(bound.types) >= bound.maxQueued) {
      throw new QueueFullError(bound.maxQueued);
    }
    const stored = this.#log.commitNow(snapshot, { event: 'status', data: JSON.stringify(snapshot) }, limits);
    this.#queue.push({ taskId: snapshot.id, type: snapshot.type, input });
    this.#queuedByType.set(snapshot.type, (this.#queuedByType.get(snapshot.type) ?? 0) + 1);
    for (const listener of this.#queuedListeners) listener();
    return stored;
  }

  async claim(types: readonly string[], { holder, leaseMs }: Lease): Promise<ClaimedTask | undefined> {
    for (let i = 0; i < this.#queue.length; i++) {
      const queued = this.#queue[i]!;
      if (!types.includes(queued.type)) continue;
      this.#queue.splice(i--, 1);
      const left = this.#queuedByType.get(queued.type)! - 1;
      if (left === 0) this.#queuedByType.delete(queued.type);
      else this.#queuedByType.set(queued.type, left);
      const record = this.#log.record(queued.taskId);
      if (record === undefined || record.snapshot.status !== 'queued') continue; // cancelled while queued
      this.#leases.set(queued.taskId, { holder, deadline: Date.now() + leaseMs });
      return { ...record, input: queued.input };
    }
    return undefined;
  }

  async renew(taskIds: readonly string[], { holder, leaseMs }: Lease): Promise<string[]> {
    const lost: string[] = [];
    for (const taskId of taskIds) {
      const lease = this.#leases.get(taskId);
      const status = this.#log.record(taskId)?.snapshot.status;
      if (status !== undefined && isFinished(status)) lost.push(taskId);
      else if (lease !== undefined && lease.holder !== holder) lost.push(taskId);
      else this.#leases.set(taskId, { holder, deadline: Date.now() + leaseMs });
    }
    return lost;
  }

  async reapExpired({ holder, leaseMs }: Lease, max: number): Promise<TaskRecord[]> {
    const now = Date.now();
    const reaped: TaskRecord[] = [];
    for (const [taskId, lease] of this.#leases) {
      if (reaped.length >= max) break;
      if (lease.deadline > now) continue;
      const record = this.#log.record(taskId);
      if (record === undefined || isFinished(record.snapshot.status)) {
        this.#leases.delete(taskId);
        continue;
      }
      this.#leases.set(taskId, { holder, deadline: now + leaseMs });
      reaped.push(record);
    }
    return reaped;
  }

  async queuedCount(types: readonly string[]): Promise<number> {
    return this.#countQueued(types);
  }

  async onQueued(listener: () => void): Promise<() => void> {
    this.#queuedListeners.add(listener);
    return () => void this.#queuedListeners.delete(listener);
  }

  /** The task finished: its lease, if any, goes with it (the log tells, in the commit's step). */
  release(taskId: string): void {
    this.#leases.delete(taskId);
  }

  close(): void {
    this.#queuedListeners.clear();
  }

  #countQueued(types: readonly string[]): number {
    let count = 0;
    for (const type of types) count += this.#queuedByType.get(type) ?? 0;
    return count;
  }
}
