import { randomBytes } from 'node:crypto';
import { CommitConflictError, TaskFinishedError } from '../../errors';
import { isFinished } from '../../vocabulary';
import type { TaskEvent, TaskSnapshot } from '../../types';
import type { CommitCondition, CommitLimits, NewTaskEvent } from '../types';
import type { CommandConnection } from './connections';
import type { RedisKeys } from './keys';

/**
 * Runs the commit script (scripts/commit.ts, COMMIT): every write of the Redis store after a task's first, and hands out the
 * tokens that the commit and enqueue scripts carry, so a command that ioredis resends is not stored twice.
 */
export class RedisCommitter {
  readonly #command: CommandConnection;
  readonly #keys: RedisKeys;
  /** Commit tokens are this (unique per store) and a counter. */
  readonly #tokenPrefix = randomBytes(6).toString('base64url');
  #commits = 0;

  constructor(command: CommandConnection, keys: RedisKeys) {
    this.#command = command;
    this.#keys = keys;
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
    const [outcome, detail] = await this.#command.sseTasksCommit(
      keys.task(id),
      keys.events(id),
      ...keys.leases(),
      keys.queues,
      keys.owner(snapshot.owner ?? ''),
      keys.output(id),
      JSON.stringify(snapshot),
      snapshot.status,
      event.event,
      event.data,
      limits.historyLimit,
      limits.ttlMs,
      isFinished(snapshot.status) ? '1' : '0',
      condition === undefined ? '' : `c:${condition.ifLastEventId}`,
      id,
      snapshot.type,
      snapshot.owner ?? '',
      limits.maxHistoryBytes,
      this.token(),
      event.previousId ?? '',
      keys.prefix,
      event.clearOutput === true ? 'c' : event.appendOutput !== undefined ? `a${event.appendOutput}` : '',
    );
    if (outcome === 'finished') throw new TaskFinishedError(id, detail ?? 'finished');
    if (outcome === 'conflict' && condition !== undefined) throw new CommitConflictError(id);
    return { id: detail!, event: event.event, data: event.data };
  }
}
