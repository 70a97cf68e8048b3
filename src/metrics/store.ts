import { Counter, Gauge, type Registry } from 'prom-client';
import { TaskError } from '../errors';
import type { TaskRunner } from '../runner/runner';
import { STORE_OPERATIONS } from '../store/observed';
import { PREFIX } from './names';
import { QuickHistogram } from './quick';

/** Seconds, for store calls: from half a millisecond (memory) to five seconds (a store in trouble). */
const OPERATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

/**
 * The store's metrics, whichever store it is: every call the runner and the middleware make goes through the
 * runner's store proxy, which times it (`storeOperation`); and the queue's depth per type, read when scraped.
 * Returns the function that stops observing.
 */
export function registerStoreMetrics(registry: Registry, runner: TaskRunner, queueReadTimeoutMs: number): () => void {
  const registers = [registry];
  const seconds = new QuickHistogram({
    name: `${PREFIX}store_operation_seconds`,
    help: "The store's operations, by op (the TaskStore method), until their promise settled",
    label: 'op',
    buckets: OPERATION_BUCKETS,
    registry,
  });
  const errors = new Counter({
    name: `${PREFIX}store_errors_total`,
    help: "The store's failed operations, by op (not its refusals, such as a full queue)",
    labelNames: ['op'],
    registers,
  });
  for (const op of STORE_OPERATIONS) errors.inc({ op }, 0);
  const depths = new QueueDepths(runner, queueReadTimeoutMs);
  new Gauge({
    name: `${PREFIX}tasks_queued`,
    help: "Tasks waiting in the store's queue (of every process sharing it), by type; as last read while the store fails",
    labelNames: ['type'],
    registers,
    async collect() {
      for (const [type, count] of await depths.read()) this.set({ type }, count);
    },
  });
  return runner.observe({
    storeOperation(op, took, failed, error) {
      seconds.record(op, took);
      // A TaskError is the store's answer (a full queue, a finished task, a conflict), not its failure.
      if (failed && !(error instanceof TaskError)) errors.inc({ op });
    },
  });
}

/**
 * The queue's depth per type, read with `queuedCount()` at each scrape, and kept: a read that fails or does not
 * answer within `timeoutMs` leaves the counts last read, and no second read starts while one is pending (a store
 * that hangs costs one pending read, not one per scrape).
 */
class QueueDepths {
  readonly #runner: TaskRunner;
  readonly #timeoutMs: number;
  readonly #last = new Map<string, number>();
  #reading: Promise<void> | undefined;

  constructor(runner: TaskRunner, timeoutMs: number) {
    this.#runner = runner;
    this.#timeoutMs = timeoutMs;
  }

  async read(): Promise<ReadonlyMap<string, number>> {
    this.#reading ??= this.#refresh().finally(() => (this.#reading = undefined));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#timeoutMs)));
    await Promise.race([this.#reading, late]);
    clearTimeout(timer);
    return this.#last;
  }

  async #refresh(): Promise<void> {
    const { store, types } = this.#runner;
    await Promise.all(
      types.map(async (type) => {
        try {
          this.#last.set(type, await store.queuedCount([type]));
        } catch {
          // The store is down: the count last read stands, and store_errors_total says why.
        }
      }),
    );
  }
}
