import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { QueueFullError, RunnerClosedError, TaskFinishedError, UnknownTaskTypeError } from '../errors';
import { EVENT_FOR_STATUS, isFinished } from '../status';
import type { ClaimedTask, Lease, TaskStore } from '../store/types';
import type { FinishedStatus, Job, TaskEvent, TaskHandler, TaskSnapshot } from '../types';
import { integerOption, optionError } from '../util/validate';
import {
  backoff,
  messageOf,
  resolveTaskTypeOptions,
  runAttempt,
  watchStall,
  type ResolvedTaskTypeOptions,
  type StallWatch,
  type TaskTypeOptions,
} from './attempt';
import { finishElsewhere, type RunnerContext, type StalledInfo } from './context';
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

/** A task type this runner runs: its handler, with the options given to `define()`. */
interface TaskDefinition {
  handler: TaskHandler;
  options: ResolvedTaskTypeOptions;
}

/** A task this runner claimed and runs until it finishes. */
interface LocalTask {
  snapshot: TaskSnapshot;
  input: unknown;
  handler: TaskHandler;
  options: ResolvedTaskTypeOptions;
  /** The current attempt (1, 2...): progress from an earlier, timed-out attempt is ignored. */
  attempt: number;
  /** Behind the current attempt's `job.signal`. */
  controller: AbortController;
  stall: StallWatch;
  /** The chain of this task's commits, so its events reach the store in the order they happened. */
  writes: Promise<unknown>;
  /** Stops watching for the task finishing elsewhere (a cancel from another instance, a takeover). */
  unwatch: () => void;
  /** Settles once the job has returned (or was never started) and its slot is free. */
  done: Promise<unknown>;
}

