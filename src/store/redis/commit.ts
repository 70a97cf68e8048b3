import { randomBytes } from 'node:crypto';
import { CommitConflictError, QueueFullError, TaskFinishedError } from '../../errors';
import { isFinished } from '../../vocabulary';
import type { TaskEvent, TaskSnapshot } from '../../types';
import type { CommitCondition, CommitLimits, NewTaskEvent, QueueBound } from '../types';
import type { CommandConnection } from './connections';
import type { RedisKeys } from './keys';

/** What a commit queues besides its event: the task's input (JSON), within `bound`. Only `enqueue` gives it. */
export interface QueueWrite {
  input: string;
  bound: QueueBound | undefined;
}

/**
 * Runs the commit script (scripts.ts, COMMIT): the one write of the Redis store, shared by `commit` and `enqueue`.
 * Each call carries a token of its own, so a command that ioredis resends is not stored twice.
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

  async commit(
    snapshot: TaskSnapshot,
    event: NewTaskEvent,
    limits: CommitLimits,
    condition?: CommitCondition,
    queue?: QueueWrite,
  ): Promise<TaskEvent> {
    const id = snapshot.id;
    const keys = this.#keys;
    const bound = queue?.bound;
    const args = [
      JSON.stringify(snapshot),
      snapshot.status,
      event.event,
      event.data,
      limits.historyLimit,
      limits.ttlMs,
      isFinished(snapshot.status) ? '1' : '0',
      condition === undefined ? '' : `c:${condition.ifLastEventId}`,
      id,
      queue === undefined ? '0' : '1',
      queue?.input ?? '',
      snapshot.type,
      snapshot.owner ?? '',
      limits.maxHistoryBytes,
      bound?.maxQueued ?? '',
      // ioredis resends a command whose reply a reset connection lost (autoResendUnfulfilledCommands); the script
      // answers a resend carrying a token it has seen with the id it stored then, so a commit is never stored twice.
      `${this.#tokenPrefix}.${(this.#commits++).toString(36)}`,
      event.previousId ?? '',
      event.clearOutput === true ? 'c' : event.appendOutput !== undefined ? `a${event.appendOutput}` : '',
      ...(bound?.types ?? []),
    ];
    const [outcome, detail] = await this.#command.sseTasksCommit(
      keys.task(id),
      keys.events(id),
      ...keys.leases(),
      keys.queue(snapshot.type),
      keys.queued,
      keys.owner(snapshot.owner ?? ''),
      keys.output(id),
      ...args,
    );
    if (outcome === 'full') throw new QueueFullError(bound?.maxQueued ?? 0);
    if (outcome === 'finished') throw new TaskFinishedError(id, detail ?? 'finished');
    if (outcome === 'conflict' && condition !== undefined) throw new CommitConflictError(id);
    return { id: detail!, event: event.event, data: event.data };
  }
}
