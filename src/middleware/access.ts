import type { Context } from 'koa';
import { TaskError, TaskNotFoundError } from '../errors';
import type { TaskRecord } from '../store/types';
import type { TaskSnapshot } from '../types';
import type { Visible } from '../streams/task-set';
import type { ResolvedSseTasksOptions } from './options';
import { queryValue, queryValues, quoted } from './query';
import type { StreamTokens, TokenScope } from './tokens';

/** Ids we could have issued: UUIDs, and the ids of other queues (BullMQ). Anything else is a 400. */
const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** The most tasks one multiplexed stream follows (`?ids=`). */
export const MAX_IDS = 100;

/**
 * Whether a request may see a task: the one place that asks the store, `authorize` and the stream token. A read
 * request (GET, HEAD) with `?token=` is decided by the token alone: one whose scope covers the task authorizes it
 * without `authorize` (no cookie needed), any other is a 403, even beside a valid cookie. Other methods ignore it.
 */
export interface TaskAccess {
  /** The task, for this request: 400 for a malformed id, 404 unknown, 403 when `authorize` or the token says no. */
  find(ctx: Context, id: string): Promise<TaskRecord>;
  /** The tasks of `?ids=`, in that order: each as `find` gives it (a token of one task covers that task alone). */
  findAll(ctx: Context, ids: readonly string[]): Promise<TaskRecord[]>;
  /**
   * Whose tasks the owner feed carries for this request, and which of them it may see: the token's owner, or
   * `owner(ctx)`. 400 without the `owner` option, 401 when it names no one, 403 for a token of tasks rather than
   * of an owner.
   */
  feedOf(ctx: Context): Promise<{ owner: string; visible: Visible }>;
  /** Whether a replayed `POST` may answer the task its `Idempotency-Key` started: 403 when `authorize` says no. */
  mayReplay(ctx: Context, snapshot: TaskSnapshot): Promise<void>;
}

export function taskAccess(options: ResolvedSseTasksOptions, tokens: StreamTokens | undefined): TaskAccess {
  const { runner, authorize } = options;
  /** The scope of the request's token; `undefined` when it has none, or is not a read. */
  const scopeOf = (ctx: Context): TokenScope | undefined => {
    if (tokens === undefined || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return undefined;
    const token = queryValue(ctx, 'token');
    return token === undefined ? undefined : tokens.verify(token);
  };
  const read = async (id: string): Promise<TaskRecord> => {
    if (!TASK_ID.test(id)) {
      throw new TaskError('invalid_task_id', 'A task id is 1 to 128 letters, digits, or the characters _ . : -');
    }
    const record = await runner.store.read(id);
    if (record === undefined) throw new TaskNotFoundError(id);
    return record;
  };
  const check = async (ctx: Context, scope: TokenScope | undefined, record: TaskRecord): Promise<TaskRecord> => {
    const { id } = record.snapshot;
    if (scope !== undefined) {
      if (!covers(scope, record))
        throw new TaskError('invalid_token', `The stream token does not cover the task ${id}`);
    } else {
      await authorized(ctx, record.snapshot);
    }
    return record;
  };
  const authorized = async (ctx: Context, snapshot: TaskSnapshot): Promise<void> => {
    if (authorize !== undefined && (await authorize(ctx, snapshot)) !== true) {
      throw new TaskError('forbidden', `You may not access the task ${snapshot.id}`);
    }
  };
  return {
    async find(ctx, id) {
      const scope = scopeOf(ctx);
      return check(ctx, scope, await read(id));
    },
    async findAll(ctx, ids) {
      const scope = scopeOf(ctx);
      if (scope !== undefined && 'taskId' in scope && ids.length > 1) {
        throw new TaskError('invalid_token', 'The stream token covers one task: ask for it alone');
      }
      return Promise.all(ids.map(async (id) => check(ctx, scope, await read(id))));
    },
    async feedOf(ctx) {
      const scope = scopeOf(ctx);
      if (scope !== undefined) {
        if (!('owner' in scope)) throw new TaskError('invalid_token', 'The stream token is not for an owner feed');
        const { owner } = scope;
        return { owner, visible: async (id) => (await runner.store.read(id))?.snapshot.owner === owner };
      }
      if (options.owner === undefined) {
        throw new TaskError('ids_required', 'Give ?ids=a,b,c; the feed of all your tasks needs the `owner` option');
      }
      const owner = options.owner(ctx);
      if (owner === undefined)
        throw new TaskError('unauthenticated', 'The feed of your tasks needs to know who you are');
      const visible = async (id: string): Promise<boolean> => {
        const record = await runner.store.read(id);
        return record !== undefined && (authorize === undefined || (await authorize(ctx, record.snapshot)) === true);
      };
      return { owner, visible };
    },
    mayReplay: authorized,
  };
}

function covers(scope: TokenScope, { snapshot }: TaskRecord): boolean {
  if ('taskId' in scope) return scope.taskId === snapshot.id;
  if ('taskIds' in scope) return scope.taskIds.includes(snapshot.id);
  return snapshot.owner === scope.owner;
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
