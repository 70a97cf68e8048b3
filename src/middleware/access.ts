import type { Context } from 'koa';
import { TaskError, TaskNotFoundError } from '../errors';
import type { TaskRecord } from '../store/types';
import type { ResolvedSseTasksOptions } from './options';
import { queryValues, quoted } from './query';

/** Ids we could have issued: UUIDs, and the ids of other queues (BullMQ). Anything else is a 400. */
const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** The most tasks one multiplexed stream follows (`?ids=`). */
export const MAX_IDS = 100;

/** Whether a request may see a task: the one place that asks the store and `authorize`. */
export interface TaskAccess {
  /** The task, for this request: 400 for a malformed id, 404 unknown, 403 when `authorize` says no. */
  find(ctx: Context, id: string): Promise<TaskRecord>;
  /** Whether `find` would give the task (the owner feed leaves out the tasks it would not). */
  visible(ctx: Context, id: string): Promise<boolean>;
}

export function taskAccess({ runner, authorize }: ResolvedSseTasksOptions): TaskAccess {
  const find = async (ctx: Context, id: string): Promise<TaskRecord> => {
    if (!TASK_ID.test(id)) {
      throw new TaskError('invalid_task_id', 'A task id is 1 to 128 letters, digits, or the characters _ . : -');
    }
    const record = await runner.store.read(id);
    if (record === undefined) throw new TaskNotFoundError(id);
    if (authorize !== undefined && (await authorize(ctx, record.snapshot)) !== true) {
      throw new TaskError('forbidden', `You may not access the task ${id}`);
    }
    return record;
  };
  const visible = async (ctx: Context, id: string): Promise<boolean> => {
    try {
      await find(ctx, id);
      return true;
    } catch (error) {
      if (error instanceof TaskError && (error.status === 403 || error.status === 404)) return false;
      throw error;
    }
  };
  return { find, visible };
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
      `Expected \`ids\` to be 1 to ${MAX_IDS} distinct task ids separated by commas, once, got ${quoted(raw)}`,
    );
  }
  return ids;
}
