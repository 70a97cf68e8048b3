import type { Context } from 'koa';
import type { TaskRecord } from '../store/types';
import { hasTheEnd, UNREPLAYABLE } from '../streams/follower';
import { MAX_SET_ID_LENGTH, parseSetId, type Positions } from '../streams/set-id';
import { followOwnerTasks, TaskSet, type Visible } from '../streams/task-set';
import { lastEventIdOf } from './last-event-id';
import { failStream, openStream, setEventStreamHeaders, type Streaming } from './open-stream';

/**
 * `GET /tasks/events?ids=a,b,c`, every task already found and authorized (in `ids` order). A client that has every
 * task's terminal event gets 204; any other gets one stream for the set, which ends once every task has ended.
 */
export async function serveTaskSet(ctx: Context, records: TaskRecord[], streaming: Streaming): Promise<void> {
  const id = lastEventIdOf(ctx, MAX_SET_ID_LENGTH);
  const given = parseSetId(id);
  const tasks = records.map((record, index) => {
    const key = String(index);
    // A task the client's id gives no position for, when it gave one, cannot be replayed: a reset for it.
    const last = id === undefined ? undefined : given.has(key) ? given.get(key) || undefined : UNREPLAYABLE;
    return { key, taskId: record.snapshot.id, last, seen: hasTheEnd(record, last) };
  });
  const { stats } = streaming.streams;
  if (tasks.every((task) => task.seen)) {
    if (id !== undefined) stats.resumes.ended++;
    ctx.status = 204;
    return;
  }
  if (ctx.method === 'HEAD') return setEventStreamHeaders(ctx);

  const open = tasks.filter((task) => !task.seen);
  const stream = openStream(
    ctx,
    streaming,
    'set',
    open.map((task) => task.taskId),
  );
  const positions: Positions = new Map();
  for (const task of tasks) if (task.seen) positions.set(task.key, task.last!);
  const set = new TaskSet(stream, streaming.feeds, positions, true);
  for (const task of open) set.register(task.key, task.taskId);
  try {
    await Promise.all(open.map((task) => set.follow(task.key, task.last)));
    if (id !== undefined) stats.resumes[set.reset ? 'reset' : 'replayed']++;
  } catch (error) {
    failStream(ctx, stream, error);
  }
}

/**
 * `GET /tasks/events`: every task of `owner`, those started later included (by any process sharing the store).
 * The stream stays open until the client leaves or `close()`.
 */
export async function serveOwnerFeed(
  ctx: Context,
  owner: string,
  visible: Visible,
  streaming: Streaming,
): Promise<void> {
  if (ctx.method === 'HEAD') return setEventStreamHeaders(ctx);
  const id = lastEventIdOf(ctx, MAX_SET_ID_LENGTH);
  const stream = openStream(ctx, streaming, 'owner', []);
  const set = new TaskSet(stream, streaming.feeds, new Map(), false);
  const fail = (error: unknown): void => failStream(ctx, stream, error);
  try {
    await followOwnerTasks(set, streaming.feeds, owner, id, visible, fail);
    if (id !== undefined) streaming.streams.stats.resumes[set.reset ? 'reset' : 'replayed']++;
  } catch (error) {
    fail(error);
  }
}
