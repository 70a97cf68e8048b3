import { QueueEvents, type ConnectionOptions, type QueueEventsListener } from 'bullmq';
import { TaskFinishedError } from '../errors';
import { resolveCommitLimits, type CommitLimitOptions } from '../runner/options';
import { EVENT_FOR_STATUS, isFinished } from '../vocabulary';
import { checkStore } from '../store/members';
import type { TaskLog } from '../store/types';
import type { TaskEventName, TaskSnapshot, TaskStatus } from '../types';
import { logAsBefore, loggerOption, type Logger } from '../util/logger';
import { optionError } from '../util/validate';

/**
 * Options of `bridgeBullMQ()`. `historyLimit`, `maxHistoryBytes` and `ttlMs` are the runner's, with its defaults.
 */
export interface BullMQBridgeOptions extends CommitLimitOptions {
  /**
   * The store the app's runner reads from (a `RedisStore` shared with the web instances). The bridge only writes
   * tasks' histories: any `TaskLog` does.
   */
  store: TaskLog;
  /** The BullMQ queue whose jobs become tasks. With `connection`; or give `queueEvents`. */
  queueName?: string;
  /** How BullMQ connects to Redis, as for its own `QueueEvents`. */
  connection?: ConnectionOptions;
  /** BullMQ's key prefix. @default 'bull' (BullMQ's default) */
  prefix?: string;
  /** A `QueueEvents` of your own instead of `queueName`/`connection`; the bridge listens to it but never closes it. */
  queueEvents?: QueueEvents;
  /** Where the bridge reports an event it could not record and a lost event stream. @default `console.error` */
  logger?: Logger;
}

/** The BullMQ events the bridge turns into task events. */
type BridgedEvents = Pick<QueueEventsListener, 'added' | 'active' | 'progress' | 'completed' | 'failed' | 'error'>;

/** A running bridge; `close()` stops listening (and closes the `QueueEvents` it opened). */
export interface BullMQBridge {
  /** Resolves once the bridge listens: jobs added from then on are followed. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Turns the jobs of a BullMQ queue into tasks of `store`, with the BullMQ job id as task id, so `GET /tasks/:id/events`
 * follows them like any task: added -> `status` (queued), active -> `status` (running), `job.updateProgress()` ->
 * `progress`, completed -> `complete`, failed (for good, after its retries) -> `failed`.
 *
 * Run one bridge per queue (in a worker process, say): every bridge commits every event it hears.
 */
export function bridgeBullMQ(options: BullMQBridgeOptions): BullMQBridge {
  if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options);
  const { store, queueName, connection, prefix, queueEvents: given } = options;
  checkStore('store', store, 'the RedisStore your runner uses', ['TaskLog']);
  if (given === undefined && (typeof queueName !== 'string' || queueName === '' || connection === undefined)) {
    throw optionError('queueName', 'a BullMQ queue name, with `connection` (or give `queueEvents`)', queueName);
  }
  const limits = resolveCommitLimits(options);
  const logger = loggerOption('logger', options.logger);
  const events =
    given ?? new QueueEvents(queueName!, { connection: connection!, ...(prefix === undefined ? {} : { prefix }) });
  const type = given?.name ?? queueName!;
  const snapshots = new Map<string, TaskSnapshot>();
  const chains = new Map<string, Promise<void>>();

  /** Applies one change to the job's task, after the job's earlier changes (BullMQ delivers them in order). */
  const apply = (
    jobId: string,
    change: (snapshot: TaskSnapshot) => [TaskSnapshot, TaskEventName, string] | undefined,
  ): void => {
    const previous = chains.get(jobId) ?? Promise.resolve();
    const next = previous.then(async () => {
      const current = snapshots.get(jobId) ?? (await store.read(jobId))?.snapshot ?? fresh(jobId, type);
      const changed = change(current);
      if (changed === undefined) return;
      const [snapshot, event, data] = changed;
      try {
        await store.commit(snapshot, { event, data }, limits);
      } catch (error) {
        if (!(error instanceof TaskFinishedError)) throw error; // cancelled through the API meanwhile: moot
      }
      if (isFinished(snapshot.status)) snapshots.delete(jobId);
      else snapshots.set(jobId, snapshot);
    });
    const settled = next.catch((error: unknown) => {
      const message = `koa-sse-tasks: the BullMQ bridge could not record an event of job ${jobId}`;
      logAsBefore(logger, 'error', { err: error, jobId }, message);
    });
    chains.set(jobId, settled);
    void settled.then(() => {
      if (chains.get(jobId) === settled) chains.delete(jobId);
    });
  };
  /** Moves the job's task to `status`, with the other changes of its snapshot in `extra`. */
  const moveTo = (jobId: string, status: TaskStatus, extra: Partial<TaskSnapshot> = {}): void =>
    apply(jobId, (current) => {
      const snapshot: TaskSnapshot = { ...current, ...extra, status, updatedAt: new Date().toISOString() };
      return [snapshot, EVENT_FOR_STATUS[status], JSON.stringify(snapshot)];
    });

  /** One listener per BullMQ event, added and removed in one loop. */
  const listeners: BridgedEvents = {
    added: ({ jobId, name }) => moveTo(jobId, 'queued', { type: name }), // the job's name is its task's type
    active: ({ jobId }) => moveTo(jobId, 'running'),
    progress: ({ jobId, data }) =>
      apply(jobId, (current) => {
        const { percent, message } = progressOf(data);
        const snapshot: TaskSnapshot = {
          ...current,
          progress: percent ?? current.progress,
          updatedAt: new Date().toISOString(),
        };
        if (message !== undefined) snapshot.message = message;
        const payload =
          message === undefined ? { percent: snapshot.progress } : { percent: snapshot.progress, message };
        return [snapshot, 'progress', JSON.stringify(payload)];
      }),
    completed: ({ jobId, returnvalue }) => moveTo(jobId, 'completed', { progress: 100, result: returnvalue }),
    failed: ({ jobId, failedReason }) => moveTo(jobId, 'failed', { error: { message: failedReason } }),
    error: (error) =>
      logAsBefore(logger, 'error', { err: error }, 'koa-sse-tasks: the BullMQ bridge lost its event stream'),
  };
  const names = Object.keys(listeners) as Array<keyof BridgedEvents>;
  for (const name of names) events.on(name, listeners[name]);
  const stopListening = (): void => {
    for (const name of names) events.off(name, listeners[name]);
  };

  let closing: Promise<void> | undefined;
  return {
    ready: events.waitUntilReady().then(() => undefined),
    close() {
      closing ??= (async () => {
        if (given === undefined) await events.close();
        stopListening();
        await Promise.allSettled([...chains.values()]);
      })();
      return closing;
    },
  };
}

function fresh(jobId: string, type: string): TaskSnapshot {
  const now = new Date().toISOString();
  return { id: jobId, type, status: 'queued', progress: 0, outputLength: 0, createdAt: now, updatedAt: now };
}

/** `job.updateProgress()` takes a number or any object: a number is the percent; `{ percent | progress, message }` too. */
function progressOf(data: unknown): { percent?: number; message?: string } {
  const clamp = (n: unknown): number | undefined =>
    typeof n === 'number' && Number.isFinite(n) ? Math.min(100, Math.max(0, n)) : undefined;
  if (typeof data === 'number') return { percent: clamp(data) };
  if (typeof data === 'object' && data !== null) {
    const { percent, progress, message } = data as { percent?: unknown; progress?: unknown; message?: unknown };
    return { percent: clamp(percent ?? progress), message: typeof message === 'string' ? message : undefined };
  }
  return typeof data === 'string' ? { message: data } : {};
}
