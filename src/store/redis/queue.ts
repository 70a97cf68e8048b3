import { IdempotencyKeyReusedError, QueueFullError, type QueueLimit } from '../../errors';
import type { TaskEvent, TaskSnapshot } from '../../types';
import type {
  ClaimedTask,
  ClaimLimits,
  CommitLimits,
  EnqueueOnceOutcome,
  EnqueueOptions,
  IdempotencyKey,
  JobQueue,
  Lease,
  TaskRecord,
} from '../types';
import { refuseTransaction } from '../transactions';
import type { RedisContext } from './context';

/**
 * The Redis store's `JobQueue`: the fair queue (a list per type and owner group, a sorted set of the lanes' heads per
 * type, one hash of counters: scripts/shared.ts says how), leases in a sorted set (deadlines) and a hash (holders), and a
 * stream that wakes the runners. Enqueues, claims, renewals and takeovers are each one script, on Redis time.
 */
export class RedisJobQueue implements JobQueue {
  readonly #context: RedisContext;

  constructor(context: RedisContext) {
    this.#context = context;
  }

  async enqueue(
    snapshot: TaskSnapshot,
    input: unknown,
    limits: CommitLimits,
    options?: EnqueueOptions,
  ): Promise<TaskEvent> {
    const outcome = await this.#enqueue(snapshot, input, limits, options, undefined);
    if (!outcome.created) throw new Error('koa-sse-tasks: an enqueue without an idempotency key found a task');
    return outcome.event;
  }

  async enqueueOnce(
    snapshot: TaskSnapshot,
    input: unknown,
    limits: CommitLimits,
    once: IdempotencyKey,
    options?: EnqueueOptions,
  ): Promise<EnqueueOnceOutcome> {
    return this.#enqueue(snapshot, input, limits, options, once);
  }

  async claim(
    types: readonly string[],
    { holder, leaseMs }: Lease,
    limits: ClaimLimits = {},
  ): Promise<ClaimedTask | undefined> {
    if (types.length === 0) return undefined;
    const { redis, keys } = this.#context;
    const claimed = await redis.command.sseTasksClaim(
      ...keys.leases(),
      keys.queues,
      keys.prefix,
      holder,
      leaseMs,
      limits.concurrencyPerOwner ?? '',
      ...types,
    );
    if (claimed == null) return undefined;
    const [, snapshot, lastEventId, input, traceparent] = claimed;
    const task: ClaimedTask = {
      snapshot: JSON.parse(snapshot) as TaskSnapshot,
      lastEventId,
      input: input === '' ? undefined : (JSON.parse(input) as unknown),
    };
    if (traceparent !== '') task.traceparent = traceparent;
    return task;
  }

  async renew(taskIds: readonly string[], { holder, leaseMs }: Lease): Promise<string[]> {
    if (taskIds.length === 0) return [];
    const { redis, keys } = this.#context;
    return redis.command.sseTasksRenew(...keys.leases(), keys.prefix, holder, leaseMs, ...taskIds);
  }

  async reapExpired({ holder, leaseMs }: Lease, max: number): Promise<TaskRecord[]> {
    const { redis, keys } = this.#context;
    const flat = await redis.command.sseTasksReap(...keys.leases(), keys.prefix, holder, leaseMs, max);
    const records: TaskRecord[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      records.push({ snapshot: JSON.parse(flat[i + 1]!) as TaskSnapshot, lastEventId: flat[i + 2]! });
    }
    return records;
  }

  async queuedCount(types: readonly string[]): Promise<number> {
    if (types.length === 0) return 0;
    const { redis, keys } = this.#context;
    const fields = types.map((type) => `type:${type}`);
    const counts = await redis.timed(redis.command.hmget(keys.queues, ...fields), 'a queue count');
    return counts.reduce((sum, count) => sum + (Number(count) || 0), 0);
  }

  async onQueued(listener: () => void): Promise<() => void> {
    const { redis, keys } = this.#context;
    const key = keys.queued;
    const [latest] = await redis.timed(redis.command.xrevrange(key, '+', '-', 'COUNT', 1), 'a queue subscription');
    return redis.reader.follow(key, latest?.[0] ?? '0-0', () => listener());
  }

  /** The enqueue script (scripts/queue.ts, ENQUEUE): the first commit, the fair queue, the bounds and the key, as one step. */
  async #enqueue(
    snapshot: TaskSnapshot,
    input: unknown,
    limits: CommitLimits,
    options: EnqueueOptions = {},
    once: IdempotencyKey | undefined,
  ): Promise<EnqueueOnceOutcome> {
    refuseTransaction('the Redis store', options);
    const { bound } = options;
    let json: string | undefined;
    try {
      json = JSON.stringify(input);
    } catch (error) {
      throw new TypeError(
        `koa-sse-tasks: the input of a task must be JSON-serializable to queue it in Redis: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const { redis, keys, committer } = this.#context;
    const { id, type, owner } = snapshot;
    const data = JSON.stringify(snapshot);
    const [outcome, first, second] = await redis.command.sseTasksEnqueue(
      keys.task(id),
      keys.events(id),
      keys.queues,
      keys.queued,
      keys.owner(owner ?? ''),
      keys.once(once?.key ?? ''),
      keys.prefix,
      id,
      type,
      owner === undefined ? '-' : `o:${owner}`,
      owner ?? '',
      data,
      limits.historyLimit,
      json ?? '',
      committer.token(),
      bound?.maxQueued ?? '',
      bound?.maxQueuedPerOwner ?? '',
      once?.fingerprint ?? '',
      options.traceparent ?? '',
      ...(bound?.types ?? []),
    );
    if (outcome === 'full') {
      const limit = first as QueueLimit;
      throw new QueueFullError(
        (limit === 'maxQueuedPerOwner' ? bound?.maxQueuedPerOwner : bound?.maxQueued) ?? 0,
        limit,
      );
    }
    if (outcome === 'reused') throw new IdempotencyKeyReusedError();
    if (outcome === 'existing') {
      return { created: false, record: { snapshot: JSON.parse(first!) as TaskSnapshot, lastEventId: second! } };
    }
    return { created: true, event: { id: first!, event: 'status', data } };
  }
}
