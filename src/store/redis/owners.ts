import type { OwnedTask, OwnerIndex } from '../types';
import type { RedisConnections } from './connections';
import type { RedisKeys } from './keys';
import { field } from './reader';

/**
 * The Redis store's `OwnerIndex`: a stream per owner, one entry per task (written by the commit script with the
 * task's first commit), whose entry ids are the tasks' positions.
 */
export class RedisOwnerIndex implements OwnerIndex {
  readonly #connections: RedisConnections;
  readonly #keys: RedisKeys;

  constructor(connections: RedisConnections, keys: RedisKeys) {
    this.#connections = connections;
    this.#keys = keys;
  }

  async tasksOf(owner: string): Promise<OwnedTask[]> {
    const redis = this.#connections;
    const owned = redis.command.sseTasksOwned(this.#keys.owner(owner), this.#keys.prefix);
    const flat = await redis.timed(owned, 'an owner read');
    const tasks: OwnedTask[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) tasks.push({ position: flat[i]!, taskId: flat[i + 1]! });
    return tasks;
  }

  async onOwnerTask(owner: string, listener: (task: OwnedTask) => void): Promise<() => void> {
    const redis = this.#connections;
    const key = this.#keys.owner(owner);
    const [latest] = await redis.timed(redis.command.xrevrange(key, '+', '-', 'COUNT', 1), 'an owner subscription');
    return redis.reader.follow(key, latest?.[0] ?? '0-0', (position, fields) => {
      const taskId = field(fields, 't');
      if (taskId !== undefined) listener({ taskId, position });
    });
  }
}
