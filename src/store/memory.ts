import { isFinished } from '../status';
import type { TaskEvent, TaskSnapshot } from '../types';
import type { CommitLimits, NewTaskEvent, TaskEventListener, TaskRecord, TaskStore } from './types';

interface Entry {
  record: TaskRecord;
  /** The newest events, at most `historyLimit`; ids are consecutive integers ending at `sequence`. */
  history: TaskEvent[];
  sequence: number;
  expiry?: NodeJS.Timeout;
}

const EVENT_ID = /^[1-9][0-9]{0,14}$/;

/**
 * The default store: everything in this process, nothing to install. Event ids are `1`, `2`, `3`... per task.
 * Finished tasks are forgotten after their TTL by an unref'd timer.
 */
export class MemoryStore implements TaskStore {
  readonly #tasks = new Map<string, Entry>();
  readonly #listeners = new Map<string, Set<TaskEventListener>>();

  async commit(snapshot: TaskSnapshot, { event, data }: NewTaskEvent, limits: CommitLimits): Promise<TaskEvent> {
    let entry = this.#tasks.get(snapshot.id);
    const sequence = (entry?.sequence ?? 0) + 1;
    const stored: TaskEvent = { id: String(sequence), event, data };
    if (entry === undefined) {
      entry = { record: { snapshot, lastEventId: stored.id }, history: [], sequence };
      this.#tasks.set(snapshot.id, entry);
    } else {
      entry.record = { snapshot, lastEventId: stored.id };
      entry.sequence = sequence;
    }
    entry.history.push(stored);
    if (entry.history.length > limits.historyLimit) entry.history.shift();
    if (isFinished(snapshot.status) && entry.expiry === undefined) this.#expire(snapshot.id, entry, limits.ttlMs);

    const listeners = this.#listeners.get(snapshot.id);
    if (listeners !== undefined) for (const listener of listeners) listener(stored);
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
    let listeners = this.#listeners.get(taskId);
    if (listeners === undefined) this.#listeners.set(taskId, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.#listeners.get(taskId) === listeners) this.#listeners.delete(taskId);
    };
  }

  compareEventIds(a: string, b: string): number {
    return Number(a) - Number(b);
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
  }

  #expire(taskId: string, entry: Entry, ttlMs: number): void {
    entry.expiry = setTimeout(() => {
      if (this.#tasks.get(taskId) === entry) this.#tasks.delete(taskId);
    }, ttlMs);
    entry.expiry.unref();
  }
}
