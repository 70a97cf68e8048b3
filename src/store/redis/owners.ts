import type { OwnedTask, OwnerIndex } from '../types';
import type { RedisContext } from './context';
import { field } from './reader';

/**
 * The Redis store's `OwnerIndex`: a stream per owner, one entry per task (written by the commit script with the
 * task's first commit), whose entry ids are the tasks' positions.
 */
export class RedisOwnerIndex implements OwnerIndex {
  readonly #context: RedisContext;

  constructor(context: RedisContext) {
    this.#context = context;
  }

  async tasksOf(owner: string): Promise<OwnedTask[]> {
    const { redis, keys } = this.#context;
    const owned = redis.command.sseTasksOwned(keys.owner(owner), keys.prefix);
    const flat = await redis.timed(owned, 'an owner read');
    const tasks: OwnedTask[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) tasks.push({ position: flat[i]!, taskId: flat[i + 1]! });
    return tasks;
  }

  async onOwnerTask(owner: string, listener: (task: OwnedTask) => void): Promise<() => void> {
    const { redis, keys } = this.#context;
    const key = keys.owner(owner);
    const [latest] = await redis.timed(redis.command.xrevrange(key, '+', '-', 'COUNT', 1), 'an owner subscription');
    return redis.reader.follow(key, latest?.[0] ?? '0-0', (position, fields) => {
      const taskId = field(fields, 't');
      if (taskId !== undefined) listener({ taskId, position });
    });
  }
}
