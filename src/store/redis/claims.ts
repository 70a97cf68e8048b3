import { isFinished } from '../../vocabulary';
import type { TaskSnapshot, TaskStatus } from '../../types';
import type { ClaimedTask, ClaimLimits, Lease, TaskRecord } from '../types';
import type { RedisContext } from './context';

/** A task as the queue's steps need it: its record, whether it finished, its idempotency key and time to live. */
interface QueuedTask extends TaskRecord {
  finished: boolean;
  once: string;
  ttlMs: number;
}

/**
 * The claim, renew and takeover steps of the Redis store's queue. Each is a queue script (scripts/queue.ts,
 * scripts/leases.ts) and then a read of the tasks it names, whose keys are in other slots on a cluster; a task found
 * finished there (its FINISH not yet run: it was cancelled between the two, or its writer died) is finished here.
 */
export async function claim(
  context: RedisContext,
  types: readonly string[],
  { holder, leaseMs }: Lease,
  limits: ClaimLimits,
): Promise<ClaimedTask | undefined> {
  const { redis, keys, committer } = context;
  for (;;) {
    const claimed = await redis.command.sseTasksClaim(
      keys.queues,
      ...keys.lanes,
      ...keys.leases(),
      keys.jobs,
      holder,
      leaseMs,
      limits.concurrencyPerOwner ?? '',
      ...types,
    );
    if (claimed == null) return undefined;
    const [id, input, snapshot, historyLimit, once, traceparent] = claimed;
    // The claim may come before the enqueuer's CREATE: then it writes the first event itself, from the queue's record.
    let task = await readTask(context, id);
    if (task === undefined) {
      await committer.create(snapshot, id, historyLimit, once);
      task = await readTask(context, id);
    }
    if (task === undefined || task.finished) {
      await committer.finish(id, task?.ttlMs ?? 1, task?.once ?? once);
      continue;
    }
    const claim: ClaimedTask = {
      snapshot: task.snapshot,
      lastEventId: task.lastEventId,
      input: input === '' ? undefined : (JSON.parse(input) as unknown),
    };
    if (traceparent !== undefined && traceparent !== '') claim.traceparent = traceparent;
    return claim;
  }
}

export async function renew(context: RedisContext, taskIds: readonly string[], lease: Lease): Promise<string[]> {
  const { redis, keys } = context;
  const statuses = await Promise.all(taskIds.map((id) => redis.command.hget(keys.task(id), 'st')));
  const finished = taskIds.filter((_, i) => isFinished((statuses[i] ?? 'running') as TaskStatus));
  const unfinished = taskIds.filter((_, i) => !isFinished((statuses[i] ?? 'running') as TaskStatus));
  if (unfinished.length === 0) return finished;
  const lost = await redis.command.sseTasksRenew(...keys.leases(), lease.holder, lease.leaseMs, ...unfinished);
  return [...finished, ...lost];
}

export async function reapExpired(
  context: RedisContext,
  { holder, leaseMs }: Lease,
  max: number,
): Promise<TaskRecord[]> {
  const { redis, keys, committer } = context;
  const ids = await redis.command.sseTasksReap(...keys.leases(), holder, leaseMs, max);
  const records: TaskRecord[] = [];
  for (const id of ids) {
    const task = await readTask(context, id);
    if (task === undefined || task.finished) await committer.finish(id, task?.ttlMs ?? 1, task?.once ?? '');
    else records.push({ snapshot: task.snapshot, lastEventId: task.lastEventId });
  }
  return records;
}

/** The task's hash and time to live, in one MULTI (its keys share a slot). */
async function readTask(context: RedisContext, taskId: string): Promise<QueuedTask | undefined> {
  const { redis, keys } = context;
  const key = keys.task(taskId);
  const answers = await redis.command.multi().hmget(key, 's', 'l', 'st', 'k').pttl(key).exec();
  const failed = answers?.find(([error]) => error !== null)?.[0];
  if (failed) throw failed;
  const [snapshot, lastEventId, status, once] = (answers?.[0]?.[1] ?? []) as Array<string | null>;
  const ttl = Number(answers?.[1]?.[1]);
  if (snapshot == null || lastEventId == null) return undefined;
  return {
    snapshot: JSON.parse(snapshot) as TaskSnapshot,
    lastEventId,
    finished: isFinished((status ?? 'running') as TaskStatus),
    once: once ?? '',
    ttlMs: ttl > 0 ? ttl : 1,
  };
}
