import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { RunnerClosedError, TaskError, TaskFinishedError, TaskNotFoundError, UnknownTaskTypeError } from '../errors';
import { EVENT_FOR_STATUS, isFinished } from '../status';
import type { TaskStore } from '../store/types';
import type { FinishedStatus, Job, TaskEvent, TaskHandler, TaskSnapshot } from '../types';
import { optionError } from '../util/validate';
import { resolveRunnerOptions, type ResolvedRunnerOptions, type TaskRunnerOptions } from './options';

/** Options of `runner.start()`. */
export interface StartOptions {
  /** Recorded as the task's `owner`; the middleware's default `authorize` compares it with `owner(ctx)`. */
  owner?: string;
}

/** The runner's events: `event` for every event committed by this runner, `error` for a failed store write. */
export interface TaskRunnerEvents {
  event: [taskId: string, event: TaskEvent];
  error: [error: unknown];
}

/** A task this runner owns until it finishes. */
interface LocalTask {
  snapshot: TaskSnapshot;
  input: unknown;
  handler: TaskHandler;
  controller: AbortController;
  /** The chain of this task's commits, so its events reach the store in the order they happened. */
  writes: Promise<unknown>;
}

const CLOSED_MESSAGE = 'The task runner closed before the task finished';

/**
 * Runs task handlers with a concurrency limit and a FIFO queue, and records every change of a task as an event
 * in its store. Status only moves forward: queued -> running -> completed | failed | cancelled.
 */
export class TaskRunner extends EventEmitter<TaskRunnerEvents> {
  /** The store the runner writes to and the middleware reads from. */
  readonly store: TaskStore;
  readonly #options: ResolvedRunnerOptions;
  readonly #handlers = new Map<string, TaskHandler>();
  readonly #local = new Map<string, LocalTask>();
  readonly #queue: LocalTask[] = [];
  #running = 0;
  #closing: Promise<void> | undefined;

  constructor(options?: TaskRunnerOptions) {
    super();
    this.#options = resolveRunnerOptions(options);
    this.store = this.#options.store;
  }

  /** Defines (or replaces) the handler of a task type. */
  define<Input = unknown, Result = unknown>(type: string, handler: TaskHandler<Input, Result>): this {
    if (typeof type !== 'string' || type.length === 0) throw optionError('type', 'a non-empty string', type);
    if (typeof handler !== 'function') throw optionError(`handler of ${JSON.stringify(type)}`, 'a function', handler);
    this.#handlers.set(type, handler as TaskHandler);
    return this;
  }

