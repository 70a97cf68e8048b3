import type { Context } from 'koa';
import { TaskError, TaskNotFoundError } from '../errors';
import type { TaskRecord } from '../store/types';
import type { ResolvedSseTasksOptions } from './options';
import { queryValues, quoted } from './query';

/** Ids we could have issued: UUIDs, and the ids of other queues (BullMQ). Anything else is a 400. */
const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** The most tasks one multiplexed stream follows (`?ids=`). */
export const MAX_IDS = 100;

/** Reads a task and checks the caller may see it: 400 for a malformed id, 404 unknown, 403 when `authorize` says no. */
export type TaskFinder = (ctx: Context, id: string) => Promise<TaskRecord>;

export function taskFinder({ runner, authorize }: ResolvedSseTasksOptions): TaskFinder {
  return async (ctx, id) => {
    if (!TASK_ID.test(id)) {
      throw new TaskError('invalid_task_id', 400, 'A task id is 1 to 128 letters, digits, or the characters _ . : -');
    }
    const record = await runner.store.read(id);
    if (record === undefined) throw new TaskNotFoundError(id);
    if (authorize !== undefined && (await authorize(ctx, record.snapshot)) !== true) {
      throw new TaskError('forbidden', 403, `You may not access the task ${id}`);
    }
    return record;
  };
}

/** The task ids of `?ids=a,b,c`, or `undefined` without `ids`; 400 unless 1 to 100 distinct well-formed ids. */
export function idsOf(ctx: Context): string[] | undefined {
  const [raw, again] = queryValues(ctx, 'ids');
  if (raw === undefined) return undefined;
  // At most 100 ids of 128 characters: a longer value is refused before it is split.
  const ids = again === undefined && raw.length <= MAX_IDS * 129 ? raw.split(',', MAX_IDS + 1) : [];
  if (
    ids.length === 0 ||
    ids.length > MAX_IDS ||
    new Set(ids).size !== ids.length ||
    !ids.every((id) => TASK_ID.test(id))
  ) {
    throw new TaskError(
      'invalid_ids',
      400,
      `Expected \`ids\` to be 1 to ${MAX_IDS} distinct task ids separated by commas, once, got ${quoted(raw)}`,
    );
  }
  return ids;
}
