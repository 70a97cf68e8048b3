import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { TaskRunner } from '../runner/runner';
import type { TaskEvent, TaskSnapshot } from '../types';
import { FINISHED_STATUSES, isFinished, isTerminalEvent, TASK_EVENTS } from '../vocabulary';
import { PREFIX } from './names';

/** Seconds, for jobs: from a tenth of a second to an hour. */
const DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Seconds, for the wait in the queue: from 10 ms to half an hour. */
const QUEUE_WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800];

const BUILT_IN_EVENTS: ReadonlySet<string> = new Set(TASK_EVENTS);

/**
 * The runner's metrics, counted from what it tells its observers (`runner.observe()`) and its `stalled` events.
 * Returns the function that stops observing.
 */
export function registerRunnerMetrics(registry: Registry, runner: TaskRunner): () => void {
  const registers = [registry];
  const started = new Counter({
    name: `${PREFIX}tasks_started_total`,
    help: 'Tasks whose first attempt started in this process, by type',
    labelNames: ['type'],
    registers,
  });
  const finished = new Counter({
    name: `${PREFIX}tasks_finished_total`,
    help: 'Tasks finished by this process (completed, failed, cancelled), by type and status',
    labelNames: ['type', 'status'],
    registers,
  });
  const running = new Gauge({
    name: `${PREFIX}tasks_running`,
    help: 'Jobs running now in this process (holding a concurrency slot), by type',
    labelNames: ['type'],
    registers,
  });
  const duration = new Histogram({
    name: `${PREFIX}task_duration_seconds`,
    help: "Tasks' run time, from the first attempt's start to the end, observed in the process that ran them",
    labelNames: ['type', 'status'],
    buckets: DURATION_BUCKETS,
    registers,
  });
  const queueWait = new Histogram({
    name: `${PREFIX}task_queue_wait_seconds`,
    help: "Tasks' wait in the queue, from creation to the first start, by type",
    labelNames: ['type'],
    buckets: QUEUE_WAIT_BUCKETS,
    registers,
  });
  const retries = new Counter({
    name: `${PREFIX}task_retries_total`,
    help: 'Attempts retried (after a failure or a timeout) in this process, by type',
    labelNames: ['type'],
    registers,
  });
  const stalled = new Counter({
    name: `${PREFIX}tasks_stalled_total`,
    help: 'Stalls: attempts that went stallMs without progress, by type',
    labelNames: ['type'],
    registers,
  });
  // Counted as plain numbers, read when scraped: a commit costs one addition (prom-client's inc() is ~1 µs).
  const committed = new Map<string, number>([...TASK_EVENTS, 'custom'].map((event) => [event, 0]));
  new Counter({
    name: `${PREFIX}events_committed_total`,
    help: 'Events committed by this process, by event (custom events as "custom")',
    labelNames: ['event'],
    registers,
    collect() {
      this.reset();
      for (const [event, count] of committed) this.inc({ event }, count);
    },
  });

  /** When each job that began here started (performance.now()), until it ends: at most `concurrency` entries. */
  const startedAt = new Map<string, number>();
  const stopObserving = runner.observe({
    began({ id, type, createdAt }: TaskSnapshot) {
      startedAt.set(id, performance.now());
      started.inc({ type });
      running.inc({ type });
      queueWait.observe({ type }, Math.max(0, Date.now() - Date.parse(createdAt)) / 1000);
    },
    ended({ id, type }: TaskSnapshot) {
      startedAt.delete(id);
      running.dec({ type });
    },
    committed(snapshot: TaskSnapshot, event: TaskEvent) {
      const name = BUILT_IN_EVENTS.has(event.event) ? event.event : 'custom';
      committed.set(name, committed.get(name)! + 1);
      const { id, type, status } = snapshot;
      if (event.event === 'status' && status === 'running' && snapshot.attempt !== undefined) retries.inc({ type });
      if (!isTerminalEvent(event.event) || !isFinished(status)) return;
      finished.inc({ type, status });
      const since = startedAt.get(id);
      if (since !== undefined) duration.observe({ type, status }, (performance.now() - since) / 1000);
      startedAt.delete(id);
    },
  });
  const onStalled = (_taskId: string, info: { type: string }): void => stalled.inc({ type: info.type });
  runner.on('stalled', onStalled);
  for (const type of runner.types) {
    for (const counter of [started, retries, stalled]) counter.inc({ type }, 0);
    running.set({ type }, 0);
    for (const status of FINISHED_STATUSES) finished.inc({ type, status }, 0);
  }
  return () => {
    stopObserving();
    runner.off('stalled', onStalled);
  };
}
