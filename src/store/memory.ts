import { CommitConflictError, QueueFullError, TaskFinishedError } from '../errors';
import { isFinished, isTerminalEvent } from '../status';
import type { TaskEvent, TaskSnapshot } from '../types';
import type {
  ClaimedTask,
  CommitCondition,
  CommitLimits,
  Lease,
  NewTaskEvent,
  OwnedTask,
  QueueBound,
  TaskEventListener,
  TaskRecord,
  TaskStore,
} from './types';

interface Entry {
  record: TaskRecord;
  /** The newest events, at most `historyLimit`; ids are consecutive integers ending at `sequence`. */
  history: TaskEvent[];
  /** The bytes of `data` in `history`. */
  historyBytes: number;
  sequence: number;
  expiry?: NodeJS.Timeout;
}

interface Queued {
  taskId: string;
  type: string;
  input: unknown;
}

const EVENT_ID = /^[1-9][0-9]{0,14}$/;

/**
 * The default store: everything in this process, nothing to install. Event ids are `1`, `2`, `3`... per task.
 * Finished tasks are forgotten after their TTL by an unref'd timer.
 */
export class MemoryStore implements TaskStore {
  readonly shared = false;
  readonly #tasks = new Map<string, Entry>();
  readonly #listeners = new Map<string, Set<TaskEventListener>>();
  /** Runner-side watchers (`onFinished`), kept apart from subscriptions so they never count as followers. */
  readonly #watchers = new Map<string, Set<TaskEventListener>>();
  readonly #queue: Queued[] = [];
  /** type -> how many entries of that type `#queue` holds. */
  readonly #queuedByType = new Map<string, number>();
  readonly #leases = new Map<string, { holder: string; deadline: number }>();
  readonly #queuedListeners = new Set<() => void>();
  /** owner -> its tasks (id -> position), in creation order; positions count up over all owners. */
  readonly #owners = new Map<string, Map<string, string>>();
  readonly #ownerListeners = new Map<string, Set<(task: OwnedTask) => void>>();
  #ownerSequence = 0;

  async commit(
    snapshot: TaskSnapshot,
    event: NewTaskEvent,
    limits: CommitLimits,
    condition?: CommitCondition,
  ): Promise<TaskEvent> {
    return this.#commitNow(snapshot, event, limits, condition);
  }

