import { CommitConflictError, TaskFinishedError } from '../../errors';
import { isFinished, isTerminalEvent } from '../../vocabulary';
import type { TaskEvent, TaskSnapshot } from '../../types';
import type {
  CommitCondition,
  CommitLimits,
  NewTaskEvent,
  TaskEventListener,
  TaskLog,
  TaskRecord,
  TaskRecordWithOutput,
} from '../types';
import { KeyedListeners } from './listeners';

interface Entry {
  record: TaskRecord;
  /** The newest events, at most `historyLimit`; ids are consecutive integers ending at `sequence`. */
  history: TaskEvent[];
  /** The bytes of `data` in `history`. */
  historyBytes: number;
  sequence: number;
  /** Every `appendOutput` since the last `clearOutput`. */
  output: string;
  expiry?: NodeJS.Timeout;
}

/** What the other parts of the memory store learn from a commit, in the same synchronous step. */
export interface MemoryLogHooks {
  /** A task's first commit: it joins its owner's index. */
  created(snapshot: TaskSnapshot): void;
  /** A task finished: its lease is released. */
  finished(taskId: string): void;
  /** A finished task's TTL passed and it was forgotten: it leaves its owner's index. */
  forgotten(snapshot: TaskSnapshot): void;
}

const EVENT_ID = /^[1-9][0-9]{0,14}$/;

/** The memory store's `TaskLog`: each task's record and bounded history. Event ids are `1`, `2`, `3`... per task. */
export class MemoryTaskLog implements TaskLog {
  readonly #hooks: MemoryLogHooks;
  readonly #tasks = new Map<string, Entry>();
  readonly #subscribers = new KeyedListeners<TaskEventListener>();
  /** Runner-side watchers (`onFinished`), kept apart from subscriptions so they never count as followers. */
  readonly #watchers = new KeyedListeners<TaskEventListener>();

  constructor(hooks: MemoryLogHooks) {
    this.#hooks = hooks;
  }

  async commit(...args: Parameters<TaskLog['commit']>): Promise<TaskEvent> {
    return this.commitNow(...args);
  }

  /** A commit as one synchronous step, so the queue can count, commit and queue with nothing in between. */
  commitNow(
    snapshot: TaskSnapshot,
    { event, data, appendOutput, clearOutput }: NewTaskEvent,
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
      entry = { record: { snapshot, lastEventId: stored.id }, history: [], historyBytes: 0, sequence, output: '' };
      this.#tasks.set(snapshot.id, entry);
      this.#hooks.created(snapshot);
    } else {
      entry.record = { snapshot, lastEventId: stored.id };
      entry.sequence = sequence;
    }
    if (clearOutput === true) entry.output = '';
    if (appendOutput !== undefined) entry.output += appendOutput;
    entry.history.push(stored);
    entry.historyBytes += Buffer.byteLength(data);
    const { historyLimit, maxHistoryBytes } = limits;
    while (entry.history.length > 1 && (entry.history.length > historyLimit || entry.historyBytes > maxHistoryBytes)) {
      entry.historyBytes -= Buffer.byteLength(entry.history.shift()!.data);
    }
    if (isFinished(snapshot.status)) {
      this.#hooks.finished(snapshot.id);
      if (entry.expiry === undefined) this.#expire(snapshot.id, entry, limits.ttlMs);
    }

    const previousId = sequence === 1 ? '' : String(sequence - 1);
    for (const listeners of [this.#subscribers, this.#watchers]) {
      for (const listener of listeners.of(snapshot.id)) listener(stored, previousId);
    }
    return stored;
  }

  /** The task's record, now. */
  record(taskId: string): TaskRecord | undefined {
    return this.#tasks.get(taskId)?.record;
  }

  async read(taskId: string): Promise<TaskRecord | undefined> {
    return this.record(taskId);
  }

  async readWithOutput(taskId: string): Promise<TaskRecordWithOutput | undefined> {
    const entry = this.#tasks.get(taskId);
    return entry === undefined ? undefined : { ...entry.record, output: entry.output };
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
    return this.#subscribers.add(taskId, listener);
  }

  compareEventIds(a: string, b: string): number {
    return Number(a) - Number(b);
  }

  onFinished(taskId: string, afterId: string, listener: (snapshot: TaskSnapshot) => void): () => void {
    let done = false;
    const remove = this.#watchers.add(taskId, (event) => {
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

  /** How many listeners are subscribed, over all tasks. */
  get subscriptionCount(): number {
    return this.#subscribers.size;
  }

  /** How many tasks are held, finished ones until their TTL passes. */
  get size(): number {
    return this.#tasks.size;
  }

  /** Stops the expiry timers and drops the runners' watchers. */
  close(): void {
    for (const entry of this.#tasks.values()) clearTimeout(entry.expiry);
    this.#watchers.clear();
  }

  #expire(taskId: string, entry: Entry, ttlMs: number): void {
    entry.expiry = setTimeout(() => {
      if (this.#tasks.get(taskId) !== entry) return;
      this.#tasks.delete(taskId);
      this.#hooks.forgotten(entry.record.snapshot);
    }, ttlMs);
    entry.expiry.unref();
  }
}
