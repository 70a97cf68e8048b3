import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { StoreUnavailableError } from '../errors';
import { logNote } from '../util/logger';
import { isFinished } from '../vocabulary';
import type { ClaimedTask, ClaimLimits, Lease } from '../store/types';
import type { RunnerContext } from './context';
import { finishTask } from './finish-task';
import { LocalTask, type TaskDefinition, type TaskHolder } from './local-task';
import type { ResolvedRunnerOptions } from './options';
import { detached } from './tracing';

const CLOSED_MESSAGE = 'The task runner closed before the task finished';
const LEASE_EXPIRED_MESSAGE = 'The worker running the task was lost (its lease expired)';
/** How many tasks one maintenance pass takes over from dead runners. */
const REAP_BATCH = 100;
/** Claims sent to the store at once (see #pump). */
const MAX_CLAIMS_IN_FLIGHT = 4;

/** What a claimer is made of: its runner's context and options, and the types it runs. */
export interface JobClaimerSetup {
  context: RunnerContext;
  options: Pick<ResolvedRunnerOptions, 'worker' | 'concurrency' | 'leaseMs' | 'concurrencyPerOwner'>;
  /** The runner's task types; it may define more later, which the next claim picks up. */
  defined: ReadonlyMap<string, TaskDefinition>;
}

/**
 * Everything a runner does with claims on the store's jobs: it claims queued tasks while slots are free (when the
 * runner's `worker` option is true), runs each in a `LocalTask` under its lease, renews the leases it holds and,
 * with a shared store, takes over the expired leases of dead runners to fail their tasks. A runner with
 * `worker: false` claims nothing, but still takes over.
 *
 * Named for the claims rather than "worker": `worker` is the runner's option, which says whether it claims.
 */
export class JobClaimer {
  readonly #context: RunnerContext;
  readonly #options: JobClaimerSetup['options'];
  readonly #defined: ReadonlyMap<string, TaskDefinition>;
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
  /** What every claim respects: `concurrencyPerOwner`. */
  readonly #limits: ClaimLimits;
  #running = 0;
  /** Set by `close()`: from then on nothing more is claimed or taken over. */
  #closing = false;
  /** Set once the grace of `close()` is over: lease renewals stop. */
  #stopped = false;
  #maintenance: NodeJS.Timeout | undefined;
  #maintaining = false;
  /** Counts wake-ups, so a claim that found nothing knows whether to look again. */
  #wakes = 0;
  #offQueued: Promise<(() => void) | undefined> | undefined;

