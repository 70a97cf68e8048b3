import { EventEmitter } from 'node:events';
import { InvalidInputError, RunnerClosedError, UnknownTaskTypeError } from '../errors';
import type { StandardSchemaV1 } from '../standard-schema';
import { observedStore } from '../store/observed';
import { isTransactional, refuseTransaction } from '../store/transactions';
import type { EnqueueOptions, TaskStore } from '../store/types';
import type { TaskEvent, TaskHandler, TaskSnapshot } from '../types';
import { logAsBefore, logNote, type Logger, type LoggerAware } from '../util/logger';
import { integerOption, optionError } from '../util/validate';
import { resolveTaskTypeOptions, type TaskTypeOptions } from './attempt';
import type { CloseOptions, StartOptions, Submission, TaskRunnerEvents, TaskTypeOptionsWithInput } from './calls';
import { JobClaimer } from './claimer';
import type { RunnerContext, StalledInfo } from './context';
import { finishTask } from './finish-task';
import { idempotencyKeyOf } from './idempotency';
import type { TaskDefinition } from './local-task';
import { RunnerObservers, type TaskRunnerObserver } from './observer';
import { resolveRunnerOptions, type ResolvedRunnerOptions, type TaskRunnerOptions } from './options';
import { traceEnqueue } from './tracing';
import { enqueueOptions, queuedSnapshot } from './submission';
import { schemaOption, validateInput } from './validate';

export type { StalledInfo };

/**
 * Runs task handlers with a concurrency limit, and records every change of a task as an event in its store.
 * Status only moves forward: queued -> running -> completed | failed | cancelled.
 *
 * Tasks wait in the store's queue: with the default memory store that is this process; with a shared store (Redis)
 * any runner with `worker: true` that defines the type may claim a task, under a lease it renews while the job runs.
 */
export class TaskRunner extends EventEmitter<TaskRunnerEvents> {
  /** The store the runner writes to and the middleware reads from (a proxy that times its calls for `observe()`). */
  readonly store: TaskStore;
  readonly #options: ResolvedRunnerOptions;
  readonly #context: RunnerContext;
  readonly #defined = new Map<string, TaskDefinition>();
  /** Types declared without a handler (`worker: false`): this runner starts them, others run them. */
  readonly #declared = new Set<string>();
  /** The input schema of each type defined (or declared) with one. */
  readonly #schemas = new Map<string, StandardSchemaV1>();
  readonly #claimer: JobClaimer;
  readonly #observers = new RunnerObservers();
  #closing: Promise<void> | undefined;

  constructor(options?: TaskRunnerOptions) {
    super();
    this.#options = resolveRunnerOptions(options);
    const { store, logger } = this.#options;
    if (logger !== undefined) (store as Partial<LoggerAware>).useLogger?.(logger);
    this.store = observedStore(store, this.#observers.storeListeners);
    this.#context = {
      store: this.store,
      limits: this.#options.limits,
      leaseMs: this.#options.leaseMs,
      jobLimits: this.#options.jobLimits,
      committed: (taskId, event, snapshot) => {
        this.emit('event', taskId, event);
        this.#observers.committed(snapshot, event);
      },
      began: (snapshot) => this.#observers.began(snapshot),
      ended: (snapshot) => this.#observers.ended(snapshot),
      stalled: (taskId, info) => this.emit('stalled', taskId, info),
      report: (error) => this.#report(error),
      logger,
    };
    this.#claimer = new JobClaimer({ context: this.#context, options: this.#options, defined: this.#defined });
  }

  /**
   * Defines (or replaces) the handler of a task type, with its `timeoutMs`, `retries`, `backoffMs` and `stallMs`, and
   * its `input` schema: a Standard Schema v1 validator (zod, valibot, arktype...) that `start()` and `POST /tasks`
   * check every input with before anything is stored; the job gets its output, and TypeScript infers `job.input`
   * from it. A runner with `worker: false` may declare a type without a handler, `define(type, { input })`: it starts
   * such tasks (validating them with the schema), and runners in other processes run them.
   */
  define<Schema extends StandardSchemaV1, Result = unknown>(
    type: string,
    handler: TaskHandler<StandardSchemaV1.InferOutput<Schema>, Result>,
    options: TaskTypeOptionsWithInput<Schema>,
  ): this;
  define<Schema extends StandardSchemaV1>(type: string, options: TaskTypeOptionsWithInput<Schema>): this;
  define<Input = unknown, Result = unknown>(
    type: string,
    handler?: TaskHandler<Input, Result>,
    options?: TaskTypeOptions & { input?: undefined },
  ): this;
  define(
    type: string,
    handlerOrOptions?: TaskHandler | (TaskTypeOptions & { input?: StandardSchemaV1 }),
    maybeOptions?: TaskTypeOptions & { input?: StandardSchemaV1 },
  ): this {
    if (typeof type !== 'string' || type.length === 0) throw optionError('type', 'a non-empty string', type);
    const declaration = typeof handlerOrOptions === 'object' && handlerOrOptions !== null;
    const handler = declaration ? undefined : handlerOrOptions;
    const options = declaration ? handlerOrOptions : maybeOptions;
    const resolved = resolveTaskTypeOptions(options);
    const schema = schemaOption(`input of ${JSON.stringify(type)}`, options?.input);
    if (handler === undefined && !this.#options.worker) {
      this.#declared.add(type);
      this.#setSchema(type, schema);
      return this;
    }
    if (typeof handler !== 'function') {
      const hint = this.#options.worker ? ' (only a runner with `worker: false` may declare a type without one)' : '';
      throw optionError(`handler of ${JSON.stringify(type)}`, `a function${hint}`, handler);
    }
    this.#defined.set(type, { handler, options: resolved });
    this.#setSchema(type, schema);
    this.#claimer.listen();
    this.#claimer.wake();
    return this;
  }

