import { IdempotencyKeyReusedError, QueueFullError } from '../../errors';
import { isFinished } from '../../vocabulary';
import type { TaskEvent, TaskSnapshot } from '../../types';
import type {
  ClaimedTask,
  ClaimLimits,
  CommitLimits,
  EnqueueOnceOutcome,
  EnqueueOptions,
  IdempotencyKey,
  JobQueue,
  Lease,
  TaskRecord,
} from '../types';
import { refuseTransaction } from '../transactions';
import { FairQueue } from './fair-queue';
import type { MemoryTaskLog } from './log';

interface Held {
  holder: string;
  deadline: number;
  /** The owner group whose running task this is. */
  group: string;
}

/** The memory store's `JobQueue`: the fair queue (fair-queue.ts), the idempotency keys and the leases of claimed tasks. */
export class MemoryJobQueue implements JobQueue {
  readonly #log: MemoryTaskLog;
  readonly #queue = new FairQueue();
  readonly #leases = new Map<string, Held>();
  /** idempotency key -> its task and fingerprint; forgotten with the task. */
  readonly #keys = new Map<string, { taskId: string; fingerprint: string }>();
  /** task id -> its idempotency key. */
  readonly #keyOf = new Map<string, string>();
  readonly #queuedListeners = new Set<() => void>();

  constructor(log: MemoryTaskLog) {
    this.#log = log;
  }

  async enqueue(
    snapshot: TaskSnapshot,
    input: unknown,
    limits: CommitLimits,
    options?: EnqueueOptions,
  ): Promise<TaskEvent> {
    refuseTransaction('the memory store', options);
    return this.#enqueue(snapshot, input, limits, options);
  }

  async enqueueOnce(
    snapshot: TaskSnapshot,
    input: unknown,
    limits: CommitLimits,
    once: IdempotencyKey,
    options?: EnqueueOptions,
  ): Promise<EnqueueOnceOutcome> {
    refuseTransaction('the memory store', options);
    const known = this.#keys.get(once.key);
    const record = known === undefined ? undefined : this.#log.record(known.taskId);
    if (record !== undefined) {
      if (known!.fingerprint !== once.fingerprint) throw new IdempotencyKeyReusedError();
      return { created: false, record };
    }
    const event = this.#enqueue(snapshot, input, limits, options);
    this.#keys.set(once.key, { taskId: snapshot.id, fingerprint: once.fingerprint });
    this.#keyOf.set(snapshot.id, once.key);
    return { created: true, event };
  }

  async claim(
    types: readonly string[],
    { holder, leaseMs }: Lease,
    limits: ClaimLimits = {},
  ): Promise<ClaimedTask | undefined> {
    for (;;) {
      const queued = this.#queue.pop(types, limits.concurrencyPerOwner);
      if (queued === undefined) return undefined;
      const record = this.#log.record(queued.taskId);
      if (record === undefined || record.snapshot.status !== 'queued') {
        this.#queue.released(queued.group); // never ran: its slot was never taken
        continue;
      }
      this.#leases.set(queued.taskId, { holder, deadline: Date.now() + leaseMs, group: queued.group });
      const claimed: ClaimedTask = { ...record, input: queued.input };
      if (queued.traceparent !== undefined) claimed.traceparent = queued.traceparent;
      return claimed;
    }
  }

  async renew(taskIds: readonly string[], { holder, leaseMs }: Lease): Promise<string[]> {
    const lost: string[] = [];
    for (const taskId of taskIds) {
      const lease = this.#leases.get(taskId);
      const status = this.#log.record(taskId)?.snapshot.status;
      if (status !== undefined && isFinished(status)) lost.push(taskId);
      else if (lease !== undefined && lease.holder !== holder) lost.push(taskId);
      else if (lease !== undefined) this.#leases.set(taskId, { ...lease, holder, deadline: Date.now() + leaseMs });
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
        this.release(taskId);
        continue;
      }
      this.#leases.set(taskId, { ...lease, holder, deadline: now + leaseMs });
      reaped.push(record);
    }
    return reaped;
  }

  async queuedCount(types: readonly string[]): Promise<number> {
    return this.#queue.count(types);
  }

  async onQueued(listener: () => void): Promise<() => void> {
    this.#queuedListeners.add(listener);
    return () => void this.#queuedListeners.delete(listener);
  }

  /**
   * The task finished (the log tells, in the commit's step): a task cancelled while queued leaves the queue, a
   * claimed one gives its lease and its group's running slot back.
   */
  release(taskId: string): void {
    if (this.#queue.drop(taskId)) return;
    const lease = this.#leases.get(taskId);
    if (lease === undefined) return;
    this.#leases.delete(taskId);
    this.#queue.released(lease.group);
  }

  /** The task was forgotten (its TTL passed): so is its idempotency key. */
  forget(taskId: string): void {
    const key = this.#keyOf.get(taskId);
    if (key === undefined) return;
    this.#keyOf.delete(taskId);
    if (this.#keys.get(key)?.taskId === taskId) this.#keys.delete(key);
  }

  close(): void {
    this.#queuedListeners.clear();
  }

  /** Checks the bounds, commits the task's first event and queues it, with nothing in between. */
  #enqueue(snapshot: TaskSnapshot, input: unknown, limits: CommitLimits, options: EnqueueOptions = {}): TaskEvent {
    const { bound } = options;
    const group = snapshot.owner === undefined ? '-' : `o:${snapshot.owner}`;
    if (bound !== undefined) {
      if (this.#queue.count(bound.types) >= bound.maxQueued) throw new QueueFullError(bound.maxQueued);
      const { maxQueuedPerOwner } = bound;
      if (maxQueuedPerOwner !== undefined && this.#queue.countOf(group) >= maxQueuedPerOwner) {
        throw new QueueFullError(maxQueuedPerOwner, 'maxQueuedPerOwner');
      }
    }
    const stored = this.#log.commitNow(snapshot, { event: 'status', data: JSON.stringify(snapshot) }, limits);
    this.#queue.push(snapshot.id, snapshot.type, group, input, options.traceparent);
    for (const listener of this.#queuedListeners) listener();
    return stored;
  }
}
