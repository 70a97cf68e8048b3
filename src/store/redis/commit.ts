import { randomBytes } from 'node:crypto';
import { CommitConflictError, TaskFinishedError } from '../../errors';
import { isFinished } from '../../vocabulary';
import type { TaskEvent, TaskSnapshot } from '../../types';
import type { CommitCondition, CommitLimits, NewTaskEvent } from '../types';
import type { RedisConnections } from './connections';
import type { RedisKeys } from './keys';

/**
 * Runs the task's side of every write (scripts/commit.ts: COMMIT, CREATE) and the steps that follow it in other
 * slots: the queue's side of a finished task (FINISH) and the owner's index after a first commit (OWN). Hands out
 * the tokens that the commit script carries, so a command that ioredis resends is not stored twice.
 */
export class RedisCommitter {
  readonly #redis: RedisConnections;
  readonly #keys: RedisKeys;
  /** '1' when the scripts announce their writes (a cluster: ClusterReader). */
  readonly publish: string;
  /** Commit tokens are this (unique per store) and a counter. */
  readonly #tokenPrefix = randomBytes(6).toString('base64url');
  #commits = 0;

  constructor(redis: RedisConnections, keys: RedisKeys) {
    this.#redis = redis;
    this.#keys = keys;
    this.publish = redis.cluster ? '1' : '0';
  }

  /**
   * A token unique to one write call. ioredis resends a command whose reply a reset connection lost
   * (autoResendUnfulfilledCommands); the scripts answer a resend carrying a token they have seen with the id they
   * stored then, so a write is never stored twice.
   */
  token(): string {
    return `${this.#tokenPrefix}.${(this.#commits++).toString(36)}`;
  }

  async commit(
    snapshot: TaskSnapshot,
    event: NewTaskEvent,
    limits: CommitLimits,
    condition?: CommitCondition,
  ): Promise<TaskEvent> {
    const id = snapshot.id;
    const keys = this.#keys;
    const finished = isFinished(snapshot.status);
    const [outcome, detail, first, once] = await this.#redis.command.sseTasksCommit(
      keys.task(id),
      keys.events(id),
      keys.output(id),
      JSON.stringify(snapshot),
      snapshot.status,
      event.event,
      event.data,
      limits.historyLimit,
      limits.ttlMs,
      finished ? '1' : '0',
      condition === undefined ? '' : `c:${condition.ifLastEventId}`,
      limits.maxHistoryBytes,
      this.token(),
      event.previousId ?? '',
      event.clearOutput === true ? 'c' : event.appendOutput !== undefined ? `a${event.appendOutput}` : '',
      this.publish,
    );
    if (outcome === 'finished') throw new TaskFinishedError(id, detail ?? 'finished');
    if (outcome === 'conflict' && condition !== undefined) throw new CommitConflictError(id);
    // The steps in other slots, after the task's own: each is idempotent, and a crash before them is healed (a
    // finished task's lease is reaped, and the reaper runs FINISH; see docs/redis-cluster.md).
    if (first === detail && snapshot.owner !== undefined) await this.own(snapshot.owner, id);
    if (finished) await this.finish(id, limits.ttlMs, once ?? '');
    return { id: detail!, event: event.event, data: event.data };
  }

  /** A queued task's first event (CREATE), once: the enqueuer's, or the claim's that got there first. */
  create(snapshot: string, taskId: string, historyLimit: number | string, once: string): Promise<string> {
    const keys = this.#keys;
    return this.#redis.command.sseTasksCreate(
      keys.task(taskId),
      keys.events(taskId),
      snapshot,
      historyLimit,
      once,
      this.publish,
    );
  }

  /** The queue's side of a finished task (FINISH): lane, lease, running slot, record, idempotency key's TTL. */
  async finish(taskId: string, ttlMs: number, once: string): Promise<void> {
    const keys = this.#keys;
    await this.#redis.command.sseTasksFinish(
      keys.queues,
      ...keys.lanes,
      ...keys.leases(),
      keys.jobs,
      once === '' ? keys.jobs : once,
      taskId,
      ttlMs,
    );
  }

  /** Adds a task to its owner's index (OWN). */
  async own(owner: string, taskId: string): Promise<void> {
    await this.#redis.command.sseTasksOwn(this.#keys.owner(owner), taskId, this.publish);
  }
}