  /** The `logger` option: where the runner (and `sseTasks()`, unless given its own) writes its records. */
  get logger(): Logger | undefined {
    return this.#options.logger;
  }

  /**
   * Tells `observer` what this runner does from now on (see `TaskRunnerObserver`): what `koa-sse-tasks/metrics`
   * counts from. Returns the function that stops telling it.
   */
  observe(observer: TaskRunnerObserver): () => void {
    return this.#observers.add(observer);
  }

  /** The task types defined (or declared) so far. */
  get types(): string[] {
    return [...new Set([...this.#defined.keys(), ...this.#declared])];
  }

  /**
   * Creates a task, `queued`, and queues it for a free slot here or on another worker. Resolves with its first
   * snapshot (with an `idempotencyKey` that already started a task: that task's current snapshot). Rejects with
   * `InvalidInputError` when the type's schema refuses the input, before anything is stored.
   */
  async start<Input = unknown>(type: string, input?: Input, options: StartOptions = {}): Promise<TaskSnapshot> {
    return (await this.submit(type, input, options)).snapshot;
  }

  /**
   * `start()`, saying whether the task was started now or its `idempotencyKey` had started it already (`replayed`):
   * what `POST /tasks` answers with 202 or 200.
   */
  async submit(type: string, input?: unknown, options: StartOptions = {}): Promise<Submission> {
    if (this.#closing !== undefined) throw new RunnerClosedError();
    if (!this.#defined.has(type) && !this.#declared.has(type)) throw new UnknownTaskTypeError(type, this.types);
    if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options);
    const { owner, idempotencyKey, transaction } = options;
    if (owner !== undefined && typeof owner !== 'string') throw optionError('owner', 'a string', owner);
    if (!isTransactional(this.store)) refuseTransaction(this.store.constructor.name || 'This store', { transaction });
    // The request as sent, before the schema fills defaults or transforms it.
    const once = idempotencyKey === undefined ? undefined : idempotencyKeyOf(idempotencyKey, owner, type, input);
    const value = await this.#validate(type, input);
    if (this.#closing !== undefined) throw new RunnerClosedError();
    const snapshot = queuedSnapshot(type, owner);
    const { limits } = this.#context;
    const withTrace = (trace?: string): EnqueueOptions => enqueueOptions(this.types, this.#options, transaction, trace);
    let stored: TaskEvent;
    if (once === undefined) {
      stored = await traceEnqueue(snapshot, (trace) => this.store.enqueue(snapshot, value, limits, withTrace(trace)));
    } else {
      const outcome = await traceEnqueue(snapshot, (trace) =>
        this.store.enqueueOnce(snapshot, value, limits, once, withTrace(trace)),
      );
      if (!outcome.created) return { snapshot: outcome.record.snapshot, replayed: true };
      stored = outcome.event;
    }
    const queued = (event: TaskEvent): void => {
      this.#context.committed(snapshot.id, event, snapshot);
      this.#claimer.wake();
    };
    // In the app's transaction, the task exists once that commits: it is announced (and claimed) then, if ever.
    if (transaction === undefined || !isTransactional(this.store)) queued(stored);
    else void this.store.committed(snapshot.id).then((event) => event && queued(event));
    return { snapshot, replayed: false };
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
    const { logger } = this.#options;
    logNote(logger, 'info', { graceMs }, 'koa-sse-tasks: the task runner is closing: nothing more starts here');
    await this.#claimer.close(graceMs);
    await this.store.close();
    logNote(logger, 'info', {}, 'koa-sse-tasks: the task runner is closed');
  }

  /** The input as the type's schema outputs it, or as given without one; a schema that throws is reported. */
  async #validate(type: string, input: unknown): Promise<unknown> {
    const schema = this.#schemas.get(type);
    if (schema === undefined) return input;
    try {
      return await validateInput(type, schema, input);
    } catch (error) {
      if (!(error instanceof InvalidInputError))
        this.#report(error, `the input schema of ${JSON.stringify(type)} threw`);
      throw error;
    }
  }

  #setSchema(type: string, schema: StandardSchemaV1 | undefined): void {
    if (schema === undefined) this.#schemas.delete(type);
    else this.#schemas.set(type, schema);
  }

  /** To `error` listeners and the logger; to `console` only when there are neither, as before loggers. */
  #report(error: unknown, what = 'a task store operation failed'): void {
    const listened = this.listenerCount('error') > 0;
    if (listened) this.emit('error', error);
    const { logger } = this.#options;
    if (!listened || logger !== undefined) logAsBefore(logger, 'error', { err: error }, `koa-sse-tasks: ${what}`);
  }
}