  constructor({ context, options, defined }: JobClaimerSetup) {
    this.#context = context;
    this.#options = options;
    this.#defined = defined;
    this.#lease = {
      holder: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      leaseMs: options.leaseMs,
    };
    const { concurrencyPerOwner } = options;
    this.#limits = concurrencyPerOwner === undefined ? {} : { concurrencyPerOwner };
    this.#startMaintenance();
  }

  /** The task of that id if it runs here and has not finished. */
  running(id: string): LocalTask | undefined {
    const task = this.#local.get(id);
    return task === undefined || isFinished(task.snapshot.status) ? undefined : task;
  }

  /** Wakes up when tasks are queued, by this runner or another (with `worker: true` only). */
  listen(): void {
    if (this.#offQueued !== undefined || !this.#options.worker || this.#closing) return;
    this.#offQueued = this.#context.store
      .onQueued(() => this.wake())
      .catch((error: unknown) => {
        this.#context.report(error);
        return undefined;
      });
  }

  /** Something may have been queued: claim while slots are free. */
  wake(): void {
    this.#wakes++;
    this.#pump();
  }

  /**
   * Claims nothing more; lets the jobs running here go on for `graceMs` (their leases renewed), then fails and aborts
   * those still running. With a store of this process, the tasks still queued fail too: nobody else can run them.
   * Resolves once every claim and every commit of its tasks has been tried.
   */
  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    void this.#offQueued?.then((off) => off?.());
    if (graceMs > 0 && this.#local.size > 0) await this.#grace(graceMs);
    this.#stopped = true;
    clearInterval(this.#maintenance);
    const running = [...this.#local.values()].filter((task) => !isFinished(task.snapshot.status)).length;
    if (running > 0) {
      const message = `koa-sse-tasks: the task runner is closing: failing the ${running} jobs still running`;
      logNote(this.#context.logger, 'warn', { running, graceMs }, message);
    }
    const finishing: Array<Promise<unknown>> = [];
    for (const task of this.#local.values()) {
      if (!isFinished(task.snapshot.status)) task.abort(CLOSED_MESSAGE);
      finishing.push(task.finish('failed', { message: CLOSED_MESSAGE }));
    }
    await Promise.allSettled([...finishing, ...this.#claims]);
    if (!this.#context.store.shared && this.#options.worker) await this.#failQueued();
    await Promise.allSettled([...this.#local.values()].map((task) => task.writes));
  }

  /** Waits until the jobs running here have returned, or `graceMs` has passed. */
  async #grace(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise((resolve) => (timer = setTimeout(resolve, graceMs)));
    const returned = Promise.allSettled([...this.#local.values()].map((task) => task.done));
    await Promise.race([returned, deadline]);
    clearTimeout(timer);
  }

  /**
   * A store of this process dies with the runner: what is still queued there can never run. Claimed without
   * `concurrencyPerOwner`: they are failed, not run.
   */
  async #failQueued(): Promise<void> {
    const types = [...this.#defined.keys()];
    for (let claimed = await this.#claim(types, {}); claimed !== undefined; claimed = await this.#claim(types, {})) {
      await this.#fail(claimed.snapshot.id, CLOSED_MESSAGE);
    }
  }

  #claim(types: string[], limits = this.#limits): Promise<ClaimedTask | undefined> {
    return this.#context.store.claim(types, this.#lease, limits).catch((error: unknown) => {
      this.#report(error);
      return undefined;
    });
  }

  /** Fails a task not running here; one that finished meanwhile, or is gone, is left as it is. */
  #fail(id: string, message: string): Promise<unknown> {
    return finishTask(this.#context, id, 'failed', { message }).catch(() => {});
  }

  /**
   * With a shared store, every runner (web instances too, so a task fails even when no worker is left) takes over
   * and fails the tasks of dead runners; a runner also renews its leases and polls the queue.
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
          const message = 'koa-sse-tasks: a task running here was taken over: its lease was lost; aborting its job';
          logNote(this.#context.logger, 'warn', { taskId: id, holder: this.#lease.holder }, message);
          this.#local.get(id)?.abandon(undefined, 'The task was taken over: its lease was lost');
        }
      }
      if (this.#closing) return;
      for (const record of await this.#context.store.reapExpired(this.#lease, REAP_BATCH)) {
        if (this.#closing) break;
        const { id, type } = record.snapshot;
        const message =
          "koa-sse-tasks: took over a task whose runner's lease expired (the runner was lost); failing it";
        logNote(this.#context.logger, 'warn', { taskId: id, type, holder: this.#lease.holder }, message);
        await this.#fail(id, LEASE_EXPIRED_MESSAGE);
      }
      this.wake();
    } catch (error) {
      this.#report(error);
    } finally {
      this.#maintaining = false;
    }
  }

  /**
   * Reports a failed claim or maintenance pass; not an unreachable store's, which the store reports once per outage
   * itself (these are tried again every pass, and would be reported every second).
   */
  #report(error: unknown): void {
    if (!(error instanceof StoreUnavailableError)) this.#context.report(error);
  }

  /**
   * Claims queued tasks while slots are free, at most MAX_CLAIMS_IN_FLIGHT at once: each claim that finds a task
   * starts the next, so a burst drains at the store's pace, and a wake-up with nothing queued costs a few claims, not
   * one per free slot (with `concurrency: 1000`, every wake-up sent a thousand empty claims to a shared store).
   */
  #pump(): void {
    if (!this.#options.worker || this.#closing || this.#defined.size === 0) return;
    const wake = this.#wakes;
    while (this.#running + this.#claims.size < this.#options.concurrency && this.#claims.size < MAX_CLAIMS_IN_FLIGHT) {
      const claiming: Promise<void> = this.#claim([...this.#defined.keys()]).then((claimed) => {
        this.#claims.delete(claiming);
        // Found nothing, but a task may have been queued while it looked: look again.
        if (claimed === undefined) {
          if (this.#wakes !== wake) this.#pump();
          return;
        }
        if (!this.#closing) {
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
    detached(() => task.start());
  }
}
