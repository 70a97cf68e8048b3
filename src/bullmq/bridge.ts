import { QueueEvents, type ConnectionOptions } from 'bullmq';
import { TaskFinishedError } from '../errors';
import { resolveCommitLimits, type CommitLimitOptions } from '../runner/options';
import { EVENT_FOR_STATUS, isFinished } from '../status';
import { checkStore } from '../store/members';
import type { TaskLog } from '../store/types';
import type { FinishedStatus, TaskEventName, TaskSnapshot } from '../types';
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
}

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
      console.error(`koa-sse-tasks: the BullMQ bridge could not record an event of job ${jobId}:`, error);
    });
    chains.set(jobId, settled);
    void settled.then(() => {
      if (chains.get(jobId) === settled) chains.delete(jobId);
    });
  };
  const status = (
    jobId: string,
    status: TaskSnapshot['status'],
    extra: Partial<TaskSnapshot> = {},
    name?: string,
  ): void =>
    apply(jobId, (current) => {
      const snapshot: TaskSnapshot = { ...current, ...extra, status, updatedAt: new Date().toISOString() };
      if (name !== undefined) snapshot.type = name;
      return [snapshot, EVENT_FOR_STATUS[status], JSON.stringify(snapshot)];
    });
  const finish = (jobId: string, finished: FinishedStatus, extra: Partial<TaskSnapshot>): void =>
    status(jobId, finished, extra);

  const listeners = {
    added: ({ jobId, name }: { jobId: string; name: string }) => status(jobId, 'queued', {}, name),
    active: ({ jobId }: { jobId: string }) => status(jobId, 'running'),
    progress: ({ jobId, data }: { jobId: string; data: unknown }) =>
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
    completed: ({ jobId, returnvalue }: { jobId: string; returnvalue: unknown }) =>
      finish(jobId, 'completed', { progress: 100, result: returnvalue }),
    failed: ({ jobId, failedReason }: { jobId: string; failedReason: string }) =>
      finish(jobId, 'failed', { error: { message: failedReason } }),
    error: (error: Error) => console.error('koa-sse-tasks: the BullMQ bridge lost its event stream:', error),
  };
  events.on('added', listeners.added);
  events.on('active', listeners.active);
  events.on('progress', listeners.progress);
  events.on('completed', listeners.completed);
  events.on('failed', listeners.failed);
  events.on('error', listeners.error);
  const stopListening = (): void => {
    events.off('added', listeners.added);
    events.off('active', listeners.active);
    events.off('progress', listeners.progress);
    events.off('completed', listeners.completed);
    events.off('failed', listeners.failed);
    events.off('error', listeners.error);
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
  return { id: jobId, type, status: 'queued', progress: 0, createdAt: now, updatedAt: now };
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