const CLOSED_MESSAGE = 'The task runner closed before the task finished';
const WORKER_LOST_MESSAGE = 'The worker running the task was lost (its lease expired)';
/** How many tasks one maintenance pass takes over from dead workers. */
const REAP_BATCH = 100;

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
  readonly #local = new Map<string, LocalTask>();
  readonly #claims = new Set<Promise<void>>();
  readonly #lease: Lease;
  #running = 0;
  #closing: Promise<void> | undefined;
  /** Set once the grace of `close()` is over: lease renewals stop. */
  #stopped = false;
  #maintenance: NodeJS.Timeout | undefined;
  #maintaining = false;
  /** Counts wake-ups, so a claim that found nothing knows whether to look again. */
  #wakes = 0;
  #offQueued: Promise<(() => void) | undefined> | undefined;

  constructor(options?: TaskRunnerOptions) {
    super();
    this.#options = resolveRunnerOptions(options);
    this.store = this.#options.store;
    const { historyLimit, maxHistoryBytes, ttlMs } = this.#options;
    this.#context = {
      store: this.store,
      get limits() {
        return { historyLimit, maxHistoryBytes, ttlMs };
      },
      committed: (taskId, event) => this.emit('event', taskId, event),
      stalled: (taskId, info) => this.emit('stalled', taskId, info),
      report: (error) => this.#report(error),
    };
    this.#lease = {
      worker: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      leaseMs: this.#options.leaseMs,
    };
    this.#startMaintenance();
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
    this.#startWorking();
    this.#wake();
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
      createdAt: now,
      updatedAt: now,
    };
    if (options.owner !== undefined) snapshot.owner = options.owner;
    const { maxQueued } = this.#options;
    if ((await this.store.queuedCount(this.types)) >= maxQueued) throw new QueueFullError(maxQueued);
    const stored = await this.store.enqueue(Object.freeze(snapshot), input, this.#context.limits);
    this.emit('event', snapshot.id, stored);
    this.#wake();
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
    const task = this.#local.get(id);
    if (task === undefined || isFinished(task.snapshot.status)) {
      return finishElsewhere(this.#context, id, 'cancelled');
    }
    task.controller.abort(new DOMException('The task was cancelled', 'AbortError'));
    await this.#finish(task, 'cancelled');
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
    void this.#offQueued?.then((off) => off?.());
    if (graceMs > 0 && this.#local.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise((resolve) => (timer = setTimeout(resolve, graceMs)));
      const finished = Promise.allSettled([...this.#local.values()].map((task) => task.done));
      await Promise.race([finished, deadline]);
      clearTimeout(timer);
    }
    this.#stopped = true;
    clearInterval(this.#maintenance);
    const finishing: Array<Promise<unknown>> = [];
    for (const task of this.#local.values()) {
      if (!isFinished(task.snapshot.status)) task.controller.abort(new DOMException(CLOSED_MESSAGE, 'AbortError'));
      finishing.push(this.#finish(task, 'failed', { message: CLOSED_MESSAGE }));
    }
    await Promise.allSettled([...finishing, ...this.#claims]);
    if (!this.store.shared && this.#options.worker) await this.#failQueued();
    await Promise.allSettled([...this.#local.values()].map((task) => task.writes));
    await this.store.close();
  }

  /** A store of this process dies with the runner: what is still queued there can never run. */
  async #failQueued(): Promise<void> {
    const types = this.types;
    for (let claimed = await this.#claim(types); claimed !== undefined; claimed = await this.#claim(types)) {
      await finishElsewhere(this.#context, claimed.snapshot.id, 'failed', { message: CLOSED_MESSAGE }).catch(() => {});
    }
  }

  #claim(types: string[]): Promise<ClaimedTask | undefined> {
    return this.store.claim(types, this.#lease).catch((error: unknown) => {
      this.#report(error);
      return undefined;
    });
  }

  /** A worker wakes up when tasks are queued, by this runner or another. */
  #startWorking(): void {
    if (this.#offQueued !== undefined || !this.#options.worker || this.#closing !== undefined) return;
    this.#offQueued = this.store
      .onQueued(() => this.#wake())
      .catch((error: unknown) => {
        this.#report(error);
        return undefined;
      });
  }

  /**
   * With a shared store, every runner (web instances too, so a task fails even when no worker is left) takes over
   * and fails the tasks of dead workers; a worker also renews its leases and polls the queue.
   */
  #startMaintenance(): void {
    if (!this.store.shared) return;
    const every = Math.max(50, Math.min(1000, Math.floor(this.#options.leaseMs / 3)));
    this.#maintenance = setInterval(() => void this.#maintain(), every);
    this.#maintenance.unref();
  }

  async #maintain(): Promise<void> {
    if (this.#maintaining || this.#stopped) return;
    this.#maintaining = true;
    try {
      const held = [...this.#local.keys()];
      if (held.length > 0) {
        for (const id of await this.store.renew(held, this.#lease)) {
          const task = this.#local.get(id);
          if (task !== undefined)
            this.#finishedElsewhere(task, undefined, 'The task was taken over: its lease was lost');
        }
      }
      if (this.#closing !== undefined) return;
      for (const record of await this.store.reapExpired(this.#lease, REAP_BATCH)) {
        if (this.#closing !== undefined) break;
        await finishElsewhere(this.#context, record.snapshot.id, 'failed', { message: WORKER_LOST_MESSAGE }).catch(
          () => {},
        );
      }
      this.#wake();
    } catch (error) {
      this.#report(error);
    } finally {
      this.#maintaining = false;
    }
  }

  /** Something may have been queued: claim while slots are free. */
  #wake(): void {
    this.#wakes++;
    this.#pump();
  }

  /** Claims queued tasks while slots are free. */
  #pump(): void {
    if (!this.#options.worker || this.#closing !== undefined || this.#defined.size === 0) return;
    const wake = this.#wakes;
    while (this.#running + this.#claims.size < this.#options.concurrency) {
      const claiming: Promise<void> = this.#claim([...this.#defined.keys()]).then((claimed) => {
        this.#claims.delete(claiming);
        // Found nothing, but a task may have been queued while it looked: look again.
        if (claimed === undefined) {
          if (this.#wakes !== wake) this.#pump();
          return;
        }
        if (this.#closing === undefined) {
          this.#run(claimed);
          this.#pump();
        } else {
          void finishElsewhere(this.#context, claimed.snapshot.id, 'failed', { message: CLOSED_MESSAGE }).catch(
            () => {},
          );
        }
      });
      this.#claims.add(claiming);
    }
  }

  #run(claimed: ClaimedTask): void {
    const { snapshot, input, lastEventId } = claimed;
    const { handler, options } = this.#defined.get(snapshot.type)!;
    const task: LocalTask = {
      snapshot: Object.freeze(snapshot),
      input,
      handler,
      options,
      attempt: 1,
      controller: new AbortController(),
      stall: watchStall(undefined, () => {}),
      writes: Promise.resolve(),
      unwatch: () => {},
      done: Promise.resolve(),
    };
    this.#local.set(snapshot.id, task);
    this.#running++;
    task.unwatch = this.store.onFinished(snapshot.id, lastEventId, (finished) =>
      this.#finishedElsewhere(task, finished),
    );
    const running: TaskSnapshot = { ...snapshot, status: 'running', updatedAt: new Date().toISOString() };
    task.done = this.#commit(task, running, 'status', JSON.stringify(running))
      .then(
        () => this.#attempts(task),
        () => {},
      )
      .finally(() => {
        this.#running--;
        this.#forget(task);
        this.#pump();
      })
      .catch(() => {}); // #finish reports its own failures
  }

  /**
   * Runs the attempts of a task until one succeeds, the retries run out, or the task finishes by another hand
   * (cancel, close). A retry runs here, under the same lease, after a `status` event that announces it.
   */
  async #attempts(task: LocalTask): Promise<unknown> {
    const { retries, backoffMs, stallMs } = task.options;
    const attempts = retries + 1;
    for (;;) {
      if (isFinished(task.snapshot.status)) return undefined; // cancelled before it started, or while waiting
      const { attempt, controller } = task;
      const { id, type } = task.snapshot;
      task.stall = watchStall(stallMs, (idleMs) => this.#context.stalled(id, { type, attempt, idleMs }));
      const outcome = await runAttempt({
        handler: task.handler,
        job: this.#job(task, attempt),
        controller,
        options: task.options,
      }).finally(() => task.stall.stop());
      if (isFinished(task.snapshot.status)) return undefined;
      if (outcome.ok) return this.#finish(task, 'completed', undefined, outcome.result);
      if (attempt >= attempts) return this.#finish(task, 'failed', { message: outcome.message });
      task.attempt = attempt + 1;
      task.controller = new AbortController(); // a cancel or close from now on aborts the wait and the next attempt
      const retrying: TaskSnapshot = {
        ...task.snapshot,
        attempt: task.attempt,
        message: `Retrying (${task.attempt}/${attempts}) after: ${outcome.message}`,
        updatedAt: new Date().toISOString(),
      };
      void this.#commit(task, retrying, 'status', JSON.stringify(retrying)).catch(() => {});
      await backoff(backoffMs * 2 ** (attempt - 1), task.controller.signal);
    }
  }

  #job(task: LocalTask, attempt: number): Job {
    const { id, type } = task.snapshot;
    return {
      id,
      type,
      input: task.input,
      attempt,
      signal: task.controller.signal,
      progress: (percent: number, message?: string): void => {
        if (typeof percent !== 'number' || !Number.isFinite(percent) || percent < 0 || percent > 100) {
          throw new RangeError(
            `koa-sse-tasks: expected \`percent\` to be a finite number from 0 to 100, got ${String(percent)} (${typeof percent})`,
          );
        }
        if (message !== undefined && typeof message !== 'string') throw optionError('message', 'a string', message);
        if (isFinished(task.snapshot.status) || task.attempt !== attempt) return;
        task.stall.progressed();
        const next: TaskSnapshot = { ...task.snapshot, progress: percent, updatedAt: new Date().toISOString() };
        if (message !== undefined) next.message = message;
        const data = JSON.stringify(message === undefined ? { percent } : { percent, message });
        void this.#commit(task, next, 'progress', data).catch(() => {});
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
    return committed.finally(() => this.#forget(task)).catch(() => {});
  }

  /** The task finished by another hand (cancelled from another instance, taken over): abort its job, stop writing. */
  #finishedElsewhere(task: LocalTask, finished: TaskSnapshot | undefined, reason?: string): void {
    if (isFinished(task.snapshot.status)) return;
    task.snapshot = Object.freeze(finished ?? { ...task.snapshot, status: 'failed' });
    const message =
      task.snapshot.status === 'cancelled' ? 'The task was cancelled' : (reason ?? 'The task finished elsewhere');
    task.controller.abort(new DOMException(message, 'AbortError'));
    this.#forget(task);
  }

  #forget(task: LocalTask): void {
    if (!isFinished(task.snapshot.status)) return;
    task.unwatch();
    if (this.#local.get(task.snapshot.id) === task) this.#local.delete(task.snapshot.id);
  }

  /** Appends one change to the task's chain of writes; resolves with the stored event. */
  #commit(task: LocalTask, next: TaskSnapshot, event: TaskEvent['event'], data: string): Promise<TaskEvent> {
    task.snapshot = Object.freeze(next);
    const write = task.writes.then(async () => {
      const stored = await this.store.commit(next, { event, data }, this.#context.limits);
      this.#context.committed(next.id, stored);
      return stored;
    });
    task.writes = write.catch((error: unknown) => {
      // Finished elsewhere (a cancel from another instance won the race): this runner's later writes are moot.
      if (error instanceof TaskFinishedError) this.#finishedElsewhere(task, undefined);
      else this.#report(error);
    });
    return write;
  }

  #report(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else console.error('koa-sse-tasks: a task store operation failed:', error);
  }
}
