import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { QueueFullError, RunnerClosedError, UnknownTaskTypeError } from '../errors';
import { isFinished } from '../status';
import type { ClaimedTask, Lease, TaskStore } from '../store/types';
import type { TaskEvent, TaskHandler, TaskSnapshot } from '../types';
import { integerOption, optionError } from '../util/validate';
import { resolveTaskTypeOptions, type TaskTypeOptions } from './attempt';
import { finishElsewhere, type RunnerContext, type StalledInfo } from './context';
import { LocalTask, type TaskDefinition, type TaskHolder } from './local-task';
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
  readonly #holder: TaskHolder = {
    forget: (task) => {
      if (this.#local.get(task.snapshot.id) === task) this.#local.delete(task.snapshot.id);
    },
    settled: () => {
      this.#running--;
      this.#pump();
    },
  };
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
      if (!isFinished(task.snapshot.status)) task.abort(CLOSED_MESSAGE);
      finishing.push(task.finish('failed', { message: CLOSED_MESSAGE }));
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
          if (task !== undefined) task.finishedElsewhere(undefined, 'The task was taken over: its lease was lost');
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
    const task = new LocalTask(this.#context, this.#holder, claimed, this.#defined.get(claimed.snapshot.type)!);
    this.#local.set(claimed.snapshot.id, task);
    this.#running++;
    task.start();
  }

  #report(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else console.error('koa-sse-tasks: a task store operation failed:', error);
  }
}
