import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ClaimedTask, Lease } from '../store/types';
import { finishElsewhere, type RunnerContext } from './context';
import { LocalTask, type TaskDefinition, type TaskHolder } from './local-task';
import type { ResolvedRunnerOptions } from './options';

export const CLOSED_MESSAGE = 'The task runner closed before the task finished';
const WORKER_LOST_MESSAGE = 'The worker running the task was lost (its lease expired)';
/** How many tasks one maintenance pass takes over from dead workers. */
const REAP_BATCH = 100;

/** What a worker is made of: its runner's context and options, the types it runs, and whether its runner is closing. */
export interface TaskWorkerSetup {
  context: RunnerContext;
  options: Pick<ResolvedRunnerOptions, 'worker' | 'concurrency' | 'leaseMs'>;
  /** The runner's task types; it may define more later, which the next claim picks up. */
  defined: ReadonlyMap<string, TaskDefinition>;
  /** Whether `close()` was called: from then on nothing more is claimed or taken over. */
  closing: () => boolean;
}

/**
 * The runner's side of the store's queue: it claims queued tasks while slots are free, runs each in a `LocalTask`
 * under its lease, renews that lease and, with a shared store, takes over the tasks of dead workers. A runner with
 * `worker: false` claims nothing, but still does the taking over.
 */
export class TaskWorker {
  readonly #context: RunnerContext;
  readonly #options: TaskWorkerSetup['options'];
  readonly #defined: ReadonlyMap<string, TaskDefinition>;
  readonly #closing: () => boolean;
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
  /** Set once the grace of `close()` is over: lease renewals stop. */
  #stopped = false;
  #maintenance: NodeJS.Timeout | undefined;
  #maintaining = false;
  /** Counts wake-ups, so a claim that found nothing knows whether to look again. */
  #wakes = 0;
  #offQueued: Promise<(() => void) | undefined> | undefined;

  constructor({ context, options, defined, closing }: TaskWorkerSetup) {
    this.#context = context;
    this.#options = options;
    this.#defined = defined;
    this.#closing = closing;
    this.#lease = {
      holder: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      leaseMs: options.leaseMs,
    };
    this.#startMaintenance();
  }

  /** The tasks running here, by id, until they finish. */
  get local(): ReadonlyMap<string, LocalTask> {
    return this.#local;
  }

  /** The claims under way. */
  get claims(): ReadonlySet<Promise<void>> {
    return this.#claims;
  }

  /** A worker wakes up when tasks are queued, by this runner or another. */
  listen(): void {
    if (this.#offQueued !== undefined || !this.#options.worker || this.#closing()) return;
    this.#offQueued = this.#context.store
      .onQueued(() => this.wake())
      .catch((error: unknown) => {
        this.#context.report(error);
        return undefined;
      });
  }

  stopListening(): void {
    void this.#offQueued?.then((off) => off?.());
  }

  /** Something may have been queued: claim while slots are free. */
  wake(): void {
    this.#wakes++;
    this.#pump();
  }

  /** The grace of `close()` is over: no more lease renewals, no more maintenance. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#maintenance);
  }

  /** A store of this process dies with the runner: what is still queued there can never run. */
  async failQueued(types: string[]): Promise<void> {
    for (let claimed = await this.#claim(types); claimed !== undefined; claimed = await this.#claim(types)) {
      await this.#fail(claimed.snapshot.id, CLOSED_MESSAGE);
    }
  }

  #claim(types: string[]): Promise<ClaimedTask | undefined> {
    return this.#context.store.claim(types, this.#lease).catch((error: unknown) => {
      this.#context.report(error);
      return undefined;
    });
  }

  /** Fails a task not running here; one that finished meanwhile, or is gone, is left as it is. */
  #fail(id: string, message: string): Promise<unknown> {
    return finishElsewhere(this.#context, id, 'failed', { message }).catch(() => {});
  }

  /**
   * With a shared store, every runner (web instances too, so a task fails even when no worker is left) takes over
   * and fails the tasks of dead workers; a worker also renews its leases and polls the queue.
   */
  #startMaintenance(): void {
    if (!this.#context.store.shared) return;
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
        for (const id of await this.#context.store.renew(held, this.#lease)) {
          const task = this.#local.get(id);
          if (task !== undefined) task.finishedElsewhere(undefined, 'The task was taken over: its lease was lost');
        }
      }
      if (this.#closing()) return;
      for (const record of await this.#context.store.reapExpired(this.#lease, REAP_BATCH)) {
        if (this.#closing()) break;
        await this.#fail(record.snapshot.id, WORKER_LOST_MESSAGE);
      }
      this.wake();
    } catch (error) {
      this.#context.report(error);
    } finally {
      this.#maintaining = false;
    }
  }

  /** Claims queued tasks while slots are free. */
  #pump(): void {
    if (!this.#options.worker || this.#closing() || this.#defined.size === 0) return;
    const wake = this.#wakes;
    while (this.#running + this.#claims.size < this.#options.concurrency) {
      const claiming: Promise<void> = this.#claim([...this.#defined.keys()]).then((claimed) => {
        this.#claims.delete(claiming);
        // Found nothing, but a task may have been queued while it looked: look again.
        if (claimed === undefined) {
          if (this.#wakes !== wake) this.#pump();
          return;
        }
        if (!this.#closing()) {
          this.#run(claimed);
          this.#pump();
        } else {
          void this.#fail(claimed.snapshot.id, CLOSED_MESSAGE);
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
}
