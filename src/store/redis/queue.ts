import type { TaskEvent, TaskSnapshot } from '../../types';
import type { ClaimedTask, CommitLimits, JobQueue, Lease, NewTaskEvent, QueueBound, TaskRecord } from '../types';
import type { RedisContext } from './context';

/**
 * The Redis store's `JobQueue`: a list of queued ids per type, leases in a sorted set (deadlines) and a hash
 * (holders), and a stream that wakes the runners. Claims, renewals and takeovers are each one script, on Redis time.
 */
export class RedisJobQueue implements JobQueue {
  readonly #context: RedisContext;

  constructor(context: RedisContext) {
    this.#context = context;
  }

  async enqueue(snapshot: TaskSnapshot, input: unknown, limits: CommitLimits, bound?: QueueBound): Promise<TaskEvent> {
    let json: string | undefined;
    try {
      json = JSON.stringify(input);
    } catch (error) {
      throw new TypeError(
        `koa-sse-tasks: the input of a task must be JSON-serializable to queue it in Redis: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const event: NewTaskEvent = { event: 'status', data: JSON.stringify(snapshot) };
    return this.#context.committer.commit(snapshot, event, limits, undefined, { input: json ?? '', bound });
  }

  async claim(types: readonly string[], { holder, leaseMs }: Lease): Promise<ClaimedTask | undefined> {
    if (types.length === 0) return undefined;
    const { redis, keys } = this.#context;
    const claimed = await redis.command.sseTasksClaim(...keys.leases(), keys.prefix, holder, leaseMs, ...types);
    if (claimed == null) return undefined;
    const [, snapshot, lastEventId, input] = claimed;
    return {
      snapshot: JSON.parse(snapshot) as TaskSnapshot,
      lastEventId,
      input: input === '' ? undefined : (JSON.parse(input) as unknown),
    };
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
    const pipeline = redis.command.pipeline();
    for (const type of types) pipeline.llen(keys.queue(type));
    const answers = (await redis.timed(pipeline.exec(), 'a queue count')) ?? [];
    return answers.reduce((sum, [error, count]) => (error === null ? sum + Number(count) : sum), 0);
  }

  async onQueued(listener: () => void): Promise<() => void> {
    const { redis, keys } = this.#context;
    const key = keys.queued;
    const [latest] = await redis.timed(redis.command.xrevrange(key, '+', '-', 'COUNT', 1), 'a queue subscription');
    return redis.reader.follow(key, latest?.[0] ?? '0-0', () => listener());
  }
}
