import { IdempotencyKeyReusedError, QueueFullError, type QueueLimit } from '../../errors';
import type { TaskEvent, TaskSnapshot } from '../../types';
import type {
  ClaimedTask,
  ClaimLimits,
  CommitLimits,
  EnqueueOnceOutcome,
  IdempotencyKey,
  JobQueue,
  Lease,
  EnqueueOptions,
  TaskRecord,
} from '../types';
import { refuseTransaction } from '../transactions';
import { claim, reapExpired, renew } from './claims';
import type { RedisContext } from './context';

/**
 * The Redis store's `JobQueue`: the fair queue (its lanes and their heads in two sorted sets, one hash of counters:
 * scripts/shared.ts says how), the queue's record of each unfinished task, leases in a sorted set (deadlines) and a
 * hash (holders), and a stream that wakes the runners, all in one slot on a cluster. An enqueue is the queue's
 * script (ENQUEUE: bounds, idempotency key, place in the queue, as one step), then the task's (CREATE: its first
 * event) and its owner's (OWN); claims, renewals and takeovers are in claims.ts. On Redis time.
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

  claim(types: readonly string[], lease: Lease, limits: ClaimLimits = {}): Promise<ClaimedTask | undefined> {
    if (types.length === 0) return Promise.resolve(undefined);
    return claim(this.#context, types, lease, limits);
  }

  async renew(taskIds: readonly string[], lease: Lease): Promise<string[]> {
    if (taskIds.length === 0) return [];
    return renew(this.#context, taskIds, lease);
  }

  reapExpired(lease: Lease, max: number): Promise<TaskRecord[]> {
    return reapExpired(this.#context, lease, max);
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

  /** ENQUEUE (the queue's side, one step), then CREATE (the task's first event) and OWN (its owner's index). */
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
    const onceKey = once === undefined ? '' : keys.once(once.key);
    // A key held by a task that is gone may be taken over; a few rounds settle any race over it (ENQUEUE).
    let takeover = '';
    for (let round = 0; ; round++) {
      const [outcome, first, second, third] = await redis.command.sseTasksEnqueue(
        keys.queues,
        ...keys.lanes,
        keys.queued,
        keys.jobs,
        onceKey === '' ? keys.jobs : onceKey,
        id,
        type,
        owner === undefined ? '-' : `o:${owner}`,
        json ?? '',
        data,
        limits.historyLimit,
        bound?.maxQueued ?? '',
        bound?.maxQueuedPerOwner ?? '',
        once?.fingerprint ?? '',
        takeover,
        committer.publish,
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
      if (outcome !== 'check') break;
      const record = await this.#holder(first!, third!);
      if (record !== undefined) {
        if (second !== '1') throw new IdempotencyKeyReusedError();
        return { created: false, record };
      }
      if (round >= 3) throw new Error(`koa-sse-tasks: the idempotency key of task ${id} kept changing hands`);
      takeover = first!;
    }
    // The task's side, then its owner's: the queue holds what a claim needs to write the first event if it is first.
    const event = await committer.create(data, id, limits.historyLimit, onceKey);
    if (owner !== undefined) await committer.own(owner, id);
    return { created: true, event: { id: event, event: 'status', data } };
  }

  /**
   * The task an idempotency key names, if it still exists: its record, or, while it waits in the queue before its
   * enqueuer wrote its first event, the queue's record of it (`job`), from which that event is written now.
   */
  async #holder(taskId: string, job: string): Promise<TaskRecord | undefined> {
    const { redis, keys, committer } = this.#context;
    const read = (): Promise<[string | null, string | null]> =>
      redis.command.hmget(keys.task(taskId), 's', 'l') as Promise<[string | null, string | null]>;
    let [snapshot, lastEventId] = await read();
    if ((snapshot == null || lastEventId == null) && job !== '') {
      const queued = JSON.parse(job) as { s: string; h: string; k: string };
      await committer.create(queued.s, taskId, queued.h, queued.k);
      [snapshot, lastEventId] = await read();
    }
    if (snapshot == null || lastEventId == null) return undefined;
    return { snapshot: JSON.parse(snapshot) as TaskSnapshot, lastEventId };
  }
}