  /** The task types defined so far. */
  get types(): string[] {
    return [...this.#handlers.keys()];
  }

  /** Creates a task, `queued`, and runs it as soon as a slot is free. Resolves with its first snapshot. */
  async start<Input = unknown>(type: string, input?: Input, options: StartOptions = {}): Promise<TaskSnapshot> {
    if (this.#closing !== undefined) throw new RunnerClosedError();
    const handler = this.#handlers.get(type);
    if (handler === undefined) throw new UnknownTaskTypeError(type, this.types);
    if (options.owner !== undefined && typeof options.owner !== 'string') {
      throw optionError('owner', 'a string', options.owner);
    }
    const now = new Date().toISOString();
    const snapshot: TaskSnapshot = {
      id: randomUUID(),
      type,
      status: 'queued',
      progress: 0,
      createdAt: now,
      updatedAt: now,
    };
    if (options.owner !== undefined) snapshot.owner = options.owner;
    const task: LocalTask = { snapshot, input, handler, controller: new AbortController(), writes: Promise.resolve() };
    this.#local.set(snapshot.id, task);
    try {
      await this.#commit(task, snapshot, 'status', JSON.stringify(snapshot));
    } catch (error) {
      this.#local.delete(snapshot.id);
      throw error;
    }
    this.#queue.push(task);
    this.#pump();
    return snapshot;
  }

  /** The task's latest snapshot, or `undefined` if it is unknown or has expired. */
  async get(id: string): Promise<TaskSnapshot | undefined> {
    return (await this.store.read(id))?.snapshot;
  }

  /**
   * Cancels a queued or running task: it becomes `cancelled` at once and its `job.signal` aborts. A queued task never
   * runs. Rejects with `TaskNotFoundError` or `TaskFinishedError`.
   */
  async cancel(id: string): Promise<TaskSnapshot> {
    const task = this.#local.get(id);
    if (task === undefined) {
      const record = await this.store.read(id);
      if (record === undefined) throw new TaskNotFoundError(id);
      if (isFinished(record.snapshot.status)) throw new TaskFinishedError(id, record.snapshot.status);
      throw new TaskError('task_not_local', 409, `Task ${id} is run by another runner, which this one cannot reach`);
    }
    if (isFinished(task.snapshot.status)) throw new TaskFinishedError(id, task.snapshot.status);
    const queued = this.#queue.indexOf(task);
    if (queued !== -1) this.#queue.splice(queued, 1);
    task.controller.abort(new DOMException('The task was cancelled', 'AbortError'));
    await this.#finish(task, 'cancelled');
    return task.snapshot;
  }

  /**
   * Stops the runner: no new task starts; queued and running tasks become `failed` and their signals abort; the store
   * is closed. Handlers that ignore their signal are not awaited.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#queue.length = 0;
    const finishing: Array<Promise<unknown>> = [];
    for (const task of this.#local.values()) {
      if (!isFinished(task.snapshot.status)) task.controller.abort(new DOMException(CLOSED_MESSAGE, 'AbortError'));
      finishing.push(this.#finish(task, 'failed', { message: CLOSED_MESSAGE }));
    }
    await Promise.allSettled(finishing);
    await this.store.close();
  }

  #pump(): void {
    while (this.#running < this.#options.concurrency && this.#closing === undefined) {
      const task = this.#queue.shift();
      if (task === undefined) return;
      this.#run(task);
    }
  }

  #run(task: LocalTask): void {
    this.#running++;
    const running: TaskSnapshot = { ...task.snapshot, status: 'running', updatedAt: new Date().toISOString() };
    this.#commit(task, running, 'status', JSON.stringify(running)).catch(this.#report);
    const job = this.#job(task);
    new Promise((resolve) => resolve(task.handler(job)))
      .then(
        (result) => this.#finish(task, 'completed', undefined, result),
        (error: unknown) => this.#finish(task, 'failed', { message: messageOf(error) }),
      )
      .finally(() => {
        this.#running--;
        this.#pump();
      })
      .catch(() => {}); // #finish reports its own failures
  }

  #job(task: LocalTask): Job {
    const { id, type } = task.snapshot;
    return {
      id,
      type,
      input: task.input,
      signal: task.controller.signal,
      progress: (percent: number, message?: string): void => {
        if (typeof percent !== 'number' || !Number.isFinite(percent) || percent < 0 || percent > 100) {
          throw new RangeError(
            `koa-sse-tasks: expected \`percent\` to be a finite number from 0 to 100, got ${String(percent)} (${typeof percent})`,
          );
        }
        if (message !== undefined && typeof message !== 'string') throw optionError('message', 'a string', message);
        if (isFinished(task.snapshot.status)) return;
        const next: TaskSnapshot = { ...task.snapshot, progress: percent, updatedAt: new Date().toISOString() };
        if (message !== undefined) next.message = message;
        const data = JSON.stringify(message === undefined ? { percent } : { percent, message });
        this.#commit(task, next, 'progress', data).catch(this.#report);
      },
    };
  }

  /** Moves a task to a finished status once; later calls (a handler returning after its cancel) change nothing. */
  #finish(task: LocalTask, status: FinishedStatus, error?: { message: string }, result?: unknown): Promise<unknown> {
    if (isFinished(task.snapshot.status)) return task.writes;
    let next: TaskSnapshot = { ...task.snapshot, status, updatedAt: new Date().toISOString() };
    if (status === 'completed') Object.assign(next, { progress: 100, result });
    if (error !== undefined) next.error = error;
    let data: string;
    try {
      data = JSON.stringify(next);
    } catch (cause) {
      next = { ...task.snapshot, status: 'failed', updatedAt: next.updatedAt };
      next.error = { message: `The task's result is not JSON-serializable: ${messageOf(cause)}` };
      data = JSON.stringify(next);
    }
    const committed = this.#commit(task, next, EVENT_FOR_STATUS[next.status], data);
    return committed.finally(() => this.#local.delete(task.snapshot.id)).catch(this.#report);
  }

  /** Appends one change to the task's chain of writes; resolves with the stored event. The caller handles failure. */
  #commit(task: LocalTask, next: TaskSnapshot, event: TaskEvent['event'], data: string): Promise<TaskEvent> {
    task.snapshot = Object.freeze(next);
    const { historyLimit, ttlMs } = this.#options;
    const write = task.writes.then(async () => {
      const stored = await this.store.commit(next, { event, data }, { historyLimit, ttlMs });
      this.emit('event', next.id, stored);
      return stored;
    });
    task.writes = write.catch(() => {}); // a failed write must not stop the ones after it

    return write;
  }

  /** Where failed writes nobody awaits go: the runner's `error` event, or the console when nobody listens. */
  readonly #report = (error: unknown): void => {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else console.error('koa-sse-tasks: a task store write failed:', error);
  };
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return typeof error === 'string' ? error : 'The task failed';
}