  /** A commit as one synchronous step, so `enqueue` can count, commit and queue with nothing in between. */
  #commitNow(
    snapshot: TaskSnapshot,
    { event, data }: NewTaskEvent,
    limits: CommitLimits,
    condition?: CommitCondition,
  ): TaskEvent {
    let entry = this.#tasks.get(snapshot.id);
    if (entry !== undefined && isFinished(entry.record.snapshot.status)) {
      throw new TaskFinishedError(snapshot.id, entry.record.snapshot.status);
    }
    if (condition !== undefined && entry?.record.lastEventId !== condition.ifLastEventId) {
      throw new CommitConflictError(snapshot.id);
    }
    const sequence = (entry?.sequence ?? 0) + 1;
    const stored: TaskEvent = { id: String(sequence), event, data };
    if (entry === undefined) {
      entry = { record: { snapshot, lastEventId: stored.id }, history: [], historyBytes: 0, sequence };
      this.#tasks.set(snapshot.id, entry);
      if (snapshot.owner !== undefined) this.#index(snapshot.owner, snapshot.id);
    } else {
      entry.record = { snapshot, lastEventId: stored.id };
      entry.sequence = sequence;
    }
    entry.history.push(stored);
    entry.historyBytes += Buffer.byteLength(data);
    const { historyLimit, maxHistoryBytes } = limits;
    while (entry.history.length > 1 && (entry.history.length > historyLimit || entry.historyBytes > maxHistoryBytes)) {
      entry.historyBytes -= Buffer.byteLength(entry.history.shift()!.data);
    }
    if (isFinished(snapshot.status)) {
      this.#leases.delete(snapshot.id);
      if (entry.expiry === undefined) this.#expire(snapshot.id, entry, limits.ttlMs);
    }

    const previousId = sequence === 1 ? '' : String(sequence - 1);
    for (const listeners of [this.#listeners.get(snapshot.id), this.#watchers.get(snapshot.id)]) {
      if (listeners !== undefined) for (const listener of listeners) listener(stored, previousId);
    }
    return stored;
  }

  async read(taskId: string): Promise<TaskRecord | undefined> {
    return this.#tasks.get(taskId)?.record;
  }

  async eventsAfter(taskId: string, afterId: string): Promise<TaskEvent[] | undefined> {
    const entry = this.#tasks.get(taskId);
    if (entry === undefined || !EVENT_ID.test(afterId)) return undefined;
    const after = Number(afterId);
    const oldestKept = entry.sequence - entry.history.length + 1;
    // After the latest is unknown; before (oldest kept - 1) the history has a gap we cannot fill.
    if (after > entry.sequence || after < oldestKept - 1) return undefined;
    return entry.history.slice(after - oldestKept + 1);
  }

  async subscribe(taskId: string, listener: TaskEventListener): Promise<() => void> {
    return addTo(this.#listeners, taskId, listener);
  }

  compareEventIds(a: string, b: string): number {
    return Number(a) - Number(b);
  }

  async enqueue(snapshot: TaskSnapshot, input: unknown, limits: CommitLimits, bound?: QueueBound): Promise<TaskEvent> {
    if (bound !== undefined && this.#countQueued(bound.types) >= bound.maxQueued) {
      throw new QueueFullError(bound.maxQueued);
    }
    const stored = this.#commitNow(snapshot, { event: 'status', data: JSON.stringify(snapshot) }, limits);
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
      const record = this.#tasks.get(queued.taskId)?.record;
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
      const status = this.#tasks.get(taskId)?.record.snapshot.status;
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
      const record = this.#tasks.get(taskId)?.record;
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

  #countQueued(types: readonly string[]): number {
    let count = 0;
    for (const type of types) count += this.#queuedByType.get(type) ?? 0;
    return count;
  }

  async onQueued(listener: () => void): Promise<() => void> {
    this.#queuedListeners.add(listener);
    return () => void this.#queuedListeners.delete(listener);
  }

  onFinished(taskId: string, afterId: string, listener: (snapshot: TaskSnapshot) => void): () => void {
    let done = false;
    const remove = addTo(this.#watchers, taskId, (event) => {
      if (done || !isTerminalEvent(event.event) || Number(event.id) <= Number(afterId)) return;
      done = true;
      remove();
      listener(JSON.parse(event.data) as TaskSnapshot);
    });
    return () => {
      done = true;
      remove();
    };
  }

  async tasksOf(owner: string): Promise<OwnedTask[]> {
    return [...(this.#owners.get(owner) ?? [])].map(([taskId, position]) => ({ taskId, position }));
  }

  async onOwnerTask(owner: string, listener: (task: OwnedTask) => void): Promise<() => void> {
    return addTo(this.#ownerListeners, owner, listener);
  }

  /** How many listeners are subscribed, over all tasks: a leak shows here. */
  get subscriptionCount(): number {
    let count = 0;
    for (const listeners of this.#listeners.values()) count += listeners.size;
    return count;
  }

  /** How many tasks are held, finished ones until their TTL passes. */
  get size(): number {
    return this.#tasks.size;
  }

  async close(): Promise<void> {
    for (const entry of this.#tasks.values()) clearTimeout(entry.expiry);
    this.#queuedListeners.clear();
    this.#watchers.clear();
    this.#ownerListeners.clear();
  }

  #index(owner: string, taskId: string): void {
    let tasks = this.#owners.get(owner);
    if (tasks === undefined) this.#owners.set(owner, (tasks = new Map<string, string>()));
    const task: OwnedTask = { taskId, position: String(++this.#ownerSequence) };
    tasks.set(taskId, task.position);
    for (const listener of this.#ownerListeners.get(owner) ?? []) listener(task);
  }

  #expire(taskId: string, entry: Entry, ttlMs: number): void {
    entry.expiry = setTimeout(() => {
      if (this.#tasks.get(taskId) !== entry) return;
      this.#tasks.delete(taskId);
      const owner = entry.record.snapshot.owner;
      const owned = owner === undefined ? undefined : this.#owners.get(owner);
      owned?.delete(taskId);
      if (owned?.size === 0) this.#owners.delete(owner!);
    }, ttlMs);
    entry.expiry.unref();
  }
}

/** Adds `listener` to the set under `key`; the returned function removes it (and the set once empty), once. */
function addTo<L>(map: Map<string, Set<L>>, key: string, listener: L): () => void {
  let listeners = map.get(key);
  if (listeners === undefined) map.set(key, (listeners = new Set()));
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && map.get(key) === listeners) map.delete(key);
  };
}
