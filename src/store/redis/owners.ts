import type { OwnedTask, OwnerIndex } from '../types';
import type { RedisContext } from './context';
import { field } from './reader';

/**
 * The Redis store's `OwnerIndex`: a stream per owner, one entry per task (written by OWN after the task's first
 * commit), whose entry ids are the tasks' positions.
 */
export class RedisOwnerIndex implements OwnerIndex {
  readonly #context: RedisContext;

  constructor(context: RedisContext) {
    this.#context = context;
  }

  /**
   * The owner's tasks that still exist, oldest first (a task listed twice, by a resent OWN, once). Entries of
   * forgotten tasks are deleted (PRUNE), and so is an index left empty.
   */
  async tasksOf(owner: string): Promise<OwnedTask[]> {
    const { redis, keys } = this.#context;
    const key = keys.owner(owner);
    const entries = await redis.timed(redis.command.xrange(key, '-', '+'), 'an owner read');
    const exists = await redis.timed(
      Promise.all(entries.map(([, fields]) => redis.command.exists(keys.task(field(fields, 't') ?? '')))),
      'an owner read',
    );
    const tasks: OwnedTask[] = [];
    const listed = new Set<string>();
    const forgotten: string[] = [];
    for (const [i, [position, fields]] of entries.entries()) {
      const taskId = field(fields, 't') ?? '';
      if (exists[i] !== 1) forgotten.push(position);
      else if (!listed.has(taskId)) {
        listed.add(taskId);
        tasks.push({ position, taskId });
      }
    }
    if (forgotten.length > 0) await redis.command.sseTasksPrune(key, ...forgotten);
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
