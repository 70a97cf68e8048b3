import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { RunnerClosedError, UnknownTaskTypeError } from '../errors';
import type { TaskStore } from '../store/types';
import type { TaskEvent, TaskHandler, TaskSnapshot } from '../types';
import { integerOption, optionError } from '../util/validate';
import { resolveTaskTypeOptions, type TaskTypeOptions } from './attempt';
import { JobClaimer } from './claimer';
import type { RunnerContext, StalledInfo } from './context';
import { finishTask } from './finish-task';
import type { TaskDefinition } from './local-task';
import { resolveRunnerOptions, type ResolvedRunnerOptions, type TaskRunnerOptions } from './options';

export type { StalledInfo };

/** Options of `runner.start()`. */
export interface StartOptions {
  /** Recorded as the task's `owner`; the middleware's default `authorize` compares it with `owner(ctx)`. */
  owner?: string;
}

/** Options of `runner.close()`. */
export interface CloseOptions {
  /**
   * How long the jobs running here may go on to finish by themselves, in ms, before their signals abort and they
   * end `failed`. No new task starts and nothing more is claimed meanwhile. @default 0 (abort at once)
   */
  graceMs?: number;
}

/**
 * The runner's events: `event` for every event committed by this runner, `error` for a failed store write,
 * `stalled` when a job of a type with `stallMs` has gone that long without `job.progress()`.
 */
export interface TaskRunnerEvents {
  event: [taskId: string, event: TaskEvent];
  error: [error: unknown];
  stalled: [taskId: string, info: StalledInfo];
}

/**
 * Runs task handlers with a concurrency limit, and records every change of a task as an event in its store.
 * Status only moves forward: queued -> running -> completed | failed | cancelled.
 *
 * Tasks wait in the store's queue: with the default memory store that is this process; with a shared store (Redis)
 * any runner with `worker: true` that defines the type may claim a task, under a lease it renews while the job runs.
 */
export class TaskRunner extends EventEmitter<TaskRunnerEvents> {
  /** The store the runner writes to and the middleware reads from. */
  readonly store: TaskStore;
  readonly #options: ResolvedRunnerOptions;
  readonly #context: RunnerContext;
  readonly #defined = new Map<string, TaskDefinition>();
  /** Types declared without a handler (`worker: false`): this runner starts them, others run them. */
  readonly #declared = new Set<string>();
  readonly #claimer: JobClaimer;
  #closing: Promise<void> | undefined;

  constructor(options?: TaskRunnerOptions) {
    super();
    this.#options = resolveRunnerOptions(options);
    this.store = this.#options.store;
    this.#context = {
      store: this.store,
      limits: this.#options.limits,
      jobLimits: this.#options.jobLimits,
      committed: (taskId, event) => this.emit('event', taskId, event),
      stalled: (taskId, info) => this.emit('stalled', taskId, info),
      report: (error) => this.#report(error),
    };
    this.#claimer = new JobClaimer({ context: this.#context, options: this.#options, defined: this.#defined });
  }

  /**
   * Defines (or replaces) the handler of a task type, with its `timeoutMs`, `retries`, `backoffMs` and `stallMs`.
   * A runner with `worker: false` may declare a type without a handler: it starts such tasks, and runners in other
   * processes run them.
   */
  define<Input = unknown, Result = unknown>(
    type: string,
    handler?: TaskHandler<Input, Result>,
    options?: TaskTypeOptions,
  ): this {
    if (typeof type !== 'string' || type.length === 0) throw optionError('type', 'a non-empty string', type);
    const resolved = resolveTaskTypeOptions(options);
    if (handler === undefined && !this.#options.worker) {
      this.#declared.add(type);
      return this;
    }
    if (typeof handler !== 'function') {
      const hint = this.#options.worker ? ' (only a runner with `worker: false` may declare a type without one)' : '';
      throw optionError(`handler of ${JSON.stringify(type)}`, `a function${hint}`, handler);
    }
    this.#defined.set(type, { handler: handler as TaskHandler, options: resolved });
    this.#claimer.listen();
    this.#claimer.wake();
    return this;
  }

  /** The task types defined (or declared) so far. */
  get types(): string[] {
    return [...new Set([...this.#defined.keys(), ...this.#declared])];
  }

  /** Creates a task, `queued`, and queues it for a free slot here or on another worker. Resolves with its first snapshot. */
  async start<Input = unknown>(type: string, input?: Input, options: StartOptions = {}): Promise<TaskSnapshot> {
    if (this.#closing !== undefined) throw new RunnerClosedError();
    if (!this.#defined.has(type) && !this.#declared.has(type)) throw new UnknownTaskTypeError(type, this.types);
    if (options.owner !== undefined && typeof options.owner !== 'string') {
      throw optionError('owner', 'a string', options.owner);
    }
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
    if (options.owner !== undefined) snapshot.owner = options.owner;
    const bound = { types: this.types, maxQueued: this.#options.maxQueued };
    const stored = await this.store.enqueue(Object.freeze(snapshot), input, this.#context.limits, bound);
    this.emit('event', snapshot.id, stored);
    this.#claimer.wake();
    return snapshot;
  }

  /** The task's latest snapshot, or `undefined` if it is unknown or has expired. */
  async get(id: string): Promise<TaskSnapshot | undefined> {
    return (await this.store.read(id))?.snapshot;
  }

  /**
   * Cancels a queued or running task, wherever it runs: it becomes `cancelled` at once and its `job.signal` aborts.
   * A queued task never runs. Rejects with `TaskNotFoundError` or `TaskFinishedError`.
   */
  async cancel(id: string): Promise<TaskSnapshot> {
    const task = this.#claimer.running(id);
    if (task === undefined) return finishTask(this.#context, id, 'cancelled');
    task.abort('The task was cancelled');
    await task.finish('cancelled');
    const record = await this.store.read(id);
    return record?.snapshot ?? task.snapshot;
  }

  /**
   * Stops the runner: no new task starts (`start()` rejects with `RunnerClosedError`) and nothing more is claimed.
   * The jobs running here get `graceMs` to finish by themselves (their leases are renewed meanwhile); then those
   * still running become `failed` and their signals abort, which releases their leases. With a store of this
   * process, queued tasks fail too (a shared store keeps them for other workers). Then the store is closed.
   * Handlers that ignore their signal are not awaited. Later calls return the same promise.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this.#closing === undefined) {
      if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options);
      const graceMs = integerOption('graceMs', options.graceMs ?? 0, 0);
      this.#closing = this.#close(graceMs);
    }
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    await this.#claimer.close(graceMs);
    await this.store.close();
  }

  #report(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else console.error('koa-sse-tasks: a task store operation failed:', error);
  }
}
